"""Analyse a network capture of the phone: destinations and the names the capture gives them (DNS answers, TLS SNI,
HTTP Host), attribution to apps through their hard-coded endpoints and the phone's netstats, identifiers leaving in
clear text (or URL-encoded, Base64, hashed), beacons, and high-entropy payloads that are not TLS.

One pass over the packets; per-connection and per-destination state is bounded (MAX_CONNECTIONS, MAX_DESTINATIONS)
and the time is bounded by `max_seconds`: a limit that cuts the analysis is named in the capture's warnings and
makes it incomplete.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dpkt

from toolkit import __version__
from toolkit.analysis.geo import country_for_ip
from toolkit.behaviour.periodic import describe_period, detect_period
from toolkit.models import ApkReport, Finding
from toolkit.models.common import Confidence, Severity
from toolkit.models.finding import RuleInfo, finding_fingerprint
from toolkit.models.traffic import (
    Attribution,
    Beacon,
    CaptureInfo,
    Destination,
    EncryptedPayload,
    FoundIn,
    IdentifierMatch,
    TrafficReport,
)
from toolkit.models.usage import DeviceIdentifier, UsageRecords
from toolkit.traffic.capture import (
    DLT_EN10MB,
    Frame,
    Packet,
    ReadState,
    decode,
    is_private,
    read_batches,
    reverse_key,
    text_key,
)
from toolkit.traffic.identifiers import Matcher, Needle, context, mask
from toolkit.traffic.stream import MAX_DECODED, Carry, HttpBodies, Reassembler
from toolkit.traffic.tls import TlsUnavailable, check_keylog, decrypt

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 200_000
MAX_DESTINATIONS = 50_000
MAX_MATCHES = 1000
UDP_IDLE = 60.0  # a UDP exchange after this much silence counts as a new "connection"
ENTROPY_SAMPLE = 1024
MAX_SEARCH_PER_CONNECTION = 1 << 20  # identifiers leave in the first requests; bulk uploads are not searched further
MIN_ENTROPY_BYTES = 128
MAX_HELD_STREAMS = 256  # streams that may hold early segments at once (each at most 64 KiB): 16 MiB in all
MAX_NOTES = 20
_MAX_NAME = 253
_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"PATCH ", b"OPTIONS ")
_DNS_PORTS = (b"\x00\x35", b"\x14\xe9")  # 53, 5353
_NOT_FRAGMENTED = (b"\x00\x00", b"\x40\x00")  # IPv4 flags and fragment offset: no fragment, with or without DF
_HOST_RE = re.compile(rb"\r\nHost:[ \t]*([^\r\n]{1,253})", re.I)
# Compressed or media formats are high-entropy without being encrypted.
_COMPRESSED = (b"\x1f\x8b", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"BZh", b"\x28\xb5\x2f\xfd", b"GIF8",
               b"RIFF", b"\x00\x00\x00\x18ftyp", b"\x00\x00\x00\x20ftyp", b"OggS")

IDENTIFIER_RULE = RuleInfo(
    id="identifier-seen-leaving", title="Phone identifier seen leaving in captured traffic",
    description="An identifier of this phone (IMEI, IMSI, ICCID, phone number, Android ID, serial, Wi-Fi MAC) was "
                "found in a captured payload: in clear, URL-encoded, Base64, or as its MD5/SHA-1/SHA-256 hex.",
    why="This is the leak itself, seen on the wire: the value left the phone for that destination.",
    severity=Severity.critical, confidence=Confidence.high, references=["CWE-359", "CWE-319"],
    tags=["capture", "identifier"])
BEACON_RULE = RuleInfo(
    id="capture-beacon", title="Regular connections to one destination (beacon)",
    description="Connections to the same destination at a regular period (median gap, at least six matching gaps, "
                "regularity >= 80%).",
    why="A fixed period is a scheduled report, not a person using an app.",
    severity=Severity.medium, confidence=Confidence.medium, references=["CWE-359"], tags=["capture", "beacon"])
ENCRYPTED_RULE = RuleInfo(
    id="capture-encrypted-payload", title="Encrypted payload to a hard-coded endpoint",
    description="A high-entropy payload that is not TLS (and not a known compressed format) was sent to an endpoint "
                "an app hard-codes.",
    why="Home-made encryption to a fixed address hides what is sent from the person and from inspection.",
    severity=Severity.medium, confidence=Confidence.medium, references=["CWE-359"], tags=["capture", "encrypted"])
RULES = (IDENTIFIER_RULE, BEACON_RULE, ENCRYPTED_RULE)


_CLOG = [0.0] + [c * math.log2(c) for c in range(1, 1 << 16)]  # c·log2(c), for the entropy sum in C


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte: log2(n) - Σ c·log2(c) / n over the byte counts c."""
    n = len(data)
    if not n:
        return 0.0
    if n >= len(_CLOG):
        data, n = data[:len(_CLOG) - 1], len(_CLOG) - 1
    return math.log2(n) - sum(map(_CLOG.__getitem__, Counter(data).values())) / n


