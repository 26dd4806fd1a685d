"""Read a pcap or pcapng capture as a stream of frames, with bounded memory and time.

Classic pcap is read in 1 MiB blocks and cut into records with `struct` (dpkt's reader makes two reads and an
object per record); pcapng goes through dpkt (a maintained, pure-Python packet library with pcap/pcapng readers
and Ethernet/IP/TCP/UDP/DNS decoders), through a file wrapper that:
- stops the read with a warning when a record claims to be larger than MAX_RECORD (a damaged or hostile length)
  instead of allocating that size (the pcap reader checks the same);
- notices a short read (the file ends inside a packet): dpkt itself would hand back the short packet silently.
Records are handed over in lists (one per block, or 512 pcapng records), and the file's SHA-256 is computed from the
bytes as they are read. A truncated or damaged capture is a warning with how many packets and bytes were read,
never an exception. `decode` turns a frame into a Packet (Ethernet + IPv4 + TCP/UDP straight from the header
fields, everything else with dpkt).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from struct import error as struct_error  # dpkt raises struct.error on some short headers
from typing import BinaryIO

import dpkt

log = logging.getLogger(__name__)

MAX_RECORD = 1 << 20  # a packet record above 1 MiB is damage (snaplen is at most 256 KiB in practice)
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}
# Link types whose IP header we can find: Ethernet, raw IP (two codes), Linux cooked v1, loopback/null.
DLT_EN10MB, DLT_RAW, DLT_RAW_ALT, DLT_LINUX_SLL, DLT_NULL, DLT_IPV4, DLT_IPV6 = 1, 101, 12, 113, 0, 228, 229


class CaptureError(Exception):
    """The file is not a capture phonehome can read (message names the file and the reason)."""


class _Damaged(Exception):
    pass


class _Guard:
    """File wrapper between dpkt and the file: bounds record sizes, notices short reads, counts bytes."""

    def __init__(self, f: BinaryIO, name: str, hasher: Hasher) -> None:
        self._f = f
        self._hasher = hasher
        self.name = name
        self.offset = 0
        self.short: tuple[int, int, int] | None = None  # (offset, wanted, got)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > MAX_RECORD:
            raise _Damaged(f"a record at byte {self.offset} claims {n} bytes (more than {MAX_RECORD})")
        data = self._f.read(n)
        self._hasher.update(data)
        if 0 < len(data) < n and self.short is None:
            self.short = (self.offset, n, len(data))
        self.offset += len(data)
        return data


@dataclass(slots=True)
class Packet:
    """One decoded IP packet: addresses, ports, protocol, the transport payload and the IP length."""

    ts: float
    src: str
    dst: str
    sport: int
    dport: int
    proto: str  # "tcp" / "udp" / "other"
    payload: bytes
    ip_len: int
    syn: bool = False
    ack: bool = False
    fin: bool = False  # FIN or RST
    seq: int = 0  # TCP sequence number of the payload's first byte
    key: bytes = b""  # raw source and destination addresses, then ports: the connection table's key


@dataclass
class ReadState:
    """What the reader saw, for CaptureInfo: counts, times and problems."""

    format: str = "unknown"
    link_type: int | None = None
    packets: int = 0
    decoded: int = 0
    bytes_read: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    truncated: str | None = None
    stopped_by: str | None = None
    sha256: str | None = None


def _ip_of(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _decode(link: int, buf: bytes) -> dpkt.Packet | None:
    """The IP layer of a link-layer frame, or None."""
    if link == DLT_EN10MB:
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
    elif link in (DLT_RAW, DLT_RAW_ALT, DLT_IPV4, DLT_IPV6):
        ip = dpkt.ip6.IP6(buf) if buf[:1] and buf[0] >> 4 == 6 else dpkt.ip.IP(buf)
    elif link == DLT_LINUX_SLL:
        ip = dpkt.sll.SLL(buf).data
    elif link == DLT_NULL:
        ip = dpkt.loopback.Loopback(buf).data
    else:
        return None
    return ip if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) else None


def sniff_format(path: Path) -> str:
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CaptureError(f"{path}: cannot be read: {e.strerror or e}") from e
    if magic == _PCAPNG_MAGIC:
        return "pcapng"
    if magic in _PCAP_MAGICS:
        return "pcap"
    raise CaptureError(f"{path}: not a pcap or pcapng capture (starts with {magic.hex() or 'nothing'})")


_BLOCK = 1 << 20  # classic pcap is read in blocks of this size; records are cut out of the block with struct
_PCAPNG_BATCH = 512

Frame = tuple[float, bytes]  # (time, link-layer frame)


class _Truncated(Exception):
    """The file ends inside a record (message without the packet count, which the caller knows)."""


def _pcap_batches(f: BinaryIO, state: ReadState, magic: bytes, hasher: Hasher) -> Iterator[list[Frame]]:
    """Classic pcap records after the 24-byte file header: one list of (time, frame) per 1 MiB block.

    dpkt's pcap reader makes two `read` calls and a header object per record, which cost more than the rest of the
    analysis of most packets; here a record header is one `unpack_from` on the block in memory, and the records of
    a block are handed over as one list (no generator switch per packet). Memory stays flat: one block (plus a
    record that crosses its end). A record that claims more than MAX_RECORD bytes is damage (_Damaged, nothing is
    allocated for it); a file that ends inside a record raises _Truncated after the whole records before it."""
    little = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    divisor = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    unpack = struct.Struct("<IIII" if little else ">IIII").unpack_from
    offset = 24  # file offset of block[0]
    block = b""
    pos = 0
    while True:
        batch: list[Frame] = []
        append = batch.append
        end = len(block)
        last_header = end - 16
        while pos <= last_header:
            sec, frac, caplen, _ = unpack(block, pos)
            if caplen > MAX_RECORD:
                if batch:
                    yield batch
                state.bytes_read = offset + pos
                raise _Damaged(f"a record at byte {offset + pos} claims {caplen} bytes (more than {MAX_RECORD})")
            start = pos + 16
            if start + caplen > end:
                break
            pos = start + caplen
            append((sec + frac / divisor, block[start:pos]))
        state.bytes_read = offset + pos
        if batch:
            yield batch
        more = f.read(_BLOCK)
        if not more:
            avail = end - pos
            if avail:
                wanted = unpack(block, pos)[2] + 16 if avail >= 16 else 16
                raise _Truncated(f"the file ends inside a packet at byte {offset + pos} ({avail} of {wanted} bytes)")
            return
        hasher.update(more)
        offset += pos
        block = block[pos:] + more
        pos = 0


def _pcapng_batches(reader: Iterator[Frame], guard: _Guard) -> Iterator[list[Frame]]:
    """dpkt's pcapng records in lists of _PCAPNG_BATCH; a record during whose read the file ended is dropped and
    raises _Truncated (dpkt itself would hand back the short record)."""
    batch: list[Frame] = []
    try:
        for ts, buf in reader:
            if guard.short is not None:
                break
            batch.append((float(ts), buf))
            if len(batch) == _PCAPNG_BATCH:
                yield batch
                batch = []
    except (dpkt.UnpackError, _Damaged, struct_error, ValueError):
        if batch:
            yield batch  # the whole records before the damage are analysed
        raise
    if batch:
        yield batch
    if guard.short is not None:
        off, wanted, got = guard.short
        raise _Truncated(f"the file ends inside a record at byte {off} ({got} of {wanted} bytes)")


class Hasher:
    """SHA-256 of the capture, computed from the bytes as they are read (one pass over the file, not two)."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def finish(self, f: BinaryIO) -> str:
        """Hash what the read did not reach (a limit or damage stopped it) and return the file's SHA-256."""
        for chunk in iter(lambda: f.read(_BLOCK), b""):
            self._h.update(chunk)
        return self._h.hexdigest()


