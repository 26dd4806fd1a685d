"""Write captures from a scenario (dpkt's packet builders and pcap/pcapng writers): DNS exchanges, TCP sessions
with a real handshake, payload segments and close, UDP datagrams. Used by `phonehome demo` for its capture and by
the tests to make realistic and hostile captures.
"""

from __future__ import annotations

import random
import socket
import zlib
from pathlib import Path
from typing import BinaryIO

import dpkt

from toolkit.simulator.profile import DeviceProfile
from toolkit.simulator.usage_render import now_epoch, transmissions

PHONE_MAC = b"\xa4\x50\x46\x0b\x7c\x12"
GATEWAY_MAC = b"\x02\x00\x5e\x10\x00\x01"
MSS = 1400


def _addr(ip: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)


class CaptureBuilder:
    """Collects (time, frame) pairs; `write` sorts them by time and writes pcap or pcapng."""

    def __init__(self, phone_ip: str = "192.168.43.20", dns_ip: str = "192.168.43.1") -> None:
        self.phone_ip = phone_ip
        self.dns_ip = dns_ip
        self.frames: list[tuple[float, bytes]] = []
        self._port = 40000

    def _frame(self, ts: float, src: str, dst: str, seg: dpkt.Packet, proto: int, outgoing: bool) -> None:
        if ":" in src:
            ip: dpkt.Packet = dpkt.ip6.IP6(src=_addr(src), dst=_addr(dst), nxt=proto, hlim=64, data=seg,
                                           plen=len(bytes(seg)))
            eth_type = dpkt.ethernet.ETH_TYPE_IP6
        else:
            ip = dpkt.ip.IP(src=_addr(src), dst=_addr(dst), p=proto, ttl=64, data=seg)
            ip.len = 20 + len(bytes(seg))
            eth_type = dpkt.ethernet.ETH_TYPE_IP
        eth = dpkt.ethernet.Ethernet(src=PHONE_MAC if outgoing else GATEWAY_MAC,
                                     dst=GATEWAY_MAC if outgoing else PHONE_MAC, type=eth_type, data=ip)
        self.frames.append((ts, bytes(eth)))

    def next_port(self) -> int:
        self._port = 40000 + (self._port - 39999) % 20000
        return self._port

    def udp(self, ts: float, src: str, sport: int, dst: str, dport: int, payload: bytes) -> None:
        seg = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
        seg.ulen = 8 + len(payload)
        self._frame(ts, src, dst, seg, dpkt.ip.IP_PROTO_UDP, src == self.phone_ip)

    def dns(self, ts: float, name: str, ips: list[str], cname: str | None = None) -> None:
        """A query from the phone and its answer (optionally through a CNAME)."""
        qid = zlib.crc32(f"{ts}/{name}".encode()) & 0xFFFF  # stable: the same scenario gives the same file
        q = dpkt.dns.DNS(id=qid, qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)])
        port = self.next_port()
        self.udp(ts, self.phone_ip, port, self.dns_ip, 53, bytes(q))
        answers = []
        target = name
        if cname:
            answers.append(dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_CNAME, cls=1, ttl=60, cname=cname))
            target = cname
        for ip in ips:
            answers.append(dpkt.dns.DNS.RR(name=target, type=dpkt.dns.DNS_A, cls=1, ttl=300, ip=_addr(ip)))
        r = dpkt.dns.DNS(id=qid, qd=q.qd, an=answers)
        r.qr = dpkt.dns.DNS_R  # a property over the flags field: set after construction
        self.udp(ts + 0.02, self.dns_ip, 53, self.phone_ip, port, bytes(r))

    def tcp_session(self, ts: float, dst: str, dport: int, out: bytes, back: bytes = b"", rtt: float = 0.05,
                    close: bool = True, segments: list[tuple[int, int]] | None = None, isn: int = 1000,
                    fin_after: int | None = None) -> float:
        """Handshake, the phone's payload in MSS segments, the server's answer, FIN. Returns the end time.

        `segments`: the phone's payload as (start, end) slices of `out`, sent in that order with their own
        sequence numbers (out of order, retransmitted, overlapping, or with a slice left out: a gap); `isn`: the
        phone's initial sequence number (near 2**32 to wrap); `fin_after`: the phone's FIN is sent after that many
        of its segments (a lost segment retransmitted after the FIN), not at the end."""
        plan = segments if segments is not None else [(i, min(i + MSS, len(out))) for i in range(0, len(out), MSS)]
        push = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH
        steps = [(True, start, out[start:end], 0.002, push) for start, end in plan]
        if fin_after is not None:
            steps.insert(fin_after, (True, len(out), b"", 0.002, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK))
            close = False
        steps += [(False, i, back[i:i + MSS], rtt if i == 0 else 0.002, push) for i in range(0, len(back), MSS)]
        return self._tcp(ts, dst, dport, steps, len(out), rtt, close, isn)

    def tcp_exchange(self, ts: float, dst: str, dport: int, messages: list[tuple[bool, bytes]],
                     rtt: float = 0.05) -> float:
        """Handshake, then each message in turn (True: sent by the phone), in MSS segments, then FIN: a
        conversation such as a TLS handshake and its records. Returns the end time."""
        steps: list[tuple[bool, int, bytes, float, int]] = []
        sent = {True: 0, False: 0}
        for from_phone, data in messages:
            for i in range(0, len(data), MSS):
                steps.append((from_phone, sent[from_phone], data[i:i + MSS], rtt / 2 if i == 0 else 0.002,
                              dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH))
                sent[from_phone] += len(data[i:i + MSS])
        return self._tcp(ts, dst, dport, steps, sent[True], rtt, True, 1000)

    def _tcp(self, ts: float, dst: str, dport: int, steps: list[tuple[bool, int, bytes, float, int]],
             sent: int, rtt: float, close: bool, isn: int) -> float:
        """A TCP connection from the phone: handshake, then each step (from the phone?, offset of the data in
        that side's stream, data, delay before it, TCP flags), then, with `close`, the phone's FIN after its
        `sent` bytes."""
        src, sport = self.phone_ip, self.next_port()
        seq, ack = (isn + 1) & 0xFFFFFFFF, 5001  # the first data byte of each side
        seen = {True: 0, False: 0}  # bytes of each side's stream sent so far: what the other side acknowledges
        t = ts

        def seg(from_phone: bool, offset: int, flags: int, data: bytes = b"") -> None:
            if from_phone:
                tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=(seq + offset) & 0xFFFFFFFF, ack=ack + seen[False],
                                   flags=flags, win=65535, data=data)
            else:
                tcp = dpkt.tcp.TCP(sport=dport, dport=sport, seq=ack + offset, ack=(seq + seen[True]) & 0xFFFFFFFF,
                                   flags=flags, win=65535, data=data)
            self._frame(t, src if from_phone else dst, dst if from_phone else src, tcp, dpkt.ip.IP_PROTO_TCP,
                        from_phone)
            seen[from_phone] = max(seen[from_phone], offset + len(data))

        self._frame(t, src, dst, dpkt.tcp.TCP(sport=sport, dport=dport, seq=isn, ack=0, flags=dpkt.tcp.TH_SYN,
                                              win=65535), dpkt.ip.IP_PROTO_TCP, True)
        t += rtt
        self._frame(t, dst, src, dpkt.tcp.TCP(sport=dport, dport=sport, seq=ack - 1, ack=seq,
                                              flags=dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, win=65535),
                    dpkt.ip.IP_PROTO_TCP, False)
        t += 0.001
        seg(True, 0, dpkt.tcp.TH_ACK)
        for from_phone, offset, data, delay, flags in steps:
            t += delay
            seg(from_phone, offset, flags, data)
        if close:
            t += 0.01
            seg(True, sent, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
        return t

    def write(self, out: Path | BinaryIO, fmt: str = "pcapng") -> None:
        frames = sorted(self.frames, key=lambda f: f[0])
        f = out.open("wb") if isinstance(out, Path) else out
        try:
            w = dpkt.pcapng.Writer(f, snaplen=65535) if fmt == "pcapng" else dpkt.pcap.Writer(f, snaplen=65535)
            for ts, frame in frames:
                w.writepkt(frame, ts=ts)
        finally:
            if isinstance(out, Path):
                f.close()


def client_hello(server_name: str) -> bytes:
    """A TLS 1.2 ClientHello record with an SNI extension (what a phone's first TLS packet carries)."""
    name = server_name.encode()
    sni = (len(name) + 3).to_bytes(2, "big") + b"\x00" + len(name).to_bytes(2, "big") + name
    ext = b"\x00\x00" + len(sni).to_bytes(2, "big") + sni
    body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00"
            + len(ext).to_bytes(2, "big") + ext)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def demo_capture(profile: DeviceProfile, out: Path, hours: int = 6) -> Path:
    """The demo's capture, consistent with the simulated phone: the cloud-messaging app's 30-minute encrypted
    reports to its hard-coded IP (the same times and sizes its netstats buckets show), a DNS lookup and an HTTP
    POST carrying the IMEI and number to its push host, and the app store's TLS connection (SNI)."""
    usage = profile.spec.usage
    if usage is None:
        raise ValueError(f"profile {profile.spec.name} has no usage section to make a capture from")
    b = CaptureBuilder()
    end = now_epoch(usage)
    start = end - hours * 3600
    subinfo = usage.subscriber_info
    imei = subinfo.get("Device ID", "")
    number = subinfo.get("Line 1 Number", "")
    operator = profile.prop("gsm.operator.alpha")
    rnd = random.Random(2014)
    # Registration at the start of the window: DNS, then a clear-text POST with the identifiers.
    b.dns(start + 5, "push.vendor-cloud.example", ["47.88.10.21"])
    body = f"imei={imei}&msisdn={number}&operator={operator}".encode()
    post = (b"POST /pns/register HTTP/1.1\r\nHost: push.vendor-cloud.example\r\nUser-Agent: CloudMsg/2.0\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)
    b.tcp_session(start + 5.1, "47.88.10.21", 80, post, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    # The preloaded store checks for updates over TLS (SNI names its host).
    b.dns(start + 60, "api.vendor-market.example", ["203.0.113.9"])
    b.tcp_session(start + 60.2, "203.0.113.9", 443, client_hello("api.vendor-market.example") + rnd.randbytes(600),
                  b"\x16\x03\x03\x00\x10" + rnd.randbytes(16))
    # The 30-minute reports: the transmissions behind the phone's netstats, as encrypted TCP payloads.
    for traffic in usage.traffic:
        if traffic.uid != 1000 or not traffic.period_seconds:
            continue
        for t in transmissions(usage, traffic):
            if start <= t.at < end:
                payload = rnd.randbytes(max(200, t.tx - 40 * (t.tx // MSS + 4)))
                b.tcp_session(t.at + 0.5, "47.88.10.20", 8080, payload, b"\x00\x01" + rnd.randbytes(30))
    b.write(out)
    return out