def encrypted_entropy(data: bytes) -> float | None:
    """The entropy of a payload that looks encrypted (high entropy for its length, not TLS, not a known compressed
    format), else None."""
    if len(data) < MIN_ENTROPY_BYTES or data.startswith(_COMPRESSED) or is_tls(data):
        return None
    e = entropy(data)
    return e if e >= 0.9 * min(8.0, math.log2(len(data))) else None



def is_tls(data: bytes) -> bool:
    return len(data) >= 5 and data[0] in (20, 21, 22, 23) and data[1] == 3 and data[2] <= 4


def sni_of(data: bytes) -> str | None:
    """Server name from a TLS ClientHello in the first bytes a connection sends, or None.

    Read field by field (record, handshake, version, random, session id, cipher suites, compression methods,
    extensions): the SNI is the only field wanted, and dpkt's TLS decoder builds an object for every cipher suite
    and extension, which cost more than the rest of the connection's analysis. Out-of-range lengths give None."""
    if len(data) < 43 or data[0] != 22 or data[5] != 1:
        return None
    end = min(len(data), 5 + int.from_bytes(data[3:5], "big"))
    i = 5 + 4 + 2 + 32  # record header, handshake header, client version, random
    i += 1 + data[i]  # session id
    if i + 2 > end:
        return None
    i += 2 + int.from_bytes(data[i:i + 2], "big")  # cipher suites
    if i + 1 > end:
        return None
    i += 1 + data[i]  # compression methods
    if i + 2 > end:
        return None
    ext_end = min(end, i + 2 + int.from_bytes(data[i:i + 2], "big"))
    i += 2
    while i + 4 <= ext_end:
        ext_type = int.from_bytes(data[i:i + 2], "big")
        length = int.from_bytes(data[i + 2:i + 4], "big")
        i += 4
        if ext_type == 0:  # server_name: list length (2), name type (1), name length (2), name
            name_len = int.from_bytes(data[i + 3:i + 5], "big")
            if length < 5 or data[i + 2] != 0 or i + 5 + name_len > ext_end:
                return None
            name = data[i + 5:i + 5 + name_len].decode("ascii", "replace")
            return name[:_MAX_NAME].lower() if name else None
        i += length
    return None


def http_host(data: bytes) -> str | None:
    if not data.startswith(_HTTP_METHODS):
        return None
    m = _HOST_RE.search(data[:4096])
    if m is None:
        return None
    host = m.group(1).decode("latin-1").strip().lower()
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def http_body(data: bytes) -> bytes:
    i = data.find(b"\r\n\r\n")
    return data[i + 4:] if i >= 0 and data.startswith(_HTTP_METHODS) else data


@dataclass(slots=True)
class _Out:
    """The phone's side of a connection as a stream (the TCP payload reassembled, or the TLS application data
    decrypted), searched with a carry-over, and its HTTP request bodies decoded and searched too."""

    carry: Carry
    body_carry: Carry
    found_in: FoundIn  # "payload" or "tls"
    reasm: Reassembler | None = None
    bodies: HttpBodies | None = None


@dataclass(slots=True)
class _Conn:
    client: str
    client_port: int
    server: str
    server_port: int
    started: float
    last: float
    proto: str
    dest: _Dest | None
    sample: bytes = b""
    first_payload: bool = True
    tls: bool = False
    searched: int = 0
    judged: bool = False
    syn_seq: int | None = None
    closed: bool = False  # the phone sent FIN or RST: its stream state is gone, later payloads only counted
    out: _Out | None = None
    tls_out: _Out | None = None  # the decrypted side, with a key log
    ts: float = 0.0  # time of the packet being analysed (a match reports it)


@dataclass
class _Dest:
    ip: str
    port: int
    proto: str
    names: dict[str, set[str]] = field(default_factory=dict)  # name -> {"dns", "sni", "http_host"}
    conn_times: list[float] = field(default_factory=list)
    conn_bytes: list[int] = field(default_factory=list)
    packets_out: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    first: float | None = None
    last: float | None = None
    tls: bool = False
    http: bool = False
    encrypted: list[tuple[float, int, float]] = field(default_factory=list)  # (time, bytes, entropy)
    buckets: dict[int, int] = field(default_factory=dict)  # netstats bucket start -> bytes out


@dataclass
class AppEndpoints:
    """The hard-coded endpoints of the apps, by IP and by host name."""

    by_ip: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_host: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def of(cls, reports: Iterable[ApkReport]) -> AppEndpoints:
        out = cls()
        for r in reports:
            if not r.package:
                continue
            for e in list(r.endpoints) + [e for f in r.flows for e in f.endpoints]:
                host = (e.host or (e.value if e.kind in ("host", "ip") else "") or "").lower().strip("[]")
                if not host:
                    continue
                if re.fullmatch(r"[0-9.]+|[0-9a-f:]+", host):
                    out.by_ip[host].add(r.package)
                else:
                    out.by_host[host].add(r.package)
        return out

    def for_name(self, name: str) -> tuple[str, set[str]] | None:
        name = name.lower().rstrip(".")
        for host, pkgs in self.by_host.items():
            if name == host or name.endswith("." + host):
                return host, pkgs
        return None


