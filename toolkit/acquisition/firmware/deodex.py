"""Unquicken Dalvik .odex code with baksmali's deodexer (Debian `libsmali-java`), when it is installed.

Dalvik's quickened instructions hold field offsets and vtable indices that only the boot class path explains.
baksmali (dexlib2) rebuilds the class hierarchy from the boot class path's odex files, runs a register type analysis
of every method and writes back `iget`/`invoke-virtual` ... with symbolic references; smali assembles the result.
The DEX obtained is instruction-equivalent to the original, not byte-identical (re-assembled). phonehome uses the
tools rather than re-implementing them: they are maintained, packaged in Debian, and the reference deodexer.

Speed: each tool run is a JVM start plus class loading and JIT warm-up (about 1 s each for a small app, two per
app). A `Session` runs both tools for every app of a firmware in one JVM (DeodexServer.java, started with Java's
source launcher against Debian's jars); without it, or when it cannot start, each app runs the two commands.
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from toolkit.acquisition.firmware.errors import FirmwareError

log = logging.getLogger(__name__)
TIMEOUT = 900
SERVER = Path(__file__).resolve().parent / "DeodexServer.java"
JAVA_DIR = Path("/usr/share/java")  # Debian's libsmali-java and its dependencies
JARS = ("baksmali", "smali", "dexlib2", "smali-util", "antlr3-runtime", "guava", "jcommander")
MARK = "@@phonehome "


def available() -> bool:
    return shutil.which("baksmali") is not None and shutil.which("smali") is not None


@functools.cache
def version() -> str:
    try:
        out = subprocess.run(["baksmali", "--version"], capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    m = re.search(r"baksmali (\S+)", out)
    return m.group(1) if m else "unknown"


def deodex(odex: str, boot: list[Path], api: int, label: str, session: Session | None = None) -> bytes:
    """The unquickened DEX of a Dalvik odex or an OAT entry (`file` or `file/location`), deodexed against the boot
    class path files `boot`; in `session`'s JVM when one is given and running."""
    if session is not None:
        got = session.deodex(odex, boot, api, label)
        if got is not None:
            return got
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
        _check_disassembly(res.returncode, res.stdout + res.stderr, label)
        out_dex = Path(tmp) / "classes.dex"
        try:
            res = subprocess.run(["smali", "assemble", "--api", str(api), str(smali_dir), "-o", str(out_dex)],
                                 capture_output=True, text=True, timeout=TIMEOUT)
        except (subprocess.TimeoutExpired, OSError) as e:
            raise FirmwareError(label, f"smali could not re-assemble the deodexed code: {e}") from e
        if res.returncode != 0 or not out_dex.is_file():
            raise FirmwareError(label, f"smali could not re-assemble the deodexed code: {_first_error(res.stderr)}")
        return out_dex.read_bytes()


def _check_disassembly(returncode: int, text: str, label: str) -> None:
    skipped = re.findall(r"disassembling class (\S+) - skipping class", text)
    if returncode != 0 or skipped:
        why = f"{len(skipped)} class(es) could not be deodexed" if skipped else _first_error(text)
        raise FirmwareError(label, f"baksmali deodex failed: {why}")


def _classpath() -> str | None:
    jars = [JAVA_DIR / f"{name}.jar" for name in JARS]
    return ":".join(str(j) for j in jars) if all(j.is_file() for j in jars) else None


class Session:
    """One JVM running baksmali and smali for every app of a firmware (see the module docstring). Started on the
    first job; a job the tools fail on ends that JVM (they call System.exit) and the next job starts a new one. If
    the JVM cannot run the server at all (no Java source launcher, other jars), deodex() returns None and the
    caller runs the commands instead."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.broken = _classpath() is None or shutil.which("java") is None
        self.jobs = 0  # jobs run in the JVM
        self.starts = 0  # JVMs started (one, unless a tool ended one on a failure)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[str]:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ph-deodex-")
        proc = subprocess.Popen(["java", "-cp", _classpath() or "", str(SERVER)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._lines = queue.Queue()
        lines = self._lines

        def pump() -> None:  # the JVM's output, line by line, to the queue; None at its end
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        self._proc = proc
        self.starts += 1
        return proc

    def deodex(self, odex: str, boot: list[Path], api: int, label: str) -> bytes | None:
        if self.broken:
            return None
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        assert self._tmp is not None and proc.stdin is not None
        job = next(self._ids)
        work = Path(self._tmp.name) / str(job)
        out_dex = work / "classes.dex"
        fields = [str(job), str(api), ":".join(str(b) for b in boot), odex, str(work / "smali"), str(out_dex)]
        if any("\t" in f or "\n" in f for f in fields):
            return None  # not expressible in the line protocol: the commands take it
        try:
            proc.stdin.write("\t".join(fields) + "\n")
            proc.stdin.flush()
        except OSError:
            self._stop()
            return None
        text: list[str] = []
        begun, disassembled, status = False, False, ""
        refused: FirmwareError | None = None
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._stop()
                raise FirmwareError(label, f"baksmali deodex took more than {TIMEOUT} s (time limit)") from None
            if line is None:  # the JVM ended: a tool gave up on this job (System.exit), or the server never ran
                self._proc = None
                if not begun:
                    self.broken = True
                    log.info("deodex server did not start (%s): running baksmali and smali per app",
                             _first_error("".join(text)))
                    return None
                status = status or "exit"
                break
            if line.startswith(MARK + "begin "):
                begun = True
                continue
            if line.startswith(MARK):
                word = line[len(MARK):].split(" ", 1)[0]
                if word == "disassembled":  # read on to this job's end, so the next job starts on its own lines
                    try:
                        _check_disassembly(0, "".join(text), label)
                    except FirmwareError as e:
                        refused = e
                    disassembled, text = True, []  # from here on, smali's output
                    continue
                status = word
                if word in ("end", "error"):
                    if word == "error":
                        text.append(line[len(MARK):])
                    break
            text.append(line)
        self.jobs += 1
        try:
            if refused is not None:
                raise refused
            if status != "end":
                if not disassembled:
                    _check_disassembly(1, "".join(text), label)  # raises with baksmali's reason
                raise FirmwareError(label, f"smali could not re-assemble the deodexed code: {_first_error(''.join(text))}")
            if not out_dex.is_file():
                raise FirmwareError(label, "smali wrote no DEX")
            return out_dex.read_bytes()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        if self._proc is not None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _first_error(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("at ") and "Exception in thread" not in line:
            return line[:300]
    return "no message"
