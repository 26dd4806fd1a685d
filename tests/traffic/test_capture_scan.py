"""`traffic scan` on captures written with dpkt's writers (toolkit/traffic/writer.py): what it finds, and what it
does with truncated, damaged and hostile captures."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import struct
from pathlib import Path
from urllib.parse import quote

import dpkt
import pytest

from toolkit.models.usage import DeviceIdentifier
from toolkit.traffic.capture import CaptureError
from toolkit.traffic.scan import scan_capture
from toolkit.traffic.writer import CaptureBuilder, client_hello

IMEI = "358240051111110"
T0 = 1600583400.0
IDS = [DeviceIdentifier(kind="imei", value=IMEI, source="test"),
       DeviceIdentifier(kind="phone_number", value="+4915112345678", source="test")]


def _write(b: CaptureBuilder, path: Path, fmt: str = "pcapng") -> Path:
    b.write(path, fmt)
    return path


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize(("encoding", "encode"), [
    ("raw", lambda v: v.encode()),
    ("url", lambda v: quote("+4915112345678", safe="").encode()),
    ("base64", lambda v: base64.b64encode(b"id=" + v.encode() + b"&x=1")),
    ("base64", lambda v: base64.b64encode(b"k:" + v.encode())),
    ("md5", lambda v: hashlib.md5(v.encode()).hexdigest().encode()),
    ("sha1", lambda v: hashlib.sha1(v.encode()).hexdigest().upper().encode()),
    ("sha256", lambda v: hashlib.sha256(v.encode()).hexdigest().encode()),
])
def test_identifier_found_in_each_encoding(tmp_path: Path, fmt: str, encoding: str, encode) -> None:  # type: ignore[no-untyped-def]
    b = CaptureBuilder()
    body = b"\xff\xfe junk \x00" + encode(IMEI) + b"\x80 non-UTF-8 tail \xc3\x28"
    b.tcp_session(T0, "198.51.100.7", 80, b"POST /c HTTP/1.1\r\nHost: t.example\r\n\r\n" + body)
    report = scan_capture(_write(b, tmp_path / f"c.{fmt}", fmt), IDS)
    assert report.capture.complete and report.capture.format == fmt
    matches = [(m.kind, m.encoding) for m in report.identifier_matches]
    kind = "phone_number" if encoding == "url" else "imei"
    assert (kind, encoding) in matches
    finding = next(f for f in report.findings if f.rule_id == "identifier-seen-leaving")
    assert finding.severity.value == "critical"
    assert IMEI not in finding.message and "198.51.100.7:80" in finding.message
    shown = scan_capture(tmp_path / f"c.{fmt}", IDS, show_identifiers=True)
    assert kind != "imei" or IMEI in shown.findings[0].message


def test_identifier_not_found_in_unrelated_traffic(tmp_path: Path) -> None:
    b = CaptureBuilder()
    rnd = random.Random(1)
    for i in range(20):
        b.tcp_session(T0 + i * 37, "198.51.100.7", 443, client_hello("cdn.example") + rnd.randbytes(3000))
    report = scan_capture(_write(b, tmp_path / "c.pcapng"), IDS)
    assert report.identifier_matches == [] and report.encrypted_payloads == []  # TLS is not "encrypted payload"


def test_attribution_by_dns_sni_host_and_ip(tmp_path: Path) -> None:
    from toolkit.models import ApkReport, Endpoint
    from toolkit.models.common import Status

    b = CaptureBuilder()
    b.dns(T0, "push.vendor-cloud.example", ["47.88.10.21"], cname=None)
    b.tcp_session(T0 + 1, "47.88.10.21", 80, b"GET / HTTP/1.1\r\nHost: push.vendor-cloud.example\r\n\r\n")
    b.dns(T0 + 2, "api.vendor-market.example", ["203.0.113.9"], cname="edge.cdn.example")
    b.tcp_session(T0 + 3, "203.0.113.9", 443, client_hello("api.vendor-market.example"))
    b.tcp_session(T0 + 4, "47.88.10.20", 8080, b"\x01\x02")
    b.tcp_session(T0 + 5, "192.0.2.99", 443, client_hello("unrelated.example"))
    apps = [ApkReport(path="a.apk", package="com.vendor.cloudmsg", status=Status.analysed, endpoints=[
                Endpoint(kind="url", value="http://push.vendor-cloud.example/pns", host="push.vendor-cloud.example"),
                Endpoint(kind="url", value="http://47.88.10.20:8080/report", host="47.88.10.20", port=8080)]),
            ApkReport(path="b.apk", package="com.vendor.appstore", status=Status.analysed, endpoints=[
                Endpoint(kind="host", value="vendor-market.example", host="vendor-market.example")])]
    report = scan_capture(_write(b, tmp_path / "c.pcapng"), [], apps)
    got = {(a.destination, a.package): set(a.via) for a in report.attributions}
    assert got == {("47.88.10.21:80/tcp", "com.vendor.cloudmsg"): {"dns", "http_host"},
                   ("203.0.113.9:443/tcp", "com.vendor.appstore"): {"dns", "sni"},
                   ("47.88.10.20:8080/tcp", "com.vendor.cloudmsg"): {"ip"}}
    names = {d.ip: d.names for d in report.destinations}
    assert "api.vendor-market.example" in names["203.0.113.9"] and "edge.cdn.example" in names["203.0.113.9"]
    assert all(a.evidence for a in report.attributions)


def test_beacon_and_encrypted_payload(tmp_path: Path) -> None:
    from toolkit.models import ApkReport, Endpoint
    from toolkit.models.common import Status

    b = CaptureBuilder()
    rnd = random.Random(7)
    sizes = [920, 30100, 2210, 14800, 5400, 1020, 22000, 3300, 9000]
    for i, n in enumerate(sizes):
        b.tcp_session(T0 + i * 1800 + rnd.uniform(-20, 20), "47.88.10.20", 8080, rnd.randbytes(n))
    for _ in range(9):  # a compressed download to another host, irregularly: neither beacon nor encrypted
        b.tcp_session(T0 + rnd.uniform(0, 16000), "198.51.100.3", 80, b"\x1f\x8b\x08" + rnd.randbytes(2000))
    apps = [ApkReport(path="a.apk", package="com.vendor.cloudmsg", status=Status.analysed,
                      endpoints=[Endpoint(kind="ip", value="47.88.10.20", host="47.88.10.20")])]
    report = scan_capture(_write(b, tmp_path / "c.pcapng"), [], apps)
    assert len(report.beacons) == 1
    beacon = report.beacons[0]
    assert beacon.destination == "47.88.10.20:8080/tcp" and abs(beacon.period_seconds - 1800) < 60
    assert beacon.bytes_min == 920 and beacon.bytes_max == 30100 and beacon.encrypted
    assert beacon.packages == ["com.vendor.cloudmsg"]
    text = next(f.message for f in report.findings if f.rule_id == "capture-beacon")
    assert text.startswith("every 30 min") and "920 B–30.1 KB, encrypted" in text
    assert {e.destination for e in report.encrypted_payloads} == {"47.88.10.20:8080"}
    assert any(f.rule_id == "capture-encrypted-payload" for f in report.findings)


def test_truncated_capture_is_a_warning_with_what_was_read(tmp_path: Path) -> None:
    b = CaptureBuilder()
    for i in range(10):
        b.tcp_session(T0 + i, "198.51.100.7", 80, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nimei=" + IMEI.encode())
    for fmt in ("pcap", "pcapng"):
        full = _write(b, tmp_path / f"full.{fmt}", fmt)
        cut = tmp_path / f"cut.{fmt}"
        data = full.read_bytes()
        cut.write_bytes(data[:len(data) * 2 // 3 + 5])
        report = scan_capture(cut, IDS)
        assert not report.capture.complete
        assert report.capture.warnings and str(cut) in report.capture.warnings[0]
        assert "packets" in report.capture.warnings[0]
        assert 0 < report.capture.packets < scan_capture(full, IDS).capture.packets
        assert report.identifier_matches  # what was read before the cut is analysed


def test_hostile_record_length_and_garbage(tmp_path: Path) -> None:
    b = CaptureBuilder()
    b.tcp_session(T0, "198.51.100.7", 80, b"x" * 100)
    good = _write(b, tmp_path / "g.pcap", "pcap").read_bytes()
    # A packet header claiming 3 GB: the read stops with a warning, nothing is allocated for it.
    bad = good + struct.pack("<IIII", int(T0), 0, 0xC0000000, 0xC0000000) + b"\x00" * 64
    (tmp_path / "huge.pcap").write_bytes(bad)
    report = scan_capture(tmp_path / "huge.pcap", IDS)
    assert not report.capture.complete and "claims" in report.capture.warnings[0]
    (tmp_path / "text.pcap").write_bytes(b"hello, not a capture\n")
    with pytest.raises(CaptureError, match="not a pcap or pcapng"):
        scan_capture(tmp_path / "text.pcap", IDS)
    (tmp_path / "hdr.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a\x10")
    with pytest.raises(CaptureError, match="damaged pcapng header"):
        scan_capture(tmp_path / "hdr.pcapng", IDS)


def test_hostile_dns_answers(tmp_path: Path) -> None:
    b = CaptureBuilder()
    long_name = ".".join(["a" * 63] * 4)  # 255 characters: longer than DNS allows
    b.dns(T0, long_name, ["198.51.100.8"])
    # A response whose answer name is a compression pointer to itself (a loop).
    loop = bytearray(dpkt.dns.DNS(id=1, qd=[]).pack())
    loop[2] |= 0x80
    loop[7] = 1  # one answer
    loop += b"\xc0\x0c" + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([198, 51, 100, 9])
    b.udp(T0 + 1, b.dns_ip, 53, b.phone_ip, 40000, bytes(loop))
    b.udp(T0 + 2, b.dns_ip, 53, b.phone_ip, 40001, b"\xff" * 300)  # not DNS at all
    b.tcp_session(T0 + 3, "198.51.100.8", 443, client_hello("x" * 300))
    report = scan_capture(_write(b, tmp_path / "c.pcapng"), IDS)
    assert report.capture.complete
    names = {n for d in report.destinations for n in d.names}
    assert all(len(n) <= 253 for n in names)


def test_not_an_ip_capture_decodes_nothing(tmp_path: Path) -> None:
    f = io.BytesIO()
    w = dpkt.pcap.Writer(f, linktype=147)  # a user link type phonehome does not decode
    w.writepkt(b"\x00" * 60, ts=T0)
    (tmp_path / "u.pcap").write_bytes(f.getvalue())
    report = scan_capture(tmp_path / "u.pcap", IDS)
    assert report.capture.packets == 1 and report.capture.decoded == 0
    assert report.notes and "nothing in this capture was checked" in report.notes[0]
