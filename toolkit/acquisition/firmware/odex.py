"""Dalvik optimized DEX (`.odex`, Android 2.2-4.4): `dey\\n035\\0` / `dey\\n036\\0` + DexOptHeader + DEX + deps + opt.

Layout from dalvik/libdex/DexFile.h (struct DexOptHeader, 40 bytes: magic[8], dexOffset, dexLength, depsOffset,
depsLength, optOffset, optLength, flags, checksum) and dalvik/vm/analysis/DexPrepare.cpp (the dependency table:
modWhen, crc, DALVIK_VM_BUILD, numDeps, then per boot class path entry a length, a NUL-terminated name and a
SHA-1; the checksum is Adler-32 over deps..opt end).

The DEX inside is whole but quickened by dexopt (field offsets, vtable indices, inline method numbers). Undoing
that needs the boot class path's class layouts (baksmali's deodexer); phonehome does not do that yet, so the
quickened instructions are neutralised and the app's result is partial (see quicken.py).
"""

from __future__ import annotations

import struct
import zlib

from toolkit.acquisition.firmware.errors import FirmwareError

DEY_MAGIC = b"dey\n"
OPT_HEADER = 40


def dex_from_odex(data: bytes, name: str) -> tuple[bytes, str]:
    """(the embedded DEX, odex version) of a Dalvik .odex file. Raises FirmwareError."""
    if data[:4] != DEY_MAGIC or len(data) < OPT_HEADER:
        raise FirmwareError(name, "not a Dalvik odex file")
    version = data[4:7].decode("ascii", "replace")
    if version not in ("035", "036"):
        raise FirmwareError(name, f"Dalvik odex version {version!r} is not 035 or 036")
    dex_off, dex_len = struct.unpack_from("<II", data, 8)
    if dex_off < OPT_HEADER or dex_off + dex_len > len(data) or dex_len < 0x70:
        raise FirmwareError(name, f"odex DEX ({dex_len} bytes at {dex_off}) lies outside the file")
    dex = data[dex_off : dex_off + dex_len]
    if dex[:4] != b"dex\n":
        raise FirmwareError(name, "odex has no DEX header at its dexOffset")
    return dex, version


def odex_dependencies(data: bytes) -> list[str]:
    """The boot class path the odex was optimized against (names from its dependency table)."""
    deps_off, deps_len = struct.unpack_from("<II", data, 16)
    if deps_off + 16 > len(data):
        return []
    (num,) = struct.unpack_from("<I", data, deps_off + 12)
    out, pos = [], deps_off + 16
    for _ in range(min(num, 512)):
        if pos + 4 > len(data):
            break
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n].rstrip(b"\0").decode("utf-8", "replace"))
        pos += 4 + n + 20
    return out


def write_odex(dex: bytes, deps: list[str] | None = None, version: str = "036") -> bytes:
    """A Dalvik odex as dexopt lays it out: header, DEX (at 40), deps (8-aligned), an empty opt chunk list."""
    deps = deps if deps is not None else ["/system/framework/core.jar", "/system/framework/framework.jar"]
    body = bytearray(dex)
    while (OPT_HEADER + len(body)) % 8:
        body.append(0)
    deps_off = OPT_HEADER + len(body)
    dep = bytearray(struct.pack("<IIII", 0, zlib.crc32(dex), 27, len(deps)))
    for d in deps:
        raw = d.encode() + b"\0"
        dep += struct.pack("<I", len(raw)) + raw + bytes(20)
    while len(dep) % 8:
        dep.append(0)
    opt = struct.pack("<II", 0x41454E44, 0)  # kDexChunkEnd 'AEND'
    opt_off = deps_off + len(dep)
    checksum = zlib.adler32(bytes(dep) + opt)
    head = b"dey\n" + version.encode() + b"\0" + struct.pack(
        "<IIIIIIII", OPT_HEADER, len(dex), deps_off, len(dep), opt_off, len(opt), 0, checksum)
    return head + bytes(body) + bytes(dep) + opt
