"""A/B OTA payload.bin (magic 'CrAU'): full payloads, read in place, every data hash verified.

Supported operations: REPLACE, REPLACE_BZ, REPLACE_XZ, ZSTD, ZERO, DISCARD. Incremental payloads
(operations that read the source image: SOURCE_COPY, *DIFF ...) are refused with a clear message.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import logging
import lzma
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import zstandard

from toolkit.acquisition.firmware.dev import Dev
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.limits import Budget
from toolkit.acquisition.firmware.protobuf import ProtobufError, all_bytes, decode, first_bytes, first_int

log = logging.getLogger(__name__)

PAYLOAD_MAGIC = b"CrAU"
REPLACE, REPLACE_BZ, MOVE, BSDIFF, SOURCE_COPY, SOURCE_BSDIFF, ZERO, DISCARD, REPLACE_XZ = range(9)
PUFFDIFF, BROTLI_BSDIFF, ZUCCHINI, LZ4DIFF_BSDIFF, LZ4DIFF_PUFFDIFF, ZSTD = range(9, 15)
OP_NAMES = {
    0: "REPLACE", 1: "REPLACE_BZ", 2: "MOVE", 3: "BSDIFF", 4: "SOURCE_COPY", 5: "SOURCE_BSDIFF", 6: "ZERO",
    7: "DISCARD", 8: "REPLACE_XZ", 9: "PUFFDIFF", 10: "BROTLI_BSDIFF", 11: "ZUCCHINI", 12: "LZ4DIFF_BSDIFF",
    13: "LZ4DIFF_PUFFDIFF", 14: "ZSTD",
}
FULL_OPS = {REPLACE, REPLACE_BZ, REPLACE_XZ, ZSTD, ZERO, DISCARD}
MAX_OP_BYTES = 512 << 20


@dataclass
class Operation:
    type: int
    data_offset: int
    data_length: int
    dst: list[tuple[int, int]]
    data_sha256: bytes
    has_src: bool


@dataclass
class PartitionUpdate:
    name: str
    size: int
    sha256: bytes
    old_size: int
    ops: list[Operation] = field(default_factory=list)


@dataclass
class Payload:
    dev: Dev
    version: int
    block_size: int
    data_offset: int
    minor_version: int
    partitions: list[PartitionUpdate]


def is_payload(head: bytes) -> bool:
    return head[:4] == PAYLOAD_MAGIC


def _extents(raw: list[bytes]) -> list[tuple[int, int]]:
    out = []
    for e in raw:
        f = decode(e)
        out.append((first_int(f, 1), first_int(f, 2)))
    return out


def open_payload(dev: Dev) -> Payload:
    """Parse the header and manifest; refuse incremental payloads."""
    name = dev.name
    if dev.size < 24:
        raise FirmwareError(name, "too short for a payload header")
    head = dev.read(0, 24)
    if head[:4] != PAYLOAD_MAGIC:
        raise FirmwareError(name, "not a payload.bin (bad magic)")
    version, manifest_size = struct.unpack_from(">QQ", head, 4)
    if version == 1:
        hdr_len, sig_size = 20, 0
    elif version == 2:
        hdr_len, sig_size = 24, struct.unpack_from(">I", head, 20)[0]
    else:
        raise FirmwareError(name, f"payload format version {version} is not supported (1 and 2 are)")
    if hdr_len + manifest_size + sig_size > dev.size or manifest_size > 256 << 20:
        raise FirmwareError(name, f"payload manifest claims {manifest_size} bytes, more than the file holds")
    try:
        m = decode(dev.read(hdr_len, manifest_size))
        block_size = first_int(m, 3, 4096)
        minor = first_int(m, 12, 0)
        parts: list[PartitionUpdate] = []
        for raw in all_bytes(m, 13):
            p = decode(raw)
            pname = first_bytes(p, 1).decode("utf-8", "replace")
            new_info = decode(first_bytes(p, 7))
            old_info = decode(first_bytes(p, 6))
            pu = PartitionUpdate(pname, first_int(new_info, 1), first_bytes(new_info, 2), first_int(old_info, 1))
            for rop in all_bytes(p, 8):
                o = decode(rop)
                pu.ops.append(
                    Operation(
                        first_int(o, 1), first_int(o, 2), first_int(o, 3), _extents(all_bytes(o, 6)),
                        first_bytes(o, 8), bool(o.get(4)),
                    )
                )
            parts.append(pu)
    except ProtobufError as e:
        raise FirmwareError(name, f"payload manifest is damaged: {e}") from e
    if block_size <= 0 or block_size % 512:
        raise FirmwareError(name, f"payload block size {block_size} is impossible")
    if not parts and (m.get(1) or m.get(2)):
        raise FirmwareError(name, "payload uses the pre-2017 install_operations layout, which is not supported")
    for pu in parts:
        bad = [op for op in pu.ops if op.type not in FULL_OPS or op.has_src]
        if bad or pu.old_size:
            what = OP_NAMES.get(bad[0].type, str(bad[0].type)) if bad else "old partition info"
            raise FirmwareError(
                name,
                f"incremental OTA: partition '{pu.name}' needs the source image ({what}); "
                "phonehome reads full OTAs only: use the full OTA or factory image of this build",
            )
    return Payload(dev, version, block_size, hdr_len + manifest_size + sig_size, minor, parts)


class _OpData(io.RawIOBase):
    """One operation's data blob, read in place from payload.bin in pieces, hashed and counted as it goes."""

    def __init__(self, dev: Dev, off: int, length: int) -> None:
        self.dev, self.off, self.left = dev, off, length
        self.count = 0
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left, 1 << 20)
        if n <= 0:
            return 0
        data = self.dev.read(self.off + self.count, n)
        b[: len(data)] = data
        self.sha.update(data)
        self.count += len(data)
        self.left -= len(data)
        return len(data)

    def drain(self) -> None:
        """Hash what the decompressor did not read (the hash covers the whole blob)."""
        while self.read(1 << 20):
            pass


