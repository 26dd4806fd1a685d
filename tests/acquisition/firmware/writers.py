"""Small writers of real firmware formats, for tests and the bench.

File systems are made by the real Debian tools (mke2fs, mkfs.erofs, img2simg); the container formats
that have no packaged writer (liblp super, payload.bin, transfer lists, tar.md5, sparse chunk sets,
vdex 027) are written here from their specifications, with fixed times and UUIDs so builds reproduce.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import shutil
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import brotli
import lz4.frame
import zstandard

from toolkit.acquisition.firmware.protobuf import enc_bytes, enc_int

UUID = "5e1f0000-0000-4000-8000-00000000c0de"
FAKE_TIME = "1700000000"
BLOCK = 4096


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def make_ext4(src: Path, out: Path, size_mb: int = 16, extra: tuple[str, ...] = (), fs_type: str = "ext4",
              shared_blocks: bool = False, block_size: int = 4096) -> Path:
    """A real ext4 image of the folder src (mke2fs -d), reproducible (fixed UUID, hash seed and time)."""
    env = dict(os.environ, E2FSPROGS_FAKE_TIME=FAKE_TIME)
    cmd = ["mke2fs", "-q", "-F", "-t", fs_type, "-b", str(block_size), "-U", UUID, "-E", f"hash_seed={UUID}",
           "-O", "^has_journal", *extra, "-d", str(src), str(out), f"{size_mb}M"]
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    if shared_blocks:
        subprocess.run(["debugfs", "-w", "-R", "feature shared_blocks", str(out)], check=True, capture_output=True)
    return out


def make_erofs(src: Path, out: Path, compress: str | None = "lz4hc") -> Path:
    cmd = ["mkfs.erofs", "-T", FAKE_TIME, "-U", UUID]
    if compress:
        cmd.append(f"-z{compress}")
    subprocess.run([*cmd, str(out), str(src)], check=True, capture_output=True)
    return out


def img2simg(raw: Path, out: Path) -> Path:
    subprocess.run(["img2simg", str(raw), str(out)], check=True, capture_output=True)
    return out


# -- Android sparse (our own writer, for split chunk sets) ---------------------------------------
def write_sparse(data: bytes, out: Path, start_block: int = 0, end_block: int | None = None,
                 total_blocks: int | None = None, blk: int = BLOCK) -> Path:
    """A sparse image mapping data[start:end] as RAW, the rest DONT_CARE (like sparsechunk files)."""
    total = total_blocks if total_blocks is not None else len(data) // blk
    end = end_block if end_block is not None else total
    chunks = []
    if start_block:
        chunks.append(struct.pack("<HHII", 0xCAC3, 0, start_block, 12))
    raw = data[start_block * blk : end * blk]
    chunks.append(struct.pack("<HHII", 0xCAC1, 0, end - start_block, 12 + len(raw)) + raw)
    if end < total:
        chunks.append(struct.pack("<HHII", 0xCAC3, 0, total - end, 12))
    hdr = struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28, 12, blk, total, len(chunks), 0)
    out.write_bytes(hdr + b"".join(chunks))
    return out


# -- liblp super ------------------------------------------------------------------------------
def write_super(out: Path, parts: list[tuple[str, bytes]], slots: int = 2, minor: int = 0,
                empty: tuple[str, ...] = (), corrupt_tables: bool = False) -> Path:
    """A super.img (metadata 10.minor) holding parts, plus empty partitions (no extents, e.g. *_b)."""
    max_size = 65536
    sector = 512
    first_data = 1 << 20
    geometry = bytearray(struct.pack("<II32sIII", 0x616C4467, 52, b"\0" * 32, max_size, slots, BLOCK))
    geometry[8:40] = hashlib.sha256(bytes(geometry)).digest()
    geometry_block = bytes(geometry).ljust(4096, b"\0")
    # data placement
    pos = first_data
    placed = []
    for name, data in parts:
        data = data + b"\0" * (-len(data) % BLOCK)
        placed.append((name, pos, data))
        pos += len(data) + (-len(data) % (1 << 20))
    total_size = pos
    ptab, etab = b"", b""
    nparts = 0
    for idx, (name, off, data) in enumerate(placed):
        ptab += struct.pack("<36sIIII", name.encode(), 1, idx, 1, 1)  # readonly, group 1
        etab += struct.pack("<QIQI", len(data) // sector, 0, off // sector, 0)
        nparts += 1
    for name in empty:
        ptab += struct.pack("<36sIIII", name.encode(), 1, len(placed), 0, 2)
        nparts += 1
    gtab = struct.pack("<36sIQ", b"default", 0, 0) + struct.pack("<36sIQ", b"main_a", 0, total_size) + struct.pack(
        "<36sIQ", b"main_b", 0, total_size)
    btab = struct.pack("<QIIQ36sI", first_data // sector, 0, 0, total_size, b"super", 0)
    tables = ptab + etab + gtab + btab
    header_size = 256 if minor >= 2 else 128
    descs = struct.pack(
        "<IIIIIIIIIIII",
        0, nparts, 52,
        len(ptab), len(placed), 24,
        len(ptab) + len(etab), 3, 48,
        len(ptab) + len(etab) + len(gtab), 1, 64,
    )
    hdr = bytearray(struct.pack("<IHHI32sI32s", 0x414C5030, 10, minor, header_size, b"\0" * 32, len(tables),
                                hashlib.sha256(tables).digest()) + descs)
    if minor >= 2:
        hdr += struct.pack("<I", 0) + b"\0" * 124
    hdr[12:44] = hashlib.sha256(bytes(hdr)).digest()
    if corrupt_tables:
        tables = bytes([tables[0] ^ 0xFF]) + tables[1:]
    meta = (bytes(hdr) + tables).ljust(max_size, b"\0")
    with open(out, "wb") as f:
        f.write(b"\0" * 4096 + geometry_block + geometry_block)
        f.write(meta * slots)  # primary copies
        f.write(meta * slots)  # backup copies
        for _name, off, data in placed:
            f.seek(off)
            f.write(data)
        f.truncate(total_size)
    return out


# -- payload.bin ------------------------------------------------------------------------------
OP_CYCLE = (0, 1, 8, 14)  # REPLACE, REPLACE_BZ, REPLACE_XZ, ZSTD


def _ext(start: int, num: int) -> bytes:
    return enc_int(1, start) + enc_int(2, num)


def write_payload(out: Path, parts: list[tuple[str, bytes]], chunk_blocks: int = 16, incremental: bool = False,
                  ops: tuple[int, ...] = OP_CYCLE, corrupt_op: str | None = None) -> Path:
    """A full-OTA payload.bin (version 2) using REPLACE, REPLACE_BZ, REPLACE_XZ, ZSTD and ZERO operations."""
    blobs = bytearray()
    pmsgs = []
    k = 0
    for name, data in parts:
        data = data + b"\0" * (-len(data) % BLOCK)
        nblocks = len(data) // BLOCK
        opmsgs = []
        for b in range(0, nblocks, chunk_blocks):
            n = min(chunk_blocks, nblocks - b)
            chunk = data[b * BLOCK : (b + n) * BLOCK]
            if chunk.count(0) == len(chunk):
                opmsgs.append(enc_int(1, 6) + enc_bytes(6, _ext(b, n)))
                continue
            kind = ops[k % len(ops)]
            k += 1
            blob = {0: lambda c: c, 1: bz2.compress, 8: lambda c: lzma.compress(c, format=lzma.FORMAT_XZ),
                    14: lambda c: zstandard.ZstdCompressor().compress(c)}[kind](chunk)
            sha = hashlib.sha256(blob).digest()
            if corrupt_op == name and b == 0:
                sha = bytes(32)
            op = enc_int(1, kind) + enc_int(2, len(blobs)) + enc_int(3, len(blob)) + enc_bytes(6, _ext(b, n))
            op += enc_bytes(8, sha)
            if incremental and b == 0:
                op = enc_int(1, 4) + enc_bytes(4, _ext(b, n)) + enc_bytes(6, _ext(b, n))
            opmsgs.append(op)
            blobs += blob
        info = enc_int(1, len(data)) + enc_bytes(2, hashlib.sha256(data).digest())
        pmsg = enc_bytes(1, name.encode()) + enc_bytes(7, info) + b"".join(enc_bytes(8, o) for o in opmsgs)
        pmsgs.append(pmsg)
    manifest = enc_int(3, BLOCK) + enc_int(12, 0) + b"".join(enc_bytes(13, p) for p in pmsgs)
    with open(out, "wb") as f:
        f.write(b"CrAU" + struct.pack(">QQI", 2, len(manifest), 0) + manifest + bytes(blobs))
    return out


def write_ota_zip(out: Path, payload: Path) -> Path:
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("META-INF/com/android/metadata", "ota-type=AB\n")
        z.writestr("payload_properties.txt", "FILE_HASH=x\n")
        z.write(payload, "payload.bin", compress_type=zipfile.ZIP_STORED)
    return out


# -- block OTA: transfer list + new.dat(.br) ------------------------------------------------
def transfer_list(data: bytes, version: int = 4) -> tuple[str, bytes]:
    """(transfer list text, new.dat bytes) for a full block OTA of data."""
    nblocks = (len(data) + BLOCK - 1) // BLOCK
    data = data.ljust(nblocks * BLOCK, b"\0")
    new_ranges, zero_ranges = [], []
    for b in range(nblocks):
        block = data[b * BLOCK : (b + 1) * BLOCK]
        target = zero_ranges if block.count(0) == BLOCK else new_ranges
        if target and target[-1][1] == b:
            target[-1][1] = b + 1
        else:
            target.append([b, b + 1])

    def fmt(r: list[list[int]]) -> str:
        nums = [x for pair in r for x in pair]
        return ",".join(str(x) for x in [len(nums), *nums])

    new_dat = b"".join(data[a * BLOCK : b * BLOCK] for a, b in new_ranges)
    lines = [str(version), str(nblocks)]
    if version >= 2:
        lines += ["0", "0"]
    lines.append(f"erase {fmt([[0, nblocks]])}")
    if zero_ranges:
        lines.append(f"zero {fmt(zero_ranges)}")
    lines.append(f"new {fmt(new_ranges)}")
    return "\n".join(lines) + "\n", new_dat


def brotli_bytes(data: bytes) -> bytes:
    return brotli.compress(data, quality=5)


# -- Samsung tar.md5 with LZ4 members, Xiaomi tgz ------------------------------------------
def write_tar_md5(out: Path, members: list[tuple[str, bytes]], lz4_members: bool = True, corrupt: bool = False) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            if lz4_members:
                data = lz4.frame.compress(data)
                name += ".lz4"
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = int(FAKE_TIME)
            tf.addfile(ti, io.BytesIO(data))
    tar = buf.getvalue()
    md5 = hashlib.md5(tar).hexdigest()
    if corrupt:
        tar = tar[:600] + bytes([tar[600] ^ 1]) + tar[601:]
    out.write_bytes(tar + f"{md5}  {out.name[: -len('.md5')]}\n".encode())
    return out


def write_tgz(out: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(out, "w:gz") as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = int(FAKE_TIME)
            tf.addfile(ti, io.BytesIO(data))
    return out


# -- APEX -------------------------------------------------------------------------------------
def write_apex(out: Path, payload_img: Path) -> Path:
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("apex_manifest.pb", b"\x0a\x0ccom.acme.foo\x10\x01")
        z.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00")
        z.write(payload_img, "apex_payload.img", compress_type=zipfile.ZIP_STORED)
    return out


def strip_dex(apk: Path, out: Path) -> list[bytes]:
    """Copy apk without its classes*.dex (an odexed system app); returns the removed DEX files."""
    dexes = []
    with zipfile.ZipFile(apk) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("classes") and info.filename.endswith(".dex"):
                dexes.append(data)
                continue
            dst.writestr(info, data)
    return dexes


def write_zstd_bomb_payload(out: Path, size: int, name: str = "system") -> Path:
    """A full-OTA payload.bin whose one partition is a single ZSTD operation of `size` zero bytes (a few hundred
    bytes per GiB compressed): hostile input for the streaming and ratio checks."""
    comp = zstandard.ZstdCompressor(level=19).compressobj()
    blob = bytearray()
    zeros = bytes(64 << 20)
    left = size
    while left:
        n = min(left, len(zeros))
        blob += comp.compress(zeros[:n])
        left -= n
    blob += comp.flush()
    nblocks = size // BLOCK
    op = enc_int(1, 14) + enc_int(2, 0) + enc_int(3, len(blob)) + enc_bytes(6, _ext(0, nblocks))
    op += enc_bytes(8, hashlib.sha256(bytes(blob)).digest())
    info = enc_int(1, size)  # no partition hash: the operation's own checks must stop it
    pmsg = enc_bytes(1, name.encode()) + enc_bytes(7, info) + enc_bytes(8, op)
    manifest = enc_int(3, BLOCK) + enc_int(12, 0) + enc_bytes(13, pmsg)
    with open(out, "wb") as f:
        f.write(b"CrAU" + struct.pack(">QQI", 2, len(manifest), 0) + manifest + bytes(blob))
    return out


# -- quickening, as dexopt (Dalvik) and dex-to-dex (ART) do it ------------------------------------------------
_ART_QUICK = {0x52: 0xE3, 0x53: 0xE4, 0x54: 0xE5, 0x59: 0xE6, 0x5A: 0xE7, 0x5B: 0xE8, 0x6E: 0xE9, 0x74: 0xEA,
              0x5C: 0xEB, 0x5D: 0xEC, 0x5E: 0xED, 0x5F: 0xEE, 0x55: 0xEF, 0x56: 0xF0, 0x57: 0xF1, 0x58: 0xF2}
_DALVIK_QUICK = {0x52: 0xF2, 0x53: 0xF3, 0x54: 0xF4, 0x59: 0xF5, 0x5A: 0xF6, 0x5B: 0xF7, 0x6E: 0xF8, 0x74: 0xF9}


def quicken_dex(dex: bytes, dalvik: bool = False) -> tuple[bytes, dict[int, list[tuple[int, int]]]]:
    """dex with its field accesses, virtual calls and return-voids quickened (made-up offsets and vtable indices),
    and per method (code_off) the (dex pc, original index) table a compiler keeps. The header is left as it was,
    as dex2oat does."""
    out, methods = _quicken(dex, *((_DALVIK_QUICK, 0xF1) if dalvik else (_ART_QUICK, 0x73)), elide_casts=False)
    return out, {off: [(pc, v) for pc, kind, v in events if kind == "index"]
                 for (off, _idx), events in methods.items() if any(k == "index" for _pc, k, _v in events)}


def quicken_dex_slots(dex: bytes, nop_slots: bool = True) -> tuple[bytes, dict[int, list[int]]]:
    """dex quickened as Android 9-11's dex2oat does for a vdex 019/021: field accesses, virtual calls, return-voids
    and (nop_slots) every check-cast (made safe: two nops), and per method index its QuickenInfoTable indices in
    code order (dex_to_dex_compiler.cc of pie and android10): one per quickened instruction, and with nop_slots one
    per nop or payload (0xFFFF) and two per elided check-cast (its register, then its type index). Without
    nop_slots: as a later quicken_info.h reads them (no slot for nops, no check-cast elided)."""
    out, methods = _quicken(dex, _ART_QUICK, 0x73, elide_casts=nop_slots)
    return out, {idx: [v for _pc, kind, v in events if kind == "index" or nop_slots and kind in ("nop", "cast")]
                 for (_off, idx), events in methods.items()}


def _quicken(dex: bytes, ops: dict[int, int], ret: int, elide_casts: bool
             ) -> tuple[bytes, dict[tuple[int, int], list[tuple[int, str, int]]]]:
    """The quickened DEX and, per method with code (code_off, method index), its events in code order:
    ("index", original index), ("nop", 0xFFFF) for a nop or payload, ("cast", register) + ("cast", type index)."""
    from array import array

    from toolkit.acquisition.firmware.quicken import NO_INDEX16, _walk, code_items

    out = bytearray(dex)
    methods: dict[tuple[int, int], list[tuple[int, str, int]]] = {}
    for item in code_items(dex):
        u = array("H", dex[item.insns_off : item.insns_off + 2 * item.insns_size])
        events: list[tuple[int, str, int]] = []
        for pc, op, _q in list(_walk(u, {}, payloads=True)):
            if op in ops:
                events.append((pc, "index", u[pc + 1]))
                u[pc] = (u[pc] & 0xFF00) | ops[op]
                u[pc + 1] = 8 + 4 * (u[pc + 1] % 64)  # a field offset / vtable index: no reference any more
            elif op == 0x0E:
                u[pc] = (u[pc] & 0xFF00) | ret
            elif op == 0:
                events.append((pc, "nop", NO_INDEX16))
            elif op == 0x1F and elide_casts:  # check-cast vAA, type@BBBB -> nop, nop
                events += [(pc, "cast", u[pc] >> 8), (pc, "cast", u[pc + 1])]
                u[pc], u[pc + 1] = 0, 0
        methods[(item.off, item.method_idx)] = events
        out[item.insns_off : item.insns_off + 2 * item.insns_size] = u.tobytes()
    return bytes(out), methods
