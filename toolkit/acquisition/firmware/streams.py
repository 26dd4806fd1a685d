"""Compressed streams (gzip, xz, bzip2, zstd, LZ4 frame, brotli) read with bounded output.

Every stream is read through a byte counter so a compression bomb (output far larger than input) is
stopped early, and the total written is charged to the run's Budget.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import zipfile
import zlib
from typing import BinaryIO

import brotli
import lz4.frame
import zstandard

from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.limits import Budget

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZ2_MAGIC = b"BZh"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
COMPRESSED = {"gzip": GZIP_MAGIC, "xz": XZ_MAGIC, "bzip2": BZ2_MAGIC, "zstd": ZSTD_MAGIC, "lz4": LZ4_MAGIC}
SUFFIXES = {"gzip": (".gz", ".tgz"), "xz": (".xz",), "bzip2": (".bz2",), "zstd": (".zst",), "lz4": (".lz4",),
            "brotli": (".br",)}


def compression_of(head: bytes) -> str | None:
    for kind, magic in COMPRESSED.items():
        if head.startswith(magic):
            if kind == "bzip2" and not (len(head) > 3 and head[3:4].isdigit()):
                continue
            return kind
    return None


class Counting(io.RawIOBase):
    """Counts bytes read from an underlying binary stream."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        return n


class BrotliReader(io.RawIOBase):
    """A read()-able brotli decompressor with a bounded output buffer.

    With output_buffer_limit the decompressor may keep part of the input it was given in its own buffer and
    still report can_accept_more_data() (brotli 1.1+ returns at most one output block per call). So output is
    drained with empty input until a call yields nothing before more input is fed, and at the end of the input
    the rest is drained before the stream may be called truncated. (Feeding 64 KiB for every 32 KiB drained
    made every multi-MB stream of the brotli CLI look "truncated".)
    """

    LIMIT = 1 << 20

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.d = brotli.Decompressor()
        self.buf = b""
        self.eof = False
        self.draining = False  # the last call gave output: more may be buffered inside the decompressor

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self.buf and not self.eof:
            if self.draining or not self.d.can_accept_more_data():
                self.buf = self.d.process(b"", output_buffer_limit=self.LIMIT)
                if not self.buf:
                    self.draining = False
                    if not self.d.can_accept_more_data():  # no output and no room: the decoder is stuck
                        raise FirmwareError("brotli", "brotli decoder made no progress (damaged data)")
                continue
            if self.d.is_finished():
                self.eof = True
                if self.raw.read(65536):  # the brotli CLI refuses data after the last block too
                    raise FirmwareError("brotli", "data after the end of the brotli stream")
                break
            chunk = self.raw.read(65536)
            if not chunk:
                raise FirmwareError("brotli", "brotli stream is truncated")
            self.buf = self.d.process(chunk, output_buffer_limit=self.LIMIT)
            self.draining = True

    def readinto(self, b) -> int:
        try:
            self._fill()
        except brotli.error as e:
            raise FirmwareError("brotli", f"brotli data is damaged: {e}") from e
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n


def open_decompressed(kind: str, raw: BinaryIO) -> BinaryIO:
    """A reader of the decompressed stream."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if kind == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    if kind == "lz4":
        return lz4.frame.LZ4FrameFile(raw, mode="rb")
    if kind == "brotli":
        return io.BufferedReader(BrotliReader(raw))
    raise ValueError(kind)


DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, lzma.LZMAError, zstandard.ZstdError, RuntimeError, ValueError, brotli.error, zlib.error,
)


def copy_stream(reader: BinaryIO, counter: Counting | None, out_path: str | os.PathLike[str], budget: Budget,
                label: str, limit: int | None = None, *, head: bytes = b"", compressed: int = 0) -> int:
    """Copy `head` then a (decompressing) stream into a new file, enforcing the budget, the size a header declared
    (`limit`) and the bomb ratio (against the compressed bytes read through `counter`, else `compressed`)."""
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    total = 0
    try:
        chunk = head
        while True:
            if not chunk:
                try:
                    chunk = reader.read(4 << 20)
                except FirmwareError as e:
                    raise FirmwareError(label, e.reason) from e
                except DECOMPRESS_ERRORS as e:
                    raise FirmwareError(label, f"compressed data is damaged: {e}") from e
                except zipfile.BadZipFile as e:  # a zip member's CRC or header
                    raise FirmwareError(label, f"damaged zip member: {e}") from e
                if not chunk:
                    break
            total += len(chunk)
            if limit is not None and total > limit:
                raise FirmwareError(label, f"holds more than the {limit} bytes its header declares")
            budget.check_file_size(total, label)
            budget.take(len(chunk), label)
            if counter is not None:
                budget.check_ratio(total, counter.count, label)
            elif compressed:
                budget.check_ratio(total, compressed, label)
            os.write(fd, chunk)
            chunk = b""
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(out_path)
        budget.give_back(total)
        raise
    os.close(fd)
    return total
