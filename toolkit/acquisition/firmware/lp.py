"""super.img dynamic partitions (liblp metadata): geometry at 4096, metadata header 10.0 to 10.2, A/B slots.

Each logical partition becomes a MappedDev over the super device (nothing is copied). Our own reader:
no maintained PyPI package parses liblp metadata.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from toolkit.acquisition.firmware.dev import Dev, MappedDev, Piece, u32
from toolkit.acquisition.firmware.errors import FirmwareError

GEOMETRY_OFFSET = 4096
GEOMETRY_SIZE = 4096
GEOMETRY_MAGIC = 0x616C4467
HEADER_MAGIC = 0x414C5030
SECTOR = 512
TARGET_LINEAR, TARGET_ZERO = 0, 1


@dataclass
class LpPartition:
    name: str
    group: str
    attributes: int
    dev: MappedDev | None
    size: int
    error: str | None = None


@dataclass
class LpMetadata:
    major: int
    minor: int
    slot_count: int
    partitions: list[LpPartition]
    block_devices: list[str]


def is_super(dev: Dev) -> bool:
    return dev.size >= GEOMETRY_OFFSET + 8 and u32(dev.read(GEOMETRY_OFFSET, 4), 0) == GEOMETRY_MAGIC


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def _geometry(dev: Dev) -> tuple[int, int, int]:
    errors = []
    for off in (GEOMETRY_OFFSET, GEOMETRY_OFFSET + GEOMETRY_SIZE):
        g = dev.read(off, 52)
        magic, struct_size = struct.unpack_from("<II", g, 0)
        checksum = g[8:40]
        max_size, slots, lbs = struct.unpack_from("<III", g, 40)
        if magic != GEOMETRY_MAGIC:
            errors.append("bad magic")
            continue
        if struct_size < 52 or struct_size > GEOMETRY_SIZE:
            errors.append("bad size")
            continue
        body = bytearray(dev.read(off, struct_size))
        body[8:40] = b"\0" * 32
        if hashlib.sha256(body).digest() != checksum:
            errors.append("checksum mismatch")
            continue
        if max_size == 0 or max_size % SECTOR or slots == 0 or slots > 8:
            errors.append("impossible values")
            continue
        return max_size, slots, lbs
    raise FirmwareError(dev.name, f"super image geometry is damaged ({', '.join(errors)})")


def _table(tables: bytes, desc: tuple[int, int, int], min_entry: int, what: str, name: str) -> list[bytes]:
    off, num, esize = desc
    if esize < min_entry or off + num * esize > len(tables):
        raise FirmwareError(name, f"super metadata {what} table is out of bounds")
    return [tables[off + i * esize : off + (i + 1) * esize] for i in range(num)]


def read_metadata(dev: Dev, slot: int = 0) -> LpMetadata:
    """Parse one slot's metadata (primary copy, falling back to the backup copy)."""
    name = dev.name
    max_size, slots, _lbs = _geometry(dev)
    primary = GEOMETRY_OFFSET + 2 * GEOMETRY_SIZE + slot * max_size
    backup = GEOMETRY_OFFSET + 2 * GEOMETRY_SIZE + slots * max_size + slot * max_size
    last_error = ""
    for off in (primary, backup):
        try:
            return _parse_header(dev, off, max_size, slots, name)
        except FirmwareError as e:
            last_error = e.reason
    raise FirmwareError(name, f"super metadata slot {slot}: {last_error}")


def _parse_header(dev: Dev, off: int, max_size: int, slots: int, name: str) -> LpMetadata:
    h = dev.read(off, 128)
    magic, major, minor, header_size = struct.unpack_from("<IHHI", h, 0)
    if magic != HEADER_MAGIC:
        raise FirmwareError(name, "bad metadata header magic")
    if major != 10 or minor > 2:
        raise FirmwareError(name, f"super metadata version {major}.{minor} is not supported (10.0 to 10.2 are)")
    if header_size < 128 or header_size > 1024:
        raise FirmwareError(name, "impossible metadata header size")
    hdr = bytearray(dev.read(off, header_size))
    hcheck = bytes(hdr[12:44])
    hdr[12:44] = b"\0" * 32
    if hashlib.sha256(hdr).digest() != hcheck:
        raise FirmwareError(name, "metadata header checksum mismatch")
    tables_size = u32(bytes(hdr), 44)
    tcheck = bytes(hdr[48:80])
    if header_size + tables_size > max_size:
        raise FirmwareError(name, "metadata tables larger than the metadata area")
    tables = dev.read(off + header_size, tables_size)
    if hashlib.sha256(tables).digest() != tcheck:
        raise FirmwareError(name, "metadata tables checksum mismatch")
    descs = [struct.unpack_from("<III", hdr, 80 + 12 * i) for i in range(4)]
    parts = _table(tables, descs[0], 52, "partition", name)
    extents = _table(tables, descs[1], 24, "extent", name)
    groups = _table(tables, descs[2], 48, "group", name)
    bdevs = _table(tables, descs[3], 64, "block device", name)
    group_names = [_cstr(g[:36]) for g in groups]
    bdev_names = [_cstr(b[24:60]) for b in bdevs]
    out: list[LpPartition] = []
    for p in parts:
        pname = _cstr(p[:36])
        attrs, first, num, gidx = struct.unpack_from("<IIII", p, 36)
        if first + num > len(extents):
            raise FirmwareError(name, f"partition '{pname}' points at extents that do not exist")
        pieces: list[Piece] = []
        pos = 0
        error = None
        for e in extents[first : first + num]:
            sectors, ttype, target, source = struct.unpack_from("<QIQI", e, 0)
            length = sectors * SECTOR
            if ttype == TARGET_LINEAR:
                if source != 0:
                    other = bdev_names[source] if source < len(bdev_names) else str(source)
                    error = f"lies on another block device ('{other}'): only single-device super images are read"
                elif (target * SECTOR) + length > dev.size:
                    error = "claims sectors beyond the end of the super image (truncated or damaged)"
                else:
                    pieces.append(Piece(pos, length, dev, target * SECTOR))
            elif ttype != TARGET_ZERO:
                error = f"has an unknown extent type {ttype}"
            pos += length
        group = group_names[gidx] if gidx < len(group_names) else str(gidx)
        mdev = MappedDev(f"{name}:{pname}", pos, pieces) if pos and error is None else None
        out.append(LpPartition(pname, group, attrs, mdev, pos, error))
    return LpMetadata(major, minor, slots, out, bdev_names)
