"""A small, read-only ext4 reader written for firmware images (no mount, no root, no C extension).

Reads extents and old block maps, inline data, and directories (htree directories are read as linear
ones, which the format allows). `shared_blocks` (Android's deduplicated images) needs nothing special:
it only means several files may point at the same blocks. Every block number is checked against the
image before it is read, so an image that claims more than it holds fails with a clear error.

Why our own: the only maintained PyPI reader (python-ext4) ships as a compiled binary with exactly
pinned dependencies; debugfs works but needs a raw (unsparsed) image on disk and a subprocess per tree.
"""

from __future__ import annotations

import logging
import os
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.acquisition.files import make_dirs
from toolkit.acquisition.firmware.dev import Dev, u16, u32
from toolkit.acquisition.firmware.errors import FirmwareError, OutputLimitError
from toolkit.acquisition.firmware.fsresult import FsResult
from toolkit.acquisition.firmware.limits import Budget
from toolkit.acquisition.firmware.safety import safe_component

log = logging.getLogger(__name__)

EXT4_MAGIC = 0xEF53
INCOMPAT_COMPRESSION = 0x1
INCOMPAT_JOURNAL_DEV = 0x8
INCOMPAT_META_BG = 0x10
INCOMPAT_64BIT = 0x80
INCOMPAT_DIRDATA = 0x1000
INCOMPAT_INLINE_DATA = 0x8000
RO_COMPAT_SHARED_BLOCKS = 0x4000
UNSUPPORTED_INCOMPAT = {
    INCOMPAT_COMPRESSION: "compression",
    INCOMPAT_JOURNAL_DEV: "journal_dev (an external journal device, not a file system)",
    INCOMPAT_META_BG: "meta_bg",
    INCOMPAT_DIRDATA: "dirdata",
}
FL_ENCRYPT = 0x800
FL_EXTENTS = 0x80000
FL_INLINE_DATA = 0x10000000
EXTENT_MAGIC = 0xF30A


def is_ext4(dev: Dev) -> bool:
    return dev.size >= 2048 and u16(dev.read(1024 + 56, 2), 0) == EXT4_MAGIC


@dataclass
class Inode:
    ino: int
    mode: int
    size: int
    flags: int
    block: bytes
    raw: bytes


