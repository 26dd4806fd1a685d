"""Unquicken Dalvik .odex code with baksmali's deodexer (Debian `libsmali-java`), when it is installed.

Dalvik's quickened instructions hold field offsets and vtable indices that only the boot class path explains.
baksmali (dexlib2) rebuilds the class hierarchy from the boot class path's odex files, runs a register type analysis
of every method and writes back `iget`/`invoke-virtual` ... with symbolic references; smali assembles the result.
The DEX obtained is instruction-equivalent to the original, not byte-identical (re-assembled). phonehome uses the
tools rather than re-implementing them: they are maintained, packaged in Debian, and the reference deodexer.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from toolkit.acquisition.firmware.errors import FirmwareError

TIMEOUT = 900


def available() -> bool:
    return shutil.which("baksmali") is not None and shutil.which("smali") is not None


def version() -> str:
    try:
        out = subprocess.run(["baksmali", "--version"], capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    m = re.search(r"baksmali (\S+)", out)
    return m.group(1) if m else "unknown"


def deodex(odex: str, boot: list[Path], api: int, label: str) -> bytes:
    """The unquickened DEX of a Dalvik odex or an OAT entry (`file` or `file/location`), deodexed against the boot
    class path files `boot`."""
    with tempfile.TemporaryDirectory(prefix="ph-deodex-") as tmp:
        smali_dir = Path(tmp) / "smali"
        cmd = ["baksmali", "deodex", "-a", str(api), "-b", ":".join(str(b) for b in boot), odex,
               "-o", str(smali_dir)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise FirmwareError(label, f"baksmali deodex took more than {TIMEOUT} s (time limit)") from e
        except OSError as e:
            raise FirmwareError(label, f"baksmali could not run: {e}") from e
        text = res.stdout + res.stderr
        skipped = re.findall(r"disassembling class (\S+) - skipping class", text)
        if res.returncode != 0 or skipped:
            why = f"{len(skipped)} class(es) could not be deodexed" if skipped else _first_error(text)
            raise FirmwareError(label, f"baksmali deodex failed: {why}")
        out_dex = Path(tmp) / "classes.dex"
        try:
            res = subprocess.run(["smali", "assemble", "--api", str(api), str(smali_dir), "-o", str(out_dex)],
                                 capture_output=True, text=True, timeout=TIMEOUT)
        except (subprocess.TimeoutExpired, OSError) as e:
            raise FirmwareError(label, f"smali could not re-assemble the deodexed code: {e}") from e
        if res.returncode != 0 or not out_dex.is_file():
            raise FirmwareError(label, f"smali could not re-assemble the deodexed code: {_first_error(res.stderr)}")
        return out_dex.read_bytes()


def _first_error(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("at ") and "Exception in thread" not in line:
            return line[:300]
    return "no message"
