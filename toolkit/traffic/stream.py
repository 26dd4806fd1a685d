"""What one side of a TCP connection sent, in sequence order, searched for identifiers with bounded memory.

- `Reassembler` puts segments in sequence order: retransmitted bytes are dropped, overlapping segments trimmed,
  segments that arrive early wait (at most MAX_PENDING_SEGMENTS / MAX_PENDING_BYTES per direction; past that, or
  at the end of the capture, the missing bytes are a gap, skipped and counted).
- `Carry` searches the stream chunk by chunk and keeps only the last `longest needle - 1` bytes between chunks,
  so a value split across two segments is found without keeping the stream.
- `HttpBodies` follows HTTP/1.x requests in the stream and decodes their bodies (chunked transfer encoding,
  gzip / deflate content encoding), bounded by MAX_DECODED bytes of output per connection, for the same search.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from toolkit.traffic.identifiers import Matcher, Needle, context

MASK = 0xFFFFFFFF
HALF = 1 << 31
MAX_PENDING_SEGMENTS = 64
MAX_PENDING_BYTES = 64 * 1024
MAX_HEAD = 16 * 1024  # an HTTP request head longer than this is not followed
MAX_DECODED = 1 << 20  # decoded (de-chunked, decompressed) body bytes searched per connection
_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"PATCH ", b"OPTIONS ")

Hit = tuple[Needle, str]  # the needle found and the bytes around it (escaped)


class Reassembler:
    """One direction of a TCP connection: `feed` returns the new in-order bytes as (chunk, after_gap) pairs."""

    __slots__ = ("next_seq", "pending", "pending_bytes", "gaps", "retransmitted")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.gaps = 0
        self.retransmitted = 0

    def syn(self, seq: int) -> None:
        if self.next_seq is None:
            self.next_seq = (seq + 1) & MASK

    def feed(self, seq: int, data: bytes, may_wait: bool = True) -> list[tuple[bytes, bool]]:
        """`may_wait` False: an early segment is not held (the capture-wide bound on held bytes is reached); the
        bytes missing before it are a gap."""
        nxt = self.next_seq
        if nxt is None:  # the connection started before the capture: take the stream from here
            nxt = seq
        ahead = (seq - nxt) & MASK
        if ahead == 0 or ahead >= HALF:
            if ahead:  # starts before what was already delivered: a retransmission or an overlap
                seen = (nxt - seq) & MASK
                if seen >= len(data):
                    self.retransmitted += 1
                    self.next_seq = nxt
                    return []
                data = data[seen:]
            self.next_seq = (nxt + len(data)) & MASK
            out = [(data, False)]
            if self.pending:
                self._drain(out)
            return out
        have = self.pending.get(seq)
        if have is None or len(have) < len(data):  # early: wait for the bytes before it
            self.pending[seq] = data
            self.pending_bytes += len(data) - (len(have) if have else 0)
        self.next_seq = nxt
        out = []
        if not may_wait or len(self.pending) > MAX_PENDING_SEGMENTS or self.pending_bytes > MAX_PENDING_BYTES:
            self._skip_gap(out)
        return out

    def flush(self) -> list[tuple[bytes, bool]]:
        """At the end: what still waits is delivered after its gap."""
        out: list[tuple[bytes, bool]] = []
        while self.pending:
            self._skip_gap(out)
        return out

    def _skip_gap(self, out: list[tuple[bytes, bool]]) -> None:
        nxt = self.next_seq or 0
        first = min(self.pending, key=lambda s: (s - nxt) & MASK)
        self.gaps += 1
        data = self.pending.pop(first)
        self.pending_bytes -= len(data)
        self.next_seq = (first + len(data)) & MASK
        out.append((data, True))
        self._drain(out)

    def _drain(self, out: list[tuple[bytes, bool]]) -> None:
        progress = True
        while progress and self.pending:
            progress = False
            nxt = self.next_seq or 0
            for seq in list(self.pending):
                ahead = (seq - nxt) & MASK
                if ahead and ahead < HALF:
                    continue
                data = self.pending.pop(seq)
                self.pending_bytes -= len(data)
                seen = (nxt - seq) & MASK
                if seen < len(data):
                    data = data[seen:]
                    nxt = self.next_seq = (nxt + len(data)) & MASK
                    out.append((data, False))
                else:
                    self.retransmitted += 1
                progress = True


class Carry:
    """Search a stream chunk by chunk; the last `longest needle - 1` bytes of one chunk are searched again with
    the next, and only matches that end in the new chunk are reported (each is reported once)."""

    __slots__ = ("tail", "keep")

    def __init__(self, matcher: Matcher) -> None:
        self.tail = b""
        self.keep = max(matcher.longest - 1, 0)

    def search(self, matcher: Matcher, data: bytes, after_gap: bool = False) -> list[Hit]:
        tail = b"" if after_gap else self.tail
        buf = tail + data if tail else data
        hits = matcher.find(buf)
        self.tail = buf[-self.keep:] if self.keep else b""
        if not hits:
            return []
        cut = len(tail)
        return [(needle, context(buf, start, end)) for needle, start, end in hits if end > cut]


class HttpBodies:
    """Follow the HTTP/1.x requests of a stream and hand the decoded bodies (de-chunked, decompressed) to `out`.

    Only bodies that need decoding are handed over (a plain body is already searched as the stream). A damaged
    body (bad chunk size, corrupt gzip) stops the following of this stream and is recorded in `problem`."""

    __slots__ = ("state", "head", "remaining", "chunked", "chunk_line", "inflate", "raw_deflate", "decoded",
                 "problem", "limited", "out")

    def __init__(self, out: Callable[[bytes], None]) -> None:
        self.out = out
        self.state = "head"  # head / skip / chunk-size / chunk-data / chunk-end / trailer / body / off
        self.head = b""
        self.remaining = 0
        self.chunked = False
        self.chunk_line = b""
        self.inflate: zlib._Decompress | None = None
        self.raw_deflate = False  # "deflate" sent without its zlib header (common): retried as raw deflate
        self.decoded = 0
        self.problem: str | None = None
        self.limited = False

    def feed(self, data: bytes) -> None:
        while data and self.state != "off":
            data = getattr(self, "_" + self.state.replace("-", "_"))(data)

    def _stop(self, problem: str | None = None) -> bytes:
        self.state = "off"
        self.problem = self.problem or problem
        return b""

    def _head(self, data: bytes) -> bytes:
        self.head += data
        if not self.head.startswith(_METHODS) and not any(m.startswith(self.head) for m in _METHODS):
            return self._stop()
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return self._stop() if len(self.head) > MAX_HEAD else b""
        head, rest = self.head[:end], self.head[end + 4:]
        self.head = b""
        fields: dict[bytes, bytes] = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        self.chunked = b"chunked" in fields.get(b"transfer-encoding", b"")
        coding = fields.get(b"content-encoding", b"")
        self.inflate = None
        if coding in (b"gzip", b"x-gzip", b"deflate"):
            self.inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, told apart by zlib
            self.raw_deflate = coding == b"deflate"
        try:
            self.remaining = int(fields.get(b"content-length", b"0") or b"0")
        except ValueError:
            return self._stop(f"HTTP request with a bad Content-Length {fields[b'content-length'][:40]!r}")
        if self.chunked:
            self.state = "chunk-size"
        elif self.inflate is not None:
            self.state = "body"
        else:
            self.state = "skip"  # a plain body: the stream search sees it as it is
        return rest

    def _counted(self, data: bytes, emit: bool, then: str) -> bytes:
        """Take the `remaining` bytes of the current part (handed on as body bytes when `emit`), then go to `then`."""
        n = min(self.remaining, len(data))
        self.remaining -= n
        if emit:
            self._emit(data[:n])
        if not self.remaining and self.state != "off":
            self.state = then
            if then == "head":  # the end of a message
                self.inflate = None
            elif then == "chunk-end":
                self.remaining = 2  # the CRLF after a chunk's data
        return data[n:]

    def _skip(self, data: bytes) -> bytes:
        return self._counted(data, False, "head")

    def _body(self, data: bytes) -> bytes:
        return self._counted(data, True, "head")

    def _chunk_size(self, data: bytes) -> bytes:
        i = data.find(b"\n")
        if i < 0:
            self.chunk_line += data
            return self._stop("HTTP chunk-size line too long") if len(self.chunk_line) > 1024 else b""
        line = (self.chunk_line + data[:i]).split(b";", 1)[0].strip()
        self.chunk_line = b""
        try:
            size = int(line, 16)
        except ValueError:
            return self._stop(f"HTTP chunked body with a bad chunk size {line[:40]!r}")
        self.remaining = size
        self.state = "chunk-data" if size else "trailer"
        return data[i + 1:]

    def _chunk_data(self, data: bytes) -> bytes:
        return self._counted(data, True, "chunk-end")

    def _chunk_end(self, data: bytes) -> bytes:
        return self._counted(data, False, "chunk-size")

    def _trailer(self, data: bytes) -> bytes:
        self.chunk_line += data
        i = self.chunk_line.find(b"\r\n")
        if i < 0:
            return self._stop("HTTP chunked trailer too long") if len(self.chunk_line) > 4096 else b""
        if i == 0:  # the empty line that ends the message
            rest = self.chunk_line[2:]
            self.chunk_line = b""
            self.inflate = None
            self.state = "head"
            return rest
        self.chunk_line = self.chunk_line[i + 2:]  # a trailer field: skipped
        return self._trailer(b"")

    def _emit(self, data: bytes) -> None:
        if not data or self.state == "off":
            return
        if self.inflate is not None:
            budget = MAX_DECODED - self.decoded
            if budget <= 0:
                self.limited = True
                self._stop()
                return
            try:
                data = self._inflate(data, budget)
            except zlib.error as e:
                self._stop(f"HTTP body not decompressed: {e}")
                return
            if self.inflate.unconsumed_tail:
                self.limited = True
        elif self.decoded >= MAX_DECODED:
            self.limited = True
            self._stop()
            return
        self.decoded += len(data)
        if data:
            self.out(data)

    def _inflate(self, data: bytes, budget: int) -> bytes:
        assert self.inflate is not None
        try:
            out = self.inflate.decompress(data, budget)
            self.raw_deflate = False  # the header was read: a later error is damage, not the other deflate
            return out
        except zlib.error:
            if not self.raw_deflate:
                raise
            self.raw_deflate = False  # the first bytes were not a zlib header: raw deflate, once
            self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.inflate.decompress(data, budget)