class Ext4:
    """An opened ext4 file system on a Dev."""

    def __init__(self, dev: Dev, name: str) -> None:
        self.dev = dev
        self.name = name
        if dev.size < 2048:
            raise FirmwareError(name, "too small to hold an ext4 superblock")
        sb = dev.read(1024, 1024)
        if u16(sb, 56) != EXT4_MAGIC:
            raise FirmwareError(name, "not an ext4 file system (bad superblock magic)")
        self.block_size = 1024 << u32(sb, 24)
        if self.block_size > 65536:
            raise FirmwareError(name, f"impossible ext4 block size {self.block_size}")
        self.inodes_count = u32(sb, 0)
        self.incompat = u32(sb, 96)
        self.ro_compat = u32(sb, 100)
        for bit, what in UNSUPPORTED_INCOMPAT.items():
            if self.incompat & bit:
                raise FirmwareError(name, f"ext4 feature '{what}' is not supported by phonehome's reader")
        is64 = bool(self.incompat & INCOMPAT_64BIT)
        self.blocks_count = u32(sb, 4) | ((u32(sb, 0x150) << 32) if is64 else 0)
        self.first_data_block = u32(sb, 20)
        self.inodes_per_group = u32(sb, 40)
        rev = u32(sb, 76)
        self.inode_size = u16(sb, 88) if rev >= 1 else 128
        self.desc_size = (u16(sb, 0xFE) or 64) if is64 else 32
        if self.inodes_per_group == 0 or self.inode_size < 128 or self.desc_size < 32:
            raise FirmwareError(name, "ext4 superblock has impossible geometry")
        claimed = self.blocks_count * self.block_size
        if claimed > dev.size:
            raise FirmwareError(
                name,
                f"ext4 file system claims {claimed} bytes ({self.blocks_count} blocks) "
                f"but the image holds only {dev.size} bytes (truncated or damaged)",
            )
        groups = (self.inodes_count + self.inodes_per_group - 1) // self.inodes_per_group
        gdt_off = (self.first_data_block + 1) * self.block_size
        gdt = dev.read(gdt_off, groups * self.desc_size)
        self.inode_tables: list[int] = []
        for g in range(groups):
            d = g * self.desc_size
            table = u32(gdt, d + 8) | ((u32(gdt, d + 0x28) << 32) if is64 and self.desc_size >= 64 else 0)
            self.inode_tables.append(table)
        self.shared_blocks = bool(self.ro_compat & RO_COMPAT_SHARED_BLOCKS)

    # -- inodes and blocks ------------------------------------------------------------------
    def inode(self, ino: int) -> Inode:
        if ino < 1 or ino > self.inodes_count:
            raise FirmwareError(self.name, f"inode number {ino} out of range")
        group, index = divmod(ino - 1, self.inodes_per_group)
        off = self.inode_tables[group] * self.block_size + index * self.inode_size
        raw = self.dev.read(off, self.inode_size)
        mode = u16(raw, 0)
        size = u32(raw, 4) | (u32(raw, 0x6C) << 32)
        return Inode(ino, mode, size, u32(raw, 0x20), raw[0x28:0x28 + 60], raw)

    def _check_blocks(self, start: int, count: int, what: str) -> None:
        if start + count > self.blocks_count or start < 0:
            raise FirmwareError(
                self.name,
                f"{what} points at blocks {start}..{start + count - 1}, beyond the file system's "
                f"{self.blocks_count} blocks",
            )

    def runs(self, ino: Inode) -> list[tuple[int, int, int, bool]]:
        """(logical block, physical block, count, initialised) for the file's data."""
        if ino.flags & FL_EXTENTS:
            out: list[tuple[int, int, int, bool]] = []
            self._extents(ino.block, 0, out, ino.ino)
            return out
        return self._blockmap(ino)

    def _extents(self, node: bytes, depth: int, out: list[tuple[int, int, int, bool]], ino: int) -> None:
        if depth > 8:
            raise FirmwareError(self.name, f"inode {ino}: extent tree too deep (loop?)")
        magic, entries, _max, tree_depth = struct.unpack_from("<HHHH", node, 0)
        if magic != EXTENT_MAGIC:
            raise FirmwareError(self.name, f"inode {ino}: bad extent header")
        if 12 + entries * 12 > len(node):
            raise FirmwareError(self.name, f"inode {ino}: extent node claims {entries} entries")
        for i in range(entries):
            e = 12 + i * 12
            if tree_depth == 0:
                lblk, length, hi, lo = struct.unpack_from("<IHHI", node, e)
                init = length <= 32768
                if not init:
                    length -= 32768
                phys = (hi << 32) | lo
                self._check_blocks(phys, length, f"inode {ino}")
                out.append((lblk, phys, length, init))
            else:
                _lblk, lo, hi = struct.unpack_from("<IIH", node, e)
                child = (hi << 32) | lo
                self._check_blocks(child, 1, f"inode {ino} extent index")
                self._extents(self.dev.read(child * self.block_size, self.block_size), depth + 1, out, ino)

    def _blockmap(self, ino: Inode) -> list[tuple[int, int, int, bool]]:
        bs = self.block_size
        nblocks = (ino.size + bs - 1) // bs
        ptrs = struct.unpack("<15I", ino.block)
        per = bs // 4
        phys: list[int] = []

        def walk(blk: int, level: int) -> None:
            if len(phys) >= nblocks:
                return
            if blk == 0:
                phys.extend([0] * min(per**level, nblocks - len(phys)))
                return
            self._check_blocks(blk, 1, f"inode {ino.ino} indirect block")
            table = struct.unpack(f"<{per}I", self.dev.read(blk * bs, bs))
            for p in table:
                if len(phys) >= nblocks:
                    return
                if level == 1:
                    phys.append(p)
                else:
                    walk(p, level - 1)

        for p in ptrs[:12]:
            if len(phys) >= nblocks:
                break
            phys.append(p)
        for level, p in ((1, ptrs[12]), (2, ptrs[13]), (3, ptrs[14])):
            walk(p, level)
        runs: list[tuple[int, int, int, bool]] = []
        for lblk, p in enumerate(phys):
            if p == 0:
                continue
            if runs and runs[-1][0] + runs[-1][2] == lblk and runs[-1][1] + runs[-1][2] == p:
                a, b, c, d = runs[-1]
                runs[-1] = (a, b, c + 1, d)
            else:
                runs.append((lblk, p, 1, True))
        for _l, p, c, _i in runs:
            self._check_blocks(p, c, f"inode {ino.ino}")
        return runs

    def _inline(self, ino: Inode) -> bytes:
        """Inline data: 60 bytes in i_block, the rest in the in-inode xattr system.data."""
        data = ino.block
        extra = b""
        if self.inode_size > 128:
            isize = u16(ino.raw, 0x80)
            base = 128 + isize
            if base + 4 <= len(ino.raw) and u32(ino.raw, base) == 0xEA020000:
                first = base + 4
                p = first
                while p + 16 <= len(ino.raw):
                    name_len, index, voff, _vinum, vsize = struct.unpack_from("<BBHII", ino.raw, p)
                    if name_len == 0 and index == 0 and voff == 0:
                        break
                    name = ino.raw[p + 16 : p + 16 + name_len]
                    if index == 7 and name == b"data":
                        extra = ino.raw[first + voff : first + voff + vsize]
                        break
                    p += (16 + name_len + 3) & ~3
        return data + extra

    def head(self, ino: Inode, n: int) -> bytes:
        """The first n bytes of a regular file (b'' when it starts with a hole or is encrypted)."""
        if ino.flags & FL_ENCRYPT:
            return b""
        if ino.flags & FL_INLINE_DATA:
            return self._inline(ino)[: min(n, ino.size)]
        for lblk, phys, count, init in self.runs(ino):
            if lblk == 0 and init:
                return self.dev.read(phys * self.block_size, min(n, ino.size, count * self.block_size))
        return b""

    def read_small(self, ino: Inode, limit: int = 256 << 20) -> bytes:
        """Whole content of a directory or symlink (bounded)."""
        if ino.size > limit:
            raise FirmwareError(self.name, f"inode {ino.ino}: {ino.size} bytes is too large for a directory")
        if ino.flags & FL_INLINE_DATA:
            return self._inline(ino)[: ino.size]
        out = bytearray(ino.size)
        bs = self.block_size
        for lblk, phys, count, init in self.runs(ino):
            start = lblk * bs
            if start >= ino.size or not init:
                continue
            n = min(count * bs, ino.size - start)
            out[start : start + n] = self.dev.read(phys * bs, n)
        return bytes(out)

    def listdir(self, ino: Inode) -> list[tuple[str | bytes, int, int]]:
        """(name, inode, file type) of a directory, without '.' and '..'."""
        if ino.flags & FL_INLINE_DATA:
            raw = self._inline(ino)
            bufs = [raw[4:60], raw[60 : max(60, ino.size)]]
        else:
            data = self.read_small(ino)
            bs = self.block_size
            bufs = [data[i : i + bs] for i in range(0, len(data), bs)]
        out: list[tuple[str | bytes, int, int]] = []
        for buf in bufs:
            p = 0
            while p + 8 <= len(buf):
                child, rec_len, name_len, ftype = struct.unpack_from("<IHBB", buf, p)
                if rec_len < 8 or p + rec_len > len(buf):
                    break
                if child and name_len:
                    name_b = buf[p + 8 : p + 8 + name_len]
                    if name_b not in (b".", b".."):
                        try:
                            out.append((name_b.decode("utf-8"), child, ftype))
                        except UnicodeDecodeError:
                            out.append((name_b, child, ftype))
                p += rec_len
        return out

    # -- extraction -------------------------------------------------------------------------
    def extract_file(self, ino: Inode, out: Path, budget: Budget, label: str) -> int:
        budget.check_file_size(ino.size, label)
        if ino.flags & FL_ENCRYPT:
            raise FirmwareError(label, "file is encrypted (fscrypt): contents not readable offline")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        written = 0
        try:
            if ino.flags & FL_INLINE_DATA:
                data = self._inline(ino)[: ino.size]
                budget.take(len(data), label)
                os.write(fd, data)
                return len(data)
            bs = self.block_size
            plan = []
            for lblk, phys, count, init in self.runs(ino):
                start = lblk * bs
                if start >= ino.size or not init:
                    continue
                n = min(count * bs, ino.size - start)
                plan.append((phys * bs, n, start))
                written += n
            budget.take(written, label)
            os.ftruncate(fd, ino.size)
            for src, n, dst in plan:
                self.dev.copy_to(fd, src, n, dst)
        finally:
            os.close(fd)
        return written


