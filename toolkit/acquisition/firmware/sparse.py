"""Android sparse images (magic 0xED26FF3A), read in place as a MappedDev (never expanded to disk).

Format (libsparse): a 28-byte header, then chunks of RAW data, FILL (a 4-byte pattern), DONT_CARE
(unmapped: zeros) or CRC32. A set of split images (super.img_sparsechunk.0..N) is several sparse files
that each map part of the same output; they are merged into one device. Our own reader because no
maintained PyPI package reads sparse images in place.
"""

from __future__ import annotations

import struct

from toolkit.acquisition.firmware.dev import Dev, MappedDev, Piece
from toolkit.acquisition.firmware.errors import FirmwareError

SPARSE_MAGIC = 0xED26FF3A
CHUNK_RAW, CHUNK_FILL, CHUNK_DONT_CARE, CHUNK_CRC32 = 0xCAC1, 0xCAC2, 0xCAC3, 0xCAC4
MAX_CHUNKS = 10_000_000


def is_sparse(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head, 0)[0] == SPARSE_MAGIC


def sparse_pieces(src: Dev) -> tuple[int, list[Piece]]:
    """Parse one sparse file: (expanded size in bytes, mapped pieces). Raises FirmwareError on damage."""
    name = src.name
    if src.size < 28:
        raise FirmwareError(name, "too short for a sparse image header")
    hdr = src.read(0, 28)
    magic, major, _minor, file_hdr_sz, chunk_hdr_sz, blk_sz, total_blks, total_chunks, _crc = struct.unpack(
        "<IHHHHIIII", hdr
    )
    if magic != SPARSE_MAGIC:
        raise FirmwareError(name, "not an Android sparse image (bad magic)")
    if major != 1:
        raise FirmwareError(name, f"sparse image major version {major} is not supported (only 1)")
    if file_hdr_sz < 28 or chunk_hdr_sz < 12 or blk_sz == 0 or blk_sz % 4:
        raise FirmwareError(name, "sparse image header has impossible sizes")
    if total_chunks > MAX_CHUNKS:
        raise FirmwareError(name, f"sparse image claims {total_chunks} chunks")
    pieces: list[Piece] = []
    pos = file_hdr_sz
    blk = 0
    for i in range(total_chunks):
        if pos + chunk_hdr_sz > src.size:
            raise FirmwareError(name, f"sparse chunk {i} of {total_chunks} lies past the end of the file (truncated)")
        ctype, _res, chunk_sz, total_sz = struct.unpack("<HHII", src.read(pos, 12))
        data_off = pos + chunk_hdr_sz
        data_len = total_sz - chunk_hdr_sz
        length = chunk_sz * blk_sz
        if blk + chunk_sz > total_blks:
            raise FirmwareError(name, f"sparse chunk {i} maps blocks past the declared {total_blks} blocks")
        if ctype == CHUNK_RAW:
            if data_len != length:
                raise FirmwareError(name, f"sparse raw chunk {i} size mismatch ({data_len} != {length})")
            if data_off + data_len > src.size:
                raise FirmwareError(
                    name, f"sparse raw chunk {i} claims {data_len} bytes past the end of the file (truncated)"
                )
            pieces.append(Piece(blk * blk_sz, length, src, data_off))
        elif ctype == CHUNK_FILL:
            if data_len != 4:
                raise FirmwareError(name, f"sparse fill chunk {i} has {data_len} bytes of data, not 4")
            fill = src.read(data_off, 4)
            pieces.append(Piece(blk * blk_sz, length, None, 0, fill))
        elif ctype == CHUNK_DONT_CARE:
            pass
        elif ctype == CHUNK_CRC32:
            length = 0
            chunk_sz = 0
        else:
            raise FirmwareError(name, f"sparse chunk {i} has unknown type 0x{ctype:04x}")
        blk += chunk_sz
        pos = data_off + data_len
    return total_blks * blk_sz, pieces


def open_sparse(srcs: list[Dev], name: str) -> MappedDev:
    """One device from one sparse file, or from a split set whose parts map disjoint ranges."""
    size = 0
    pieces: list[Piece] = []
    for s in srcs:
        sz, ps = sparse_pieces(s)
        size = max(size, sz)
        pieces.extend(ps)
    return MappedDev(name, size, pieces, owns=True)