def read_batches(path: Path, state: ReadState, max_seconds: float | None = None) -> Iterator[list[Frame]]:
    """The capture's records as lists of (time, link-layer frame), in file order. Problems end the stream and are
    recorded in `state` (counts, times, truncation, the time limit); CaptureError only when the file cannot be
    read as a capture at all. `state.sha256` is the file's SHA-256, computed on the way (set at the end)."""
    state.format = sniff_format(path)
    started = time.monotonic()
    try:
        f = path.open("rb", buffering=0 if state.format == "pcap" else 1 << 20)
    except OSError as e:
        raise CaptureError(f"{path}: cannot be read: {e.strerror}") from e
    hasher = Hasher()
    with f:
        guard = _Guard(f, str(path), hasher)
        try:
            if state.format == "pcapng":
                reader = dpkt.pcapng.Reader(guard)
                state.link_type = reader.datalink()
                batches = _pcapng_batches(reader, guard)
            else:
                header = guard.read(24)
                if len(header) < 24:
                    raise ValueError(f"the file header is {len(header)} of 24 bytes")
                state.link_type = struct.unpack("<I" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
                                                else ">I", header[20:24])[0]
                batches = _pcap_batches(f, state, header[:4], hasher)
        except (ValueError, dpkt.UnpackError, _Damaged, struct_error) as e:
            raise CaptureError(f"{path}: damaged {state.format} header: {e}") from e
        try:
            for batch in batches:
                if state.first_ts is None:
                    state.first_ts = batch[0][0]
                state.last_ts = batch[-1][0]
                state.packets += len(batch)
                yield batch
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    state.stopped_by = f"time limit {max_seconds:.0f} s reached after {state.packets} packets"
                    break
        except _Truncated as e:
            state.truncated = f"{e}: {state.packets} whole packets read"
        except (dpkt.UnpackError, _Damaged, struct_error, ValueError) as e:
            offset = state.bytes_read if state.format == "pcap" else guard.offset
            state.truncated = (f"damaged or truncated after {state.packets} whole packets (byte {offset}): "
                               f"{type(e).__name__}: {e}")
        finally:
            if state.format == "pcapng":
                state.bytes_read = guard.offset
            state.sha256 = hasher.finish(f)