def _reader(kind: int, raw: _OpData) -> BinaryIO:
    """A streaming reader of one operation's output: nothing is ever held whole in memory."""
    src = cast(BinaryIO, raw)
    if kind == REPLACE_BZ:
        return cast(BinaryIO, bz2.BZ2File(src))
    if kind == REPLACE_XZ:
        return cast(BinaryIO, lzma.LZMAFile(src))
    if kind == ZSTD:
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True))
    return src


def _write_op(kind: int, raw: _OpData, fd: int, dst: list[tuple[int, int]], bs: int, budget: Budget, label: str) -> None:
    """Decompress one operation into its destination extents, streaming, with the size and bomb checks.

    An operation must give exactly the bytes its extents hold; a blob that expands far beyond its compressed
    size (a ZSTD frame of gigabytes of zeros) is stopped by the ratio check before it fills disk or memory.
    """
    want = sum(n for _s, n in dst) * bs
    extents = [(s * bs, n * bs) for s, n in dst]
    reader = _reader(kind, raw)
    produced = 0
    i, pos = 0, 0  # current extent and offset inside it
    try:
        while True:
            chunk = reader.read(min(4 << 20, want + 1 - produced))
            if not chunk:
                break
            produced += len(chunk)
            if produced > want:
                raise FirmwareError(label, f"{OP_NAMES[kind]} data gives more than the {want} bytes of its extents")
            budget.check_ratio(produced, raw.count, label)
            view = memoryview(chunk)
            while view:
                start, size = extents[i]
                n = min(size - pos, len(view))
                os.pwrite(fd, view[:n], start + pos)
                view = view[n:]
                pos += n
                if pos == size:
                    i, pos = i + 1, 0
    except (OSError, lzma.LZMAError, zstandard.ZstdError, EOFError, ValueError) as e:
        raise FirmwareError(label, f"{OP_NAMES[kind]} data does not decompress: {e}") from e
    if produced != want:
        raise FirmwareError(label, f"{OP_NAMES[kind]} data gives {produced} bytes, expected {want}")


def extract_partition(pl: Payload, pu: PartitionUpdate, out: Path, budget: Budget) -> None:
    """Write partition pu as a raw image to out, verifying operation and partition hashes."""
    label = f"{pl.dev.name}:{pu.name}"
    bs = pl.block_size
    budget.check_file_size(pu.size, label)
    budget.take(pu.size, label)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        os.ftruncate(fd, pu.size)
        for i, op in enumerate(pu.ops):
            for s, n in op.dst:
                if (s + n) * bs > pu.size:
                    raise FirmwareError(label, f"operation {i} writes past the partition's {pu.size} bytes")
            if op.type in (ZERO, DISCARD):
                continue  # the file is already zero-filled (a hole)
            if op.data_length > MAX_OP_BYTES:
                raise FirmwareError(label, f"operation {i} claims {op.data_length} bytes of data")
            if pl.data_offset + op.data_offset + op.data_length > pl.dev.size:
                raise FirmwareError(label, f"operation {i} data lies past the end of payload.bin (truncated)")
            raw = _OpData(pl.dev, pl.data_offset + op.data_offset, op.data_length)
            try:
                _write_op(op.type, raw, fd, op.dst, bs, budget, f"{label} operation {i}")
            finally:
                raw.drain()
                if op.data_sha256 and raw.sha.digest() != op.data_sha256:
                    # Said instead of any decompression error: damaged or altered data is the root cause.
                    raise FirmwareError(label, f"operation {i} ({OP_NAMES[op.type]}) data hash does not match the manifest")
        if pu.sha256:
            h = hashlib.sha256()
            with open(out, "rb") as f:
                while True:
                    c = f.read(8 << 20)
                    if not c:
                        break
                    h.update(c)
            if h.digest() != pu.sha256:
                raise FirmwareError(label, "partition hash does not match the manifest (damaged payload)")
    finally:
        os.close(fd)