class _Analysis:
    def __init__(self, identifiers: list[DeviceIdentifier], bucket_seconds: int | None) -> None:
        self.matcher = Matcher(identifiers)
        # Both directions of each connection, by protocol: raw key (capture.raw_key) -> (connection, sent by phone)
        self.tcp_flows: dict[bytes, tuple[_Conn, bool]] = {}
        self.udp_flows: dict[bytes, tuple[_Conn, bool]] = {}
        self.held = 0  # streams holding early segments (bounded by MAX_HELD_STREAMS)
        self.gaps = 0
        self.notes: list[str] = []
        self.dests: dict[tuple[str, int, str], _Dest] = {}
        self.dns: dict[str, set[str]] = defaultdict(set)  # ip -> names answered for it
        self.matches: list[IdentifierMatch] = []
        self.match_keys: set[tuple[str, str, str]] = set()
        self.limits: list[str] = []
        self.bucket = bucket_seconds

    def _limit(self, text: str) -> None:
        if text not in self.limits:
            self.limits.append(text)
            log.warning("traffic scan: %s", text)

    def run(self, batches: Iterable[list[Frame]], state: ReadState) -> None:
        """Analyse every frame of the capture.

        Most frames belong to a connection already seen. For Ethernet + IPv4 with a 20-byte header (the bulk of a
        phone capture) such a frame is recognised from its raw bytes (addresses and ports, at offset 26, are the
        key of `tcp_flows` / `udp_flows`) and analysed from its header fields without building a Packet: counted,
        and for what the phone sends, its payload handed to `_sent`. Everything else (new connections, SYNs, DNS,
        UDP the phone sends or after silence, other link types, IPv6, IP options, fragments, lengths that do not
        add up) is decoded by capture.decode and goes through `packet`, which does the same."""
        tcp_get, udp_get = self.tcp_flows.get, self.udp_flows.get
        packet, sent = self.packet, self._sent
        bucket = self.bucket
        decoded = 0
        for batch in batches:
            link = state.link_type or 0
            ether = link == DLT_EN10MB
            for ts, buf in batch:
                if ether and len(buf) >= 54 and buf[12:15] == b"\x08\x00\x45" and buf[20:22] in _NOT_FRAGMENTED:
                    proto = buf[23]
                    entry = tcp_get(buf[26:38]) if proto == 6 else udp_get(buf[26:38]) if proto == 17 else None
                    if entry is not None:
                        conn, outgoing = entry
                        dest = conn.dest
                        total = buf[16] << 8 | buf[17]
                        if proto == 6:
                            start = 34 + (buf[46] >> 4) * 4
                            quick = 54 <= start <= 14 + total <= len(buf) and not buf[47] & 0x02
                        else:
                            start = 42
                            quick = not outgoing and 28 <= total <= len(buf) - 14 and ts - conn.last <= UDP_IDLE \
                                and buf[34:36] not in _DNS_PORTS  # DNS answers are read by `packet`
                        if quick and dest is not None:
                            decoded += 1
                            conn.last = dest.last = ts
                            if not outgoing:
                                dest.bytes_in += total
                                continue
                            dest.packets_out += 1
                            dest.bytes_out += total
                            if bucket:
                                st = int(ts) - int(ts) % bucket
                                dest.buckets[st] = dest.buckets.get(st, 0) + total
                            end = 14 + total
                            if end > start:
                                if conn.tls:
                                    dest.conn_bytes[-1] += end - start
                                else:
                                    sent(conn, dest, ts, int.from_bytes(buf[38:42], "big"), buf[start:end])
                            if proto == 6 and buf[47] & 0x05 and not conn.closed:  # the phone's FIN or RST
                                self._fin(conn, int.from_bytes(buf[38:42], "big"))
                            continue
                pkt = decode(link, ts, buf)
                if pkt is not None:
                    decoded += 1
                    packet(pkt)
        state.decoded = decoded

    def packet(self, p: Packet) -> None:
        proto = p.proto
        if proto == "udp" and (p.sport == 53 or p.sport == 5353) and p.payload:
            self._dns(p.payload)
            return
        if proto == "other":
            return
        entry = (self.tcp_flows if proto == "tcp" else self.udp_flows).get(p.key)
        if entry is None or (proto == "udp" and p.ts - entry[0].last > UDP_IDLE):
            entry = self._open(p)
        conn, outgoing = entry
        conn.last = p.ts
        dest = conn.dest
        if dest is None:
            return
        dest.last = p.ts
        if not outgoing:
            dest.bytes_in += p.ip_len
            return
        dest.packets_out += 1
        dest.bytes_out += p.ip_len
        if self.bucket:
            st = int(p.ts) - int(p.ts) % self.bucket
            dest.buckets[st] = dest.buckets.get(st, 0) + p.ip_len
        if p.syn and conn.syn_seq is None:
            conn.syn_seq = p.seq
        if p.payload:
            self._sent(conn, dest, p.ts, p.seq, p.payload)
        if p.fin and proto == "tcp" and not conn.closed:
            self._fin(conn, p.seq)

    def _sent(self, conn: _Conn, dest: _Dest, ts: float, seq: int, payload: bytes) -> None:
        """A payload the phone sent: names (SNI, Host) from the first, then, unless TLS, the bytes in order to
        the entropy judgement and the identifier search."""
        dest.conn_bytes[-1] += len(payload)
        if conn.closed:
            return  # sent after the phone's FIN/RST (a retransmission): its stream was closed
        if conn.first_payload:
            conn.first_payload = False
            self._first_payload(conn, dest, payload)
        if conn.tls:
            return  # TLS application data is encrypted: no identifier can be read in it without its keys
        conn.ts = ts
        if conn.proto == "udp":
            self._data(conn, dest, payload, False)
            return
        out = conn.out
        if out is None:
            out = conn.out = self._new_out(conn, "payload", Reassembler())
            if conn.syn_seq is not None:
                out.reasm.syn(conn.syn_seq)  # type: ignore[union-attr]
        reasm = out.reasm
        assert reasm is not None
        if seq == reasm.next_seq and not reasm.pending:  # the next bytes, nothing waiting: the common case
            reasm.next_seq = (seq + len(payload)) & 0xFFFFFFFF
            self._data(conn, dest, payload, False)
            return
        held = bool(reasm.pending)
        for chunk, after_gap in reasm.feed(seq, payload, self.held < MAX_HELD_STREAMS):
            self._data(conn, dest, chunk, after_gap)
        if held != bool(reasm.pending):
            self.held += 1 if reasm.pending else -1

    def _new_out(self, conn: _Conn, found_in: FoundIn, reasm: Reassembler | None) -> _Out:
        out = _Out(Carry(self.matcher), Carry(self.matcher), found_in, reasm)
        out.bodies = HttpBodies(lambda data: self._body(conn, out, data))
        return out

    def _open(self, p: Packet) -> tuple[_Conn, bool]:
        """A new connection (or a UDP exchange after silence): which side is the phone, its destination."""
        outgoing = True
        if p.proto == "tcp" and p.syn and p.ack:
            outgoing = False  # a SYN-ACK: the other side started it
        elif p.proto == "tcp" and not p.syn:
            # Started before the capture: the phone is the private side, or the side with the higher port.
            if (is_private(p.dst) and not is_private(p.src)) or (
                    is_private(p.dst) == is_private(p.src) and p.dport > p.sport):
                outgoing = False
        elif p.proto == "udp" and is_private(p.dst) and not is_private(p.src):
            outgoing = False
        key, rkey = (p.key, reverse_key(p.key)) if outgoing else (reverse_key(p.key), p.key)
        client, client_port, server, server_port = (p.src, p.sport, p.dst, p.dport) if outgoing else \
            (p.dst, p.dport, p.src, p.sport)
        dest = self._dest(server, server_port, p.proto)
        conn = _Conn(client, client_port, server, server_port, p.ts, p.ts, p.proto, dest)
        if dest is not None:
            dest.conn_times.append(p.ts)
            dest.conn_bytes.append(0)
            if dest.first is None:
                dest.first = p.ts
        flows = self.tcp_flows if p.proto == "tcp" else self.udp_flows
        old = flows.get(key)
        if old is not None:  # a UDP exchange after silence: the old one ends
            self._close(old[0])
        if old is None and len(self.tcp_flows) + len(self.udp_flows) >= 2 * MAX_CONNECTIONS:
            self._limit(f"connection table full ({MAX_CONNECTIONS}): later connections counted, not decoded")
        else:
            flows[key] = (conn, True)
            flows[rkey] = (conn, False)
        return conn, outgoing

    def connections(self) -> list[_Conn]:
        """Every connection in the table (once each)."""
        return [c for flows in (self.tcp_flows, self.udp_flows) for c, outgoing in flows.values() if outgoing]

    def _first_payload(self, conn: _Conn, dest: _Dest, payload: bytes) -> None:
        name = sni_of(payload)
        if name:
            dest.names.setdefault(name, set()).add("sni")
        if is_tls(payload):
            dest.tls = conn.tls = True
        host = http_host(payload)
        if host:
            dest.http = True
            dest.names.setdefault(host[:_MAX_NAME], set()).add("http_host")

    def _data(self, conn: _Conn, dest: _Dest, data: bytes, after_gap: bool) -> None:
        """In-order bytes the phone sent on a connection (a UDP datagram, or new bytes of a TCP stream)."""
        if not conn.judged and len(conn.sample) < ENTROPY_SAMPLE:
            conn.sample += http_body(data) if not conn.sample else data
            if len(conn.sample) >= ENTROPY_SAMPLE or (len(conn.sample) >= MIN_ENTROPY_BYTES and conn.proto == "udp"):
                sample = bytes(conn.sample[:ENTROPY_SAMPLE])
                e = encrypted_entropy(sample)
                if e is not None:
                    dest.encrypted.append((conn.ts, len(sample), e))
                conn.sample = b""  # judged once per connection; the memory goes back
                conn.judged = True
        if conn.searched >= MAX_SEARCH_PER_CONNECTION:
            self._limit(f"identifier search: only the first {MAX_SEARCH_PER_CONNECTION} bytes a connection sends "
                        "are searched")
            return
        conn.searched += len(data)
        out = conn.out
        if out is None:  # UDP: each datagram on its own
            for n, s, e in self.matcher.find(data):
                self._match(conn, n, context(data, s, e), "payload")
        else:
            self._stream(conn, out, data, after_gap)

    def _stream(self, conn: _Conn, out: _Out, data: bytes, after_gap: bool) -> None:
        """New in-order bytes of a stream: searched (with the carry-over), and followed as HTTP requests."""
        hits = out.carry.search(self.matcher, data, after_gap)
        bodies = out.bodies
        if bodies is not None:
            if after_gap:
                out.bodies = None  # the HTTP framing is lost with the missing bytes
            else:
                bodies.feed(data)
                if bodies.state == "off" and not bodies.problem and not bodies.limited:
                    out.bodies = None  # not HTTP: nothing more to follow
        for needle, ctx in hits:
            self._match(conn, needle, ctx, out.found_in)

    def _body(self, conn: _Conn, out: _Out, data: bytes) -> None:
        """A decoded (de-chunked, decompressed) piece of an HTTP request body."""
        found_in: FoundIn = "http_body" if out.found_in == "payload" else out.found_in
        for needle, ctx in out.body_carry.search(self.matcher, data):
            self._match(conn, needle, ctx, found_in)

    def tls(self, capture: Path, keylog: Path, timeout: float | None) -> None:
        """Search the phone's decrypted TLS application data (tshark with the key log) for identifiers."""
        tls_conns = sum(1 for c in self.connections() if c.tls)
        decrypted: set[int] = set()
        try:
            for d in decrypt(capture, keylog, timeout):
                try:
                    entry = self.tcp_flows.get(text_key(d.src, d.dst, d.sport, d.dport))
                except OSError:  # an address tshark wrote in a form not read back
                    entry = None
                if entry is None:
                    continue
                conn, outgoing = entry
                decrypted.add(d.stream)
                if not outgoing:
                    continue
                conn.ts = d.ts
                out = conn.tls_out
                if out is None:
                    out = conn.tls_out = self._new_out(conn, "tls", None)
                self._stream(conn, out, d.data, False)
        except TlsUnavailable as e:
            self._note(str(e))
            if tls_conns:
                self._limit(str(e))
            if not decrypted:
                return
        self._note(f"TLS: {len(decrypted)} of {tls_conns} TLS connection(s) decrypted with the key log "
                   f"{keylog.name} and searched inside"
                   + ("; the others have no secret in it" if len(decrypted) < tls_conns else ""))

    def _match(self, conn: _Conn, needle: Needle, ctx: str, found_in: FoundIn) -> None:
        k = (needle.kind, needle.encoding, f"{conn.server}:{conn.server_port}")
        if k in self.match_keys or len(self.matches) >= MAX_MATCHES:
            return
        self.match_keys.add(k)
        self.matches.append(IdentifierMatch(
            kind=needle.kind, value=needle.value, encoding=needle.encoding, matched=needle.text.decode("latin-1"),
            time=datetime.fromtimestamp(conn.ts, UTC), source=f"{conn.client}:{conn.client_port}",
            destination=f"{conn.server}:{conn.server_port}", country=country_for_ip(conn.server), context=ctx,
            found_in=found_in))

    def _fin(self, conn: _Conn, seq: int) -> None:
        """The phone's FIN or RST: the connection is closed now when every byte before it was seen in order;
        otherwise at the end of the capture (a lost segment's retransmission may still come after the FIN)."""
        reasm = conn.out.reasm if conn.out is not None else None
        if reasm is None or (not reasm.pending and reasm.next_seq in (None, seq)):
            self._close(conn)

    def _close(self, conn: _Conn) -> None:
        """The end of a connection (the phone's FIN or RST, a UDP exchange after silence, the end of the capture):
        bytes still held after a gap are searched, a short payload's entropy is judged, problems of its HTTP
        bodies are noted, and its stream state is let go (memory stays flat over long captures)."""
        if not conn.closed:
            conn.closed = True
            self._end_stream(conn)
        bodies = conn.tls_out.bodies if conn.tls_out is not None else None
        self._body_problems(conn, bodies)
        conn.tls_out = None

    def _end_stream(self, conn: _Conn) -> None:
        out = conn.out
        reasm = out.reasm if out is not None else None
        if reasm is not None:
            if reasm.pending:
                self.held -= 1
                for chunk, after_gap in reasm.flush():
                    if conn.dest is not None:
                        self._data(conn, conn.dest, chunk, after_gap)
            self.gaps += reasm.gaps
        self._body_problems(conn, out.bodies if out is not None else None)
        conn.out = None
        sample, conn.sample = conn.sample, b""
        dest = conn.dest
        if not conn.judged and MIN_ENTROPY_BYTES <= len(sample) < ENTROPY_SAMPLE and dest is not None \
                and not dest.tls:
            e = encrypted_entropy(sample)
            if e is not None:
                dest.encrypted.append((conn.started, len(sample), e))

    def _body_problems(self, conn: _Conn, bodies: HttpBodies | None) -> None:
        if bodies is not None and bodies.problem:
            self._note(f"{conn.server}:{conn.server_port}: {bodies.problem}")
        if bodies is not None and bodies.limited:
            self._limit(f"HTTP bodies: only the first {MAX_DECODED} decoded bytes a connection sends are searched")

    def finish_connections(self) -> None:
        """The end of the capture: close every connection still open."""
        for conn in self.connections():
            self._close(conn)
        if self.gaps:
            self._note(f"{self.gaps} gap(s) in TCP streams (segments missing from the capture): a value that "
                       "spans a gap cannot be found")

    def _note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)
        elif len(self.notes) == MAX_NOTES:
            self.notes.append("more notes on streams left out")

    def _dest(self, ip: str, port: int, proto: str) -> _Dest | None:
        d = self.dests.get((ip, port, proto))
        if d is None:
            if len(self.dests) >= MAX_DESTINATIONS:
                self._limit(f"destination table full ({MAX_DESTINATIONS}): later destinations not analysed")
                return None
            d = self.dests[(ip, port, proto)] = _Dest(ip, port, proto)
        return d

    def _dns(self, payload: bytes) -> None:
        try:
            msg = dpkt.dns.DNS(payload)
        except (dpkt.UnpackError, ValueError, IndexError, KeyError, TypeError, RecursionError):
            return
        if msg.qr != dpkt.dns.DNS_R:
            return
        cnames: dict[str, str] = {}
        for rr in msg.an:
            name = str(getattr(rr, "name", ""))[:_MAX_NAME].lower()
            if rr.type == dpkt.dns.DNS_CNAME:
                cnames[str(getattr(rr, "cname", ""))[:_MAX_NAME].lower()] = name
            elif rr.type in (dpkt.dns.DNS_A, dpkt.dns.DNS_AAAA):
                ip = getattr(rr, "ip", None) or getattr(rr, "ip6", None)
                if not ip:
                    continue
                try:
                    text = str(ipaddress.ip_address(ip))
                except ValueError:
                    continue
                names = {name}
                while name in cnames and len(names) < 10:  # the name that was asked, through CNAMEs
                    name = cnames[name]
                    names.add(name)
                self.dns[text] |= names


