"""Read a pcap or pcapng capture as a stream of decoded IP packets, with bounded memory and time.

dpkt (a maintained, pure-Python packet library with pcap/pcapng readers and Ethernet/IP/TCP/UDP/DNS/TLS decoders)
reads the file lazily, one packet at a time; nothing but the current packet is held. The file object dpkt reads
through is wrapped so that:
- a record that claims to be larger than MAX_RECORD (a damaged or hostile length) stops the read with a warning
  instead of an allocation of that size;
- a short read (the file ends inside a packet) is noticed: dpkt itself would hand back the short packet silently.
A truncated or damaged capture is a warning with how many packets and bytes were read, never an exception.
"""

from __future__ import annotations

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

    def __init__(self, f: BinaryIO, name: str) -> None:
        self._f = f
        self.name = name
        self.offset = 0
        self.short: tuple[int, int, int] | None = None  # (offset, wanted, got)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > MAX_RECORD:
            raise _Damaged(f"a record at byte {self.offset} claims {n} bytes (more than {MAX_RECORD})")
        data = self._f.read(n)
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
    fin: bool = False


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


def _pcap_records(guard: _Guard, path: Path) -> Iterator[tuple[float, bytes]]:
    """Classic pcap records after the file header dpkt has read: the 16-byte record header is read with one
    struct call (dpkt's reader builds an object per record, which halves the throughput)."""
    with path.open("rb") as f:
        magic = f.read(4)
    little = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    divisor = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    header = struct.Struct("<IIII" if little else ">IIII")
    while True:
        raw = guard.read(16)
        if len(raw) < 16:
            return  # end of file (a partial header is noticed by the guard)
        sec, frac, caplen, _ = header.unpack(raw)
        yield sec + frac / divisor, guard.read(caplen)


def read_packets(path: Path, state: ReadState, max_seconds: float | None = None) -> Iterator[Packet]:
    """Yield the capture's IP packets in file order. Problems end the stream and are recorded in `state`;
    CaptureError only when the file cannot be read as a capture at all."""
    state.format = sniff_format(path)
    started = time.monotonic()
    try:
        f = path.open("rb", buffering=1 << 20)
    except OSError as e:
        raise CaptureError(f"{path}: cannot be read: {e.strerror}") from e
    with f:
        guard = _Guard(f, str(path))
        try:
            reader = dpkt.pcapng.Reader(guard) if state.format == "pcapng" else dpkt.pcap.Reader(guard)
        except (ValueError, dpkt.UnpackError, _Damaged, struct_error) as e:
            raise CaptureError(f"{path}: damaged {state.format} header: {e}") from e
        state.link_type = reader.datalink()
        records = reader if state.format == "pcapng" else _pcap_records(guard, path)
        try:
            for ts, buf in records:
                if guard.short is not None:
                    off, wanted, got = guard.short
                    state.truncated = (f"the file ends inside a packet at byte {off} ({got} of {wanted} bytes): "
                                       f"{state.packets} whole packets read")
                    break
                state.packets += 1
                state.bytes_read = guard.offset
                t = float(ts)
                state.first_ts = t if state.first_ts is None else state.first_ts
                state.last_ts = t
                if max_seconds is not None and state.packets % 4096 == 0 and \
                        time.monotonic() - started > max_seconds:
                    state.stopped_by = f"time limit {max_seconds:.0f} s reached after {state.packets} packets"
                    break
                pkt = _to_packet(state.link_type, t, buf)
                if pkt is not None:
                    state.decoded += 1
                    yield pkt
        except (dpkt.UnpackError, _Damaged, struct_error, ValueError) as e:
            state.truncated = (f"damaged or truncated after {state.packets} whole packets (byte {guard.offset}): "
                               f"{type(e).__name__}: {e}")
        if state.truncated is None and guard.short is not None and state.stopped_by is None:
            off, wanted, got = guard.short
            state.truncated = (f"the file ends inside a record at byte {off} ({got} of {wanted} bytes): "
                               f"{state.packets} whole packets read")
        state.bytes_read = guard.offset


_IPV4 = struct.Struct("!BxH2xHxB2x4s4s")  # version/IHL, total length, fragment field, protocol, source, destination
_PORTS_TCP = struct.Struct("!HH8xBB")  # ports, data offset, flags
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
        sport, dport, off, f = _PORTS_TCP.unpack_from(buf, l4)
        off = (off >> 4) * 4
        return Packet(ts, src, dst, sport, dport, "tcp", buf[l4 + off:end] if off >= 20 else b"", total,
                      bool(f & 0x02), bool(f & 0x10), bool(f & 0x05))
    if proto == 17 and end >= l4 + 8:
        sport, dport = _PORTS.unpack_from(buf, l4)
        return Packet(ts, src, dst, sport, dport, "udp", buf[l4 + 8:end], total)
    return Packet(ts, src, dst, 0, 0, "other", b"", total)


def _to_packet(link: int, ts: float, buf: bytes) -> Packet | None:
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
                      bool(f & dpkt.tcp.TH_SYN), bool(f & dpkt.tcp.TH_ACK), bool(f & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST)))
    if isinstance(seg, dpkt.udp.UDP):
        return Packet(ts, src, dst, seg.sport, seg.dport, "udp", bytes(seg.data), ip_len)
    return Packet(ts, src, dst, 0, 0, "other", b"", ip_len)


def is_private(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return a.is_private or a.is_link_local or a.is_loopback