def extract_ext4(dev: Dev, dest: Path, budget: Budget, name: str,
                 want: Callable[[str, bytes, int], bool] | None = None) -> FsResult:
    """Extract every regular file and directory of the ext4 image on dev into dest.

    want(name, first bytes, size): when given, only the regular files it accepts are written (counted in skipped).

    Symlinks are recorded (path, target), never created; device nodes and sockets are counted.
    A damaged file is recorded in FsResult.issues and the rest goes on.
    """
    fs = Ext4(dev, name)
    res = FsResult(detail=f"ext4 block size {fs.block_size}" + (", shared_blocks" if fs.shared_blocks else ""))
    make_dirs(dest)
    seen: set[int] = set()
    stack: list[tuple[int, str, Path]] = [(2, "", dest)]
    while stack:
        dino, rel, outdir = stack.pop()
        if dino in seen:
            res.issues.append(("/" + rel, "directory loop: directory seen twice, skipped"))
            continue
        seen.add(dino)
        try:
            d = fs.inode(dino)
            entries = fs.listdir(d)
        except FirmwareError as e:
            res.issues.append(("/" + rel, e.reason))
            continue
        res.dirs += 1
        for raw_name, child, _ftype in entries:
            path = f"{rel}/{raw_name!s}" if rel else str(raw_name)
            safe = safe_component(raw_name)
            if safe is None:
                res.issues.append(("/" + path, f"unsafe file name {raw_name!r} skipped"))
                continue
            label = f"{name}:/{rel + '/' if rel else ''}{safe}"
            try:
                budget.count_entry(label)
                ino = fs.inode(child)
                kind = stat.S_IFMT(ino.mode)
                target = outdir / safe
                if kind == stat.S_IFDIR:
                    target.mkdir(exist_ok=True)
                    stack.append((child, f"{rel}/{safe}" if rel else safe, target))
                elif kind == stat.S_IFREG:
                    if want is not None and not want(safe, fs.head(ino, 8192), ino.size):
                        res.skipped += 1
                        continue
                    res.bytes += fs.extract_file(ino, target, budget, label)
                    res.files += 1
                elif kind == stat.S_IFLNK:
                    if ino.size < 60 and not ino.flags & (FL_EXTENTS | FL_INLINE_DATA):
                        link = ino.block[: ino.size]
                    else:
                        link = fs.read_small(ino, 65536)
                    res.symlinks.append(("/" + (f"{rel}/{safe}" if rel else safe), link.decode("utf-8", "replace")))
                else:
                    res.special += 1
            except OutputLimitError:
                raise
            except FirmwareError as e:
                res.issues.append(("/" + path, e.reason))
                try:
                    if (outdir / safe).is_file():
                        (outdir / safe).unlink()
                except OSError:
                    pass
            except OSError as e:
                res.issues.append(("/" + path, f"could not write: {e.strerror}"))
    return res