def _ts(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def _size(n: float) -> str:
    return f"{n / 1000:.1f} KB" if n >= 1000 else f"{n:.0f} B"


def scan_capture(path: Path, identifiers: list[DeviceIdentifier] | None = None,
                 reports: Iterable[ApkReport] = (), usage: UsageRecords | None = None,
                 max_seconds: float | None = 600.0, show_identifiers: bool = False,
                 keylog: Path | None = None) -> TrafficReport:
    """Analyse one capture. `identifiers` come from the evidence (and the examiner); `reports` give the apps'
    hard-coded endpoints; `usage` gives netstats for attribution by volume; `keylog` (NSS key log format) lets
    tshark decrypt TLS so that identifiers are searched inside it too. Finding texts mask the identifiers unless
    `show_identifiers` (the matches themselves keep them: the JSON is the evidence). Raises CaptureError only when
    the file is not a readable capture at all, ValueError when the key log is not one."""
    if keylog is not None:
        check_keylog(keylog)
    started = datetime.now(UTC)
    clock = time.monotonic()
    reports = list(reports)
    identifiers = identifiers or []
    netstats = [h for h in (usage.netstats if usage else []) if h.buckets]
    bucket = min((h.bucket_seconds for h in netstats), default=None)
    state = ReadState()
    analysis = _Analysis(identifiers, bucket)
    analysis.run(read_batches(path, state, max_seconds), state)
    if keylog is not None and state.decoded:
        left = None if max_seconds is None else max(1.0, max_seconds - (time.monotonic() - clock))
        analysis.tls(path, keylog, left)
    elif state.decoded and any(c.tls for c in analysis.connections()):
        analysis.notes.append("TLS application data not searched: no key log given (--keylog FILE, the "
                              "SSLKEYLOGFILE of the phone's apps or of an interception proxy)")
    analysis.finish_connections()
    info = CaptureInfo(path=str(path), size=path.stat().st_size, format=state.format,
                       link_type=state.link_type, packets=state.packets, decoded=state.decoded,
                       bytes_read=state.bytes_read, first_time=_ts(state.first_ts), last_time=_ts(state.last_ts),
                       sha256=state.sha256)
    for problem in (state.truncated, state.stopped_by):
        if problem:
            info.warnings.append(f"{path}: {problem}")
            info.complete = False
    if state.stopped_by:
        info.limits.append(f"max_seconds={max_seconds}")
    for limit in analysis.limits:
        info.warnings.append(f"{path}: {limit}")
        info.limits.append(limit)
        info.complete = False
    endpoints = AppEndpoints.of(reports)
    report = TrafficReport(tool_version=__version__, started_at=started, finished_at=started, capture=info,
                           identifiers=identifiers)
    dest_models: dict[tuple[str, int, str], Destination] = {}
    for key, d in analysis.dests.items():
        for name in analysis.dns.get(d.ip, ()):
            d.names.setdefault(name, set()).add("dns")
        dest_models[key] = Destination(
            ip=d.ip, port=d.port, protocol=d.proto, country=country_for_ip(d.ip),
            names=sorted(d.names), connections=len(d.conn_times), packets_out=d.packets_out, bytes_out=d.bytes_out,
            bytes_in=d.bytes_in, first_seen=_ts(d.first), last_seen=_ts(d.last), tls=d.tls, http=d.http)
    report.destinations = sorted(dest_models.values(), key=lambda x: -x.bytes_out)
    report.attributions = _merge(_attribute(analysis, endpoints) + _attribute_netstats(analysis, netstats))
    by_dest: dict[str, set[str]] = defaultdict(set)
    for a in report.attributions:
        by_dest[a.destination.rsplit("/", 1)[0]].add(a.package)
    for m in analysis.matches:
        m.packages = sorted(by_dest.get(m.destination, set()))
        ip, port = m.destination.rsplit(":", 1)
        target = analysis.dests.get((ip, int(port), "tcp")) or analysis.dests.get((ip, int(port), "udp"))
        if target is not None and target.names:  # prefer the name the connection itself gave (SNI, Host)
            m.host = sorted(target.names, key=lambda n: ("dns" in target.names[n], n))[0]
    report.identifier_matches = analysis.matches
    report.beacons = _beacons(analysis, by_dest)
    report.encrypted_payloads = [
        EncryptedPayload(destination=f"{d.ip}:{d.port}", names=sorted(d.names), time=datetime.fromtimestamp(t, UTC),
                         bytes=n, entropy=round(e, 3), hard_coded=bool(by_dest.get(f"{d.ip}:{d.port}")),
                         packages=sorted(by_dest.get(f"{d.ip}:{d.port}", set())))
        for d in analysis.dests.values() for t, n, e in d.encrypted[:20]]
    report.findings = _findings(report, show_identifiers)
    ids = {f.rule_id for f in report.findings}
    report.rules = [r for r in RULES if r.id in ids]
    report.notes.extend(analysis.notes)
    if not state.decoded:
        report.notes.append("no IP packet could be decoded: nothing in this capture was checked")
    report.finished_at = datetime.now(UTC)
    return report


def _attribute(analysis: _Analysis, endpoints: AppEndpoints) -> list[Attribution]:
    out: list[Attribution] = []
    for d in analysis.dests.values():
        dest = f"{d.ip}:{d.port}/{d.proto}"
        hits: dict[str, tuple[set[str], str, list[str]]] = {}
        for pkg in endpoints.by_ip.get(d.ip, ()):
            hits.setdefault(pkg, (set(), d.ip, []))
            hits[pkg][0].add("ip")
            hits[pkg][2].append(f"destination IP {d.ip} is hard-coded in {pkg}")
        for name, vias in d.names.items():
            found = endpoints.for_name(name)
            if found is None:
                continue
            host, pkgs = found
            for pkg in pkgs:
                entry = hits.setdefault(pkg, (set(), host, []))
                entry[0].update(vias)
                label = {"dns": "a DNS answer in the capture", "sni": "the TLS SNI",
                         "http_host": "the HTTP Host header"}
                for via in sorted(vias):
                    entry[2].append(f"{label[via]} names {name} for {d.ip}; {pkg} hard-codes {host}")
        for pkg, (vias, endpoint, evidence) in sorted(hits.items()):
            out.append(Attribution(destination=dest, package=pkg, via=sorted(vias), endpoint=endpoint,
                                   evidence=evidence))
    return out


def _merge(items: list[Attribution]) -> list[Attribution]:
    """One attribution per (destination, package), with every way and every piece of evidence that supports it."""
    out: dict[tuple[str, str], Attribution] = {}
    for a in items:
        have = out.get((a.destination, a.package))
        if have is None:
            out[(a.destination, a.package)] = a
            continue
        have.via = sorted(set(have.via) | set(a.via))
        have.endpoint = have.endpoint or a.endpoint
        have.evidence += [e for e in a.evidence if e not in have.evidence]
    return list(out.values())


def _attribute_netstats(analysis: _Analysis, netstats: list) -> list[Attribution]:
    """Match a destination's bytes per netstats bucket to the one UID whose sent bytes cover them in every bucket
    where the destination was active (at least two buckets, capture and netstats overlapping in time)."""
    if not netstats:
        return []
    uid_tx: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    uid_pkgs: dict[int, list[str]] = {}
    for h in netstats:
        for b in h.buckets:
            uid_tx[h.uid][b.start - b.start % (analysis.bucket or 1)] += b.tx_bytes
        uid_pkgs[h.uid] = h.packages
    out: list[Attribution] = []
    for d in analysis.dests.values():
        active = {st: n for st, n in d.buckets.items() if n > 0}
        if len(active) < 2:
            continue
        covered = [uid for uid, tx in uid_tx.items()
                   if all(st in tx for st in active) and all(tx[st] >= 0.8 * n for st, n in active.items())]
        if len(covered) != 1:
            continue
        uid = covered[0]
        for pkg in uid_pkgs.get(uid) or [f"uid:{uid}"]:
            out.append(Attribution(
                destination=f"{d.ip}:{d.port}/{d.proto}", package=pkg, via=["netstats"],
                evidence=[f"in {len(active)} netstats buckets of {analysis.bucket} s the bytes sent to {d.ip} "
                          f"({', '.join(f'st={st}: {n}' for st, n in sorted(active.items())[:6])}) are covered by "
                          f"uid {uid}'s sent bytes, and by no other uid's"]))
    return out


def _beacons(analysis: _Analysis, by_dest: dict[str, set[str]]) -> list[Beacon]:
    out: list[Beacon] = []
    for d in analysis.dests.values():
        if len(d.conn_times) < 7:
            continue
        v = detect_period(d.conn_times)
        if not v.periodic or v.period_seconds is None:
            continue
        sizes = [n for n in d.conn_bytes if n > 0] or [0]
        out.append(Beacon(destination=f"{d.ip}:{d.port}/{d.proto}", names=sorted(d.names), country=country_for_ip(d.ip),
                          period_seconds=round(v.period_seconds, 1), jitter_seconds=round(v.jitter_seconds or 0, 1),
                          regularity=round(v.regularity, 3), connections=len(d.conn_times), bytes_min=min(sizes),
                          bytes_max=max(sizes), encrypted=d.tls or bool(d.encrypted),
                          packages=sorted(by_dest.get(f"{d.ip}:{d.port}", set()))))
    return out


_FOUND_IN = {"payload": "", "http_body": ", in a decoded HTTP body", "tls": ", inside TLS decrypted with the key log"}


def masked_context(m: IdentifierMatch, others: Iterable[str] = ()) -> str:
    """The match's context with the identifier (in the form found, and raw) and every other known identifier
    text masked (a payload often carries several)."""
    text = m.context
    for found in sorted({m.matched, m.value, *others} - {""}, key=len, reverse=True):
        text = text.replace(found, mask(found))
    return text


def _findings(report: TrafficReport, show_identifiers: bool) -> list[Finding]:
    out: list[Finding] = []
    known = {i.value for i in report.identifiers} | {i.value.lstrip("+") for i in report.identifiers} | {
        m.matched for m in report.identifier_matches}
    for m in report.identifier_matches:
        shown = m.value if show_identifiers else mask(m.value)
        ctx = m.context if show_identifiers else masked_context(m, known)
        where = f"{m.destination}" + (f" ({m.host})" if m.host else "") + (f" [{m.country}]" if m.country else "")
        out.append(Finding(
            rule_id=IDENTIFIER_RULE.id, title=IDENTIFIER_RULE.title, severity=Severity.critical,
            confidence=Confidence.high if m.encoding in ("raw", "url") else Confidence.medium,
            message=f"{m.kind} ({shown}, {m.encoding}{_FOUND_IN[m.found_in]}) sent to {where} at {m.time.isoformat()}"
                    + (f"; destination attributed to {', '.join(m.packages)}" if m.packages else ""),
            package=m.packages[0] if len(m.packages) == 1 else None,
            evidence=[f"packet {m.source} -> {m.destination} at {m.time.isoformat()}: …{ctx}…",
                      f"{m.kind} from the evidence; searched raw, URL-encoded, Base64, MD5/SHA-1/SHA-256"],
            fingerprint=finding_fingerprint(IDENTIFIER_RULE.id, m.kind, m.encoding, m.destination)))
    for b in report.beacons:
        hard = bool(b.packages)
        where = b.destination + (f" ({', '.join(b.names[:2])})" if b.names else "") + (f" [{b.country}]" if b.country else "")
        out.append(Finding(
            rule_id=BEACON_RULE.id, title=BEACON_RULE.title, severity=Severity.high if hard else Severity.medium,
            confidence=BEACON_RULE.confidence,
            message=f"{describe_period(b.period_seconds)} (jitter {b.jitter_seconds or 0:.0f} s, {b.connections} "
                    f"connections), {_size(b.bytes_min)}–{_size(b.bytes_max)}"
                    f"{', encrypted' if b.encrypted else ''}, to {where}"
                    + (f"; hard-coded in {', '.join(b.packages)}" if hard else ""),
            package=b.packages[0] if len(b.packages) == 1 else None,
            evidence=[f"{b.connections} connections to {b.destination}, regularity {b.regularity:.0%}"],
            fingerprint=finding_fingerprint(BEACON_RULE.id, b.destination)))
    seen: set[str] = set()
    for e in report.encrypted_payloads:
        if not e.hard_coded or e.destination in seen:
            continue
        seen.add(e.destination)
        count = sum(1 for x in report.encrypted_payloads if x.destination == e.destination)
        out.append(Finding(
            rule_id=ENCRYPTED_RULE.id, title=ENCRYPTED_RULE.title, severity=ENCRYPTED_RULE.severity,
            confidence=ENCRYPTED_RULE.confidence,
            message=f"{count} high-entropy non-TLS payload(s) (entropy {e.entropy:.2f} bits/byte over {e.bytes} bytes) "
                    f"to {e.destination}, hard-coded in {', '.join(e.packages)}",
            package=e.packages[0] if len(e.packages) == 1 else None,
            evidence=[f"first at {e.time.isoformat()}; not a TLS record, not gzip/zip/image"],
            fingerprint=finding_fingerprint(ENCRYPTED_RULE.id, e.destination)))
    return out
