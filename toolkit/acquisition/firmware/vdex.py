"""Recovering DEX code of stripped (odexed) apps from vdex files.

Android 12+ (vdex version 027) stores the app's DEX files verbatim in the vdex "dex file section", so the
code can be recovered in Python. Older vdex (006-021) may hold quickened or compact DEX, and plain .odex
(oat ELF) files need ART's own tools: for those phonehome says "code not recoverable offline".
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from toolkit.acquisition.firmware.errors import FirmwareError

VDEX_MAGIC = b"vdex"
SECTION_CHECKSUM, SECTION_DEX, SECTION_VERIFIER_DEPS, SECTION_TYPE_LOOKUP = 0, 1, 2, 3


def vdex_version(head: bytes) -> str | None:
    """'027' for a vdex header, None if head is not a vdex file."""
    if head[:4] != VDEX_MAGIC or len(head) < 8:
        return None
    return head[4:8].rstrip(b"\0").decode("ascii", "replace")


def dex_from_vdex(data: bytes, name: str) -> list[bytes]:
    """The DEX files stored in a vdex 027 file. Raises FirmwareError for other versions or damage."""
    version = vdex_version(data)
    if version is None:
        raise FirmwareError(name, "not a vdex file")
    if version != "027":
        raise FirmwareError(name, f"vdex version {version} (only vdex 027, Android 12+, stores DEX verbatim)")
    if len(data) < 12:
        raise FirmwareError(name, "vdex header is truncated")
    (nsections,) = struct.unpack_from("<I", data, 8)
    if nsections > 64 or 12 + nsections * 12 > len(data):
        raise FirmwareError(name, f"vdex claims {nsections} sections")
    sections = {}
    for i in range(nsections):
        kind, off, size = struct.unpack_from("<III", data, 12 + i * 12)
        if off + size > len(data):
            raise FirmwareError(name, f"vdex section {kind} lies past the end of the file")
        sections[kind] = (off, size)
    if SECTION_CHECKSUM not in sections or SECTION_DEX not in sections:
        raise FirmwareError(name, "vdex has no checksum or dex section")
    count = sections[SECTION_CHECKSUM][1] // 4
    off, size = sections[SECTION_DEX]
    if size == 0:
        raise FirmwareError(name, "vdex holds no DEX (the app keeps its code elsewhere): code not recoverable offline")
    out = []
    pos = off
    for i in range(count):
        pos = (pos + 3) & ~3
        if pos + 0x70 > off + size:
            raise FirmwareError(name, f"vdex dex file {i} header lies past the dex section")
        if data[pos : pos + 4] != b"dex\n":
            raise FirmwareError(name, f"vdex dex file {i} has no DEX magic (compact or damaged DEX)")
        (dsize,) = struct.unpack_from("<I", data, pos + 32)
        if dsize < 0x70 or pos + dsize > off + size:
            raise FirmwareError(name, f"vdex dex file {i} claims {dsize} bytes past the dex section")
        out.append(data[pos : pos + dsize])
        pos += dsize
    return out


def rebuild_apk(apk: Path, dexes: list[bytes], out: Path) -> None:
    """Write a copy of apk with the recovered classes*.dex added (original entries kept byte for byte)."""
    try:
        with zipfile.ZipFile(apk) as src, zipfile.ZipFile(out, "w") as dst:
            names = set(src.namelist())
            for info in src.infolist():
                dst.writestr(info, src.read(info.filename))
            for i, dex in enumerate(dexes):
                dname = "classes.dex" if i == 0 else f"classes{i + 1}.dex"
                if dname in names:
                    continue
                dst.writestr(zipfile.ZipInfo(dname, date_time=(2008, 1, 1, 0, 0, 0)), dex, zipfile.ZIP_DEFLATED)
    except (zipfile.BadZipFile, OSError) as e:
        raise FirmwareError(str(apk), f"could not rebuild the APK with recovered DEX: {e}") from e


def write_vdex027(dexes: list[bytes]) -> bytes:
    """A minimal vdex 027 file holding dexes (used by tests and the bench to build fixtures)."""
    checksums = b"".join(struct.pack("<I", struct.unpack_from("<I", d, 8)[0]) for d in dexes)
    nsec = 4
    header_len = 12 + nsec * 12
    cs_off = header_len
    dex_off = (cs_off + len(checksums) + 3) & ~3
    body = bytearray()
    for d in dexes:
        while len(body) % 4:
            body.append(0)
        body += d
    deps_off = dex_off + len(body)
    out = bytearray(b"vdex027\0" + struct.pack("<I", nsec))
    out += struct.pack("<III", SECTION_CHECKSUM, cs_off, len(checksums))
    out += struct.pack("<III", SECTION_DEX, dex_off, len(body))
    out += struct.pack("<III", SECTION_VERIFIER_DEPS, deps_off, 0)
    out += struct.pack("<III", SECTION_TYPE_LOOKUP, deps_off, 0)
    out += checksums
    while len(out) < dex_off:
        out.append(0)
    out += body
    return bytes(out)
