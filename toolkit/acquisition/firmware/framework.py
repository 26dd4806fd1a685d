"""Framework code as scanned units: services.jar, framework.jar and OEM jars of `*/framework/`.

Vendors have put data-sending code into the framework itself, so its jars get the same leak analysis as apps.
A jar has no AndroidManifest.xml, and the analysis reads APKs: the jar's DEX files (from the jar, or recovered
from its optimized files: `oat/<isa>/X.odex|vdex`, the boot image `<isa>/boot-X.oat|vdex`, or Dalvik `X.odex`)
are put in a wrapper zip with a minimal binary manifest whose package is `framework:<jar name>` — said in the
provenance chain so nobody takes it for a real package. The jar itself is kept and hashed as found.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from toolkit.acquisition.firmware.errors import FirmwareError

FRAMEWORK_DIRS = {"framework"}


def is_framework_jar(rel_parts: tuple[str, ...]) -> bool:
    """A jar directly in a `framework` folder of a partition (not in its oat/ or isa folders)."""
    return len(rel_parts) >= 2 and rel_parts[-2] in FRAMEWORK_DIRS and rel_parts[-1].endswith(".jar")


def optimized_for_jar(jar: Path) -> list[Path]:
    """Where a stripped framework jar's code may be: oat/<isa>/X.vdex|odex, <isa>/boot-X.vdex|oat (boot image;
    `boot.oat` for the first boot jar is not tied to a jar name and is not searched), and Dalvik X.odex."""
    stem = jar.stem
    d = jar.parent
    found: list[Path] = []
    oat = d / "oat"
    if oat.is_dir():
        found += sorted(oat.glob(f"*/{stem}.vdex")) + sorted(oat.glob(f"*/{stem}.odex"))
    for isa_dir in sorted(p for p in d.iterdir() if p.is_dir() and p.name != "oat"):
        found += [f for f in (isa_dir / f"boot-{stem}.vdex", isa_dir / f"boot-{stem}.oat") if f.is_file()]
    if (d / f"{stem}.odex").is_file():
        found.append(d / f"{stem}.odex")
    return [f for f in found if not f.is_symlink()]


def _axml_manifest(package: str) -> bytes:
    """A binary AndroidManifest.xml holding only <manifest package="...">, in the AAPT chunk format
    (frameworks/base/libs/androidfw/include/androidfw/ResourceTypes.h: ResStringPool, ResXMLTree_node ...)."""
    strings = ["manifest", "package", package]
    pool = bytearray()
    offsets = []
    for s in strings:
        raw = s.encode("utf-8")
        if len(raw) > 0x7F:
            raise ValueError("name too long for the minimal manifest")
        offsets.append(len(pool))
        pool += bytes([len(s), len(raw)]) + raw + b"\0"
    while len(pool) % 4:
        pool.append(0)
    sp_header = 28
    strings_start = sp_header + 4 * len(strings)
    sp = struct.pack("<HHIIIIII", 0x0001, sp_header, strings_start + len(pool), len(strings), 0, 0x100,
                     strings_start, 0) + b"".join(struct.pack("<I", o) for o in offsets) + bytes(pool)
    attr = struct.pack("<iIIHBBI", -1, 1, 2, 8, 0, 0x03, 2)  # package = strings[2], a string value
    start = struct.pack("<HHIIi", 0x0102, 16, 16 + 20 + len(attr), 1, -1)
    start += struct.pack("<iIHHHHHH", -1, 0, 20, 20, 1, 0, 0, 0) + attr
    end = struct.pack("<HHIIiiI", 0x0103, 16, 24, 1, -1, -1, 0)
    body = sp + start + end
    return struct.pack("<HHI", 0x0003, 8, 8 + len(body)) + body


def wrap_jar(jar: Path, dexes: list[bytes], out: Path) -> str:
    """Write a zip with a minimal manifest and the DEX files; returns the package name used."""
    package = f"framework:{jar.name}"
    try:
        with zipfile.ZipFile(out, "w") as z:
            z.writestr(zipfile.ZipInfo("AndroidManifest.xml", date_time=(2008, 1, 1, 0, 0, 0)), _axml_manifest(package))
            for i, dex in enumerate(dexes):
                name = "classes.dex" if i == 0 else f"classes{i + 1}.dex"
                z.writestr(zipfile.ZipInfo(name, date_time=(2008, 1, 1, 0, 0, 0)), dex, zipfile.ZIP_DEFLATED)
    except (OSError, ValueError) as e:
        raise FirmwareError(str(jar), f"could not wrap the framework jar's code: {e}") from e
    return package


def jar_dexes(jar: Path) -> list[bytes]:
    """The classes*.dex of a jar, in order ([] for a stripped jar)."""
    try:
        with zipfile.ZipFile(jar) as z:
            names = [n for n in z.namelist() if n.startswith("classes") and n.endswith(".dex")]
            names.sort(key=lambda n: int(n[7:-4] or 1) if n[7:-4].isdigit() or not n[7:-4] else 1 << 30)
            return [z.read(n) for n in names]
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise FirmwareError(str(jar), f"damaged jar: {e}") from e
