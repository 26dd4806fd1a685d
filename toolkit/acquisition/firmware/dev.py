"""Random-access byte sources ("devices"): a file range, a sparse image, a concatenation of extents.

Every reader (ext4, liblp, payload, zip ...) reads through this one interface, so a partition can be
read where it lies (inside a stored zip member, a sparse image or a super image) without first being
copied out. Reads past the end, and short reads of truncated files, raise FirmwareError.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from toolkit.acquisition.firmware.errors import FirmwareError

COPY_CHUNK = 8 << 20


class Dev:
    """A read-only, random-access byte source of known size."""

    name: str = ""
    size: int = 0

    def read(self, off: int, n: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, off: int, n: int) -> None:
        if off < 0 or n < 0 or off + n > self.size:
            raise FirmwareError(
                self.name, f"read of {n} bytes at offset {off} goes past the end of the data ({self.size} bytes)"
            )

    def copy_to(self, out_fd: int, off: int, n: int, out_off: int) -> None:
        """Copy n bytes at off into the open file out_fd at out_off."""
        self._check(off, n)
        while n > 0:
            step = min(n, COPY_CHUNK)
            data = self.read(off, step)
            _pwrite_all(out_fd, data, out_off)
            off += step
            out_off += step
            n -= step

    def file_range(self) -> tuple[str, int] | None:
        """(path, offset) when the whole device is one contiguous range of a plain file, else None."""
        return None

    def stream(self) -> io.RawIOBase:
        """A seekable file object over the device (for zipfile, tarfile ...)."""
        return DevFile(self)

    def close(self) -> None:
        pass


def _pwrite_all(fd: int, data: bytes | memoryview, off: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, off)
        view = view[done:]
        off += done


class FileDev(Dev):
    """A byte range of a file on disk (the whole file by default)."""

    def __init__(self, path: str | os.PathLike[str], base: int = 0, size: int | None = None, name: str = "") -> None:
        self.path = os.fspath(path)
        self.name = name or os.path.basename(self.path)
        self.fd = os.open(self.path, os.O_RDONLY)
        real = os.fstat(self.fd).st_size
        self.base = base
        self.size = real - base if size is None else size
        if base < 0 or self.size < 0 or base + self.size > real:
            os.close(self.fd)
            raise FirmwareError(
                self.name, f"claims {self.size} bytes at offset {base} but the file holds only {real} bytes"
            )

    def read(self, off: int, n: int) -> bytes:
        self._check(off, n)
        data = os.pread(self.fd, n, self.base + off)
        if len(data) != n:
            raise FirmwareError(self.name, f"file is truncated: short read at offset {off}")
        return data

    def copy_to(self, out_fd: int, off: int, n: int, out_off: int) -> None:
        self._check(off, n)
        src = self.base + off
        while n > 0:
            try:
                done = os.copy_file_range(self.fd, out_fd, min(n, 1 << 30), src, out_off)
            except OSError:
                done = 0
            if done <= 0:  # unsupported here: plain copy
                super().copy_to(out_fd, src - self.base, n, out_off)
                return
            src += done
            out_off += done
            n -= done

    def file_range(self) -> tuple[str, int] | None:
        return (self.path, self.base)

    def sub(self, off: int, size: int, name: str) -> FileDev:
        """A range of this range, as its own device."""
        self._check(off, size)
        return FileDev(self.path, self.base + off, size, name)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


@dataclass
class Piece:
    """One mapped range of a composite device: bytes [start, start+length) come from src at src_off,
    or are a repeated 4-byte fill (src None, fill set), or zeros (src None, fill None)."""

    start: int
    length: int
    src: Dev | None = None
    src_off: int = 0
    fill: bytes | None = None


class MappedDev(Dev):
    """A device assembled from pieces; unmapped ranges read as zeros (sparse "don't care", liblp zero)."""

    def __init__(self, name: str, size: int, pieces: list[Piece], owns: bool = False) -> None:
        self.name = name
        self.owns = owns
        self.size = size
        pieces = sorted((p for p in pieces if p.length > 0), key=lambda p: p.start)
        end = 0
        for p in pieces:
            if p.start < end:
                raise FirmwareError(name, f"overlapping data at byte {p.start}")
            end = p.start + p.length
            if end > size:
                raise FirmwareError(name, f"data at byte {p.start} runs past the declared size {size}")
        self.pieces = pieces
        self.starts = [p.start for p in pieces]

    def _walk(self, off: int, n: int) -> Iterator[tuple[Piece | None, int, int, int]]:
        """Yield (piece or None for zeros, offset in the request, offset in the piece, length)."""
        self._check(off, n)
        end = off + n
        pos = off
        i = max(0, bisect.bisect_right(self.starts, off) - 1)
        while pos < end:
            while i < len(self.pieces) and self.pieces[i].start + self.pieces[i].length <= pos:
                i += 1
            if i < len(self.pieces) and self.pieces[i].start <= pos:
                p = self.pieces[i]
                take = min(end, p.start + p.length) - pos
                yield p, pos - off, pos - p.start, take
            else:
                nxt = self.pieces[i].start if i < len(self.pieces) else end
                take = min(end, nxt) - pos
                yield None, pos - off, 0, take
            pos += take

    def read(self, off: int, n: int) -> bytes:
        out = bytearray(n)
        for p, at, inner, take in self._walk(off, n):
            if p is None:
                continue
            if p.src is not None:
                out[at : at + take] = p.src.read(p.src_off + inner, take)
            elif p.fill is not None and p.fill != b"\0\0\0\0":
                rep = (p.fill * ((inner % 4 + take) // 4 + 2))[inner % 4 : inner % 4 + take]
                out[at : at + take] = rep
        return bytes(out)

    def copy_to(self, out_fd: int, off: int, n: int, out_off: int) -> None:
        for p, at, inner, take in self._walk(off, n):
            if p is not None and p.src is not None:
                p.src.copy_to(out_fd, p.src_off + inner, take, out_off + at)
            elif p is not None and p.fill is not None and p.fill != b"\0\0\0\0":
                pos = 0
                while pos < take:
                    step = min(take - pos, COPY_CHUNK)
                    _pwrite_all(out_fd, self.read(off + at + pos, step), out_off + at + pos)
                    pos += step
            else:
                # zeros: leave a hole, but make sure the file is long enough
                if os.fstat(out_fd).st_size < out_off + at + take:
                    os.ftruncate(out_fd, out_off + at + take)

    def file_range(self) -> tuple[str, int] | None:
        if len(self.pieces) == 1:
            p = self.pieces[0]
            if p.start == 0 and p.length == self.size and p.src is not None:
                inner = p.src.file_range()
                if inner is not None:
                    return (inner[0], inner[1] + p.src_off)
        return None

    def close(self) -> None:
        if not self.owns:
            return
        seen: set[int] = set()
        for p in self.pieces:
            if p.src is not None and id(p.src) not in seen:
                seen.add(id(p.src))
                p.src.close()


class DevFile(io.RawIOBase):
    """A seekable read-only file object over a Dev."""

    def __init__(self, dev: Dev) -> None:
        self.dev = dev
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self.pos = offset
        elif whence == 1:
            self.pos += offset
        else:
            self.pos = self.dev.size + offset
        self.pos = max(0, self.pos)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, b) -> int:
        n = min(len(b), max(0, self.dev.size - self.pos))
        if n == 0:
            return 0
        data = self.dev.read(self.pos, n)
        b[:n] = data
        self.pos += n
        return n


def u32(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", b, off)[0])


def u16(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<H", b, off)[0])


def u64(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<Q", b, off)[0])