def read_packets(path: Path, state: ReadState, max_seconds: float | None = None) -> Iterator[Packet]:
    """The capture's IP packets, decoded one by one (the analysis decodes only what it needs; see scan.py)."""
    link = 0
    for batch in read_batches(path, state, max_seconds):
        link = state.link_type or 0
        for ts, buf in batch:
            pkt = decode(link, ts, buf)
            if pkt is not None:
                state.decoded += 1
                yield pkt


_IPV4 = struct.Struct("!BxH2xHxB2x4s4s")  # version/IHL, total length, fragment field, protocol, source, destination
_PORTS_TCP = struct.Struct("!HHI4xBB")  # ports, sequence number, data offset, flags
_PORTS = struct.Struct("!HH")
_ADDRS: dict[bytes, str] = {}


def _addr(raw: bytes) -> str:
    text = _ADDRS.get(raw)
    if text is None:
        if len(_ADDRS) > 65536:
            _ADDRS.clear()
        text = _ADDRS[raw] = socket.inet_ntoa(raw)
    return text


def _fast_ipv4(ts: float, buf: bytes) -> Packet | None:
    """Ethernet + IPv4 + TCP/UDP, the bulk of any phone capture, read straight from the header fields.

    dpkt builds an object per layer (several µs each); reading the few fields needed here with one struct call
    per layer is what makes a high throughput possible. Anything else (VLAN, IPv6, damaged lengths, other link
    types) goes through dpkt."""
    vihl, total, frag, proto, src_raw, dst_raw = _IPV4.unpack_from(buf, 14)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20 or len(buf) < 14 + ihl:
        return None
    end = min(len(buf), 14 + total) if total >= ihl else len(buf)
    src, dst = _addr(src_raw), _addr(dst_raw)
    l4 = 14 + ihl
    if frag & 0x1FFF:  # a later fragment: no transport header
        return Packet(ts, src, dst, 0, 0, "other", b"", total)
    if proto == 6 and end >= l4 + 20:
        sport, dport, seq, off, f = _PORTS_TCP.unpack_from(buf, l4)
        off = (off >> 4) * 4
        return Packet(ts, src, dst, sport, dport, "tcp", buf[l4 + off:end] if off >= 20 else b"", total,
                      f & 0x02 != 0, f & 0x10 != 0, f & 0x05 != 0, seq, src_raw + dst_raw + buf[l4:l4 + 4])
    if proto == 17 and end >= l4 + 8:
        sport, dport = _PORTS.unpack_from(buf, l4)
        return Packet(ts, src, dst, sport, dport, "udp", buf[l4 + 8:end], total, key=src_raw + dst_raw + buf[l4:l4 + 4])
    return Packet(ts, src, dst, 0, 0, "other", b"", total)


def decode(link: int, ts: float, buf: bytes) -> Packet | None:
    """The IP packet in a link-layer frame, or None (not IP, or damaged)."""
    if link == DLT_EN10MB and buf[12:14] == b"\x08\x00" and len(buf) >= 34:
        fast = _fast_ipv4(ts, buf)
        if fast is not None:
            return fast
    try:
        ip = _decode(link, buf)
    except (dpkt.UnpackError, IndexError, ValueError):
        return None
    if ip is None:
        return None
    try:
        src, dst = _ip_of(ip.src), _ip_of(ip.dst)
    except (ValueError, OSError):
        return None
    ip_len = ip.len if isinstance(ip, dpkt.ip.IP) else ip.plen + 40
    seg = ip.data
    if isinstance(seg, dpkt.tcp.TCP):
        f = seg.flags
        return Packet(ts, src, dst, seg.sport, seg.dport, "tcp", bytes(seg.data), ip_len,
                      bool(f & dpkt.tcp.TH_SYN), bool(f & dpkt.tcp.TH_ACK), bool(f & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST)),
                      seg.seq, raw_key(ip.src, ip.dst, seg.sport, seg.dport))
    if isinstance(seg, dpkt.udp.UDP):
        return Packet(ts, src, dst, seg.sport, seg.dport, "udp", bytes(seg.data), ip_len,
                      key=raw_key(ip.src, ip.dst, seg.sport, seg.dport))
    return Packet(ts, src, dst, 0, 0, "other", b"", ip_len)


def raw_key(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    """A connection's key in one direction: the raw addresses, then the ports (as in the frame of an IPv4 packet
    with a 20-byte header, bytes 26 to 38)."""
    return src + dst + _PORTS.pack(sport, dport)


def text_key(src: str, dst: str, sport: int, dport: int) -> bytes:
    """raw_key from addresses written as text."""
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    return raw_key(socket.inet_pton(family, src), socket.inet_pton(family, dst), sport, dport)


def reverse_key(key: bytes) -> bytes:
    """The key of the other direction."""
    n = (len(key) - 4) // 2
    return key[n:2 * n] + key[:n] + key[2 * n + 2:] + key[2 * n:2 * n + 2]


def is_private(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return a.is_private or a.is_link_local or a.is_loopback

