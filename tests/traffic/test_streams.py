"""Identifiers split across TCP segments: streams reassembled in sequence order (out of order, retransmitted,
overlapping, wrapping, with gaps), and HTTP request bodies decoded (chunked, gzip, deflate) with a bound.

The captures are written by the project's writer (toolkit/traffic/writer.py) with the phone's payload cut into
segments at chosen places."""

from __future__ import annotations

import gzip
import random
import zlib
from pathlib import Path

import pytest

from toolkit.models.usage import DeviceIdentifier
from toolkit.traffic.scan import MAX_HELD_STREAMS, scan_capture
from toolkit.traffic.stream import MAX_DECODED, MAX_PENDING_SEGMENTS, Reassembler
from toolkit.traffic.writer import CaptureBuilder

IMEI = "358240051111110"
T0 = 1600583400.0
IDS = [DeviceIdentifier(kind="imei", value=IMEI, source="test")]
DST = "198.51.100.7"


def _payload() -> tuple[bytes, int]:
    """A request with the IMEI in it; returns the bytes and where the IMEI's 8th digit sits (the split point)."""
    rnd = random.Random(3)
    body = rnd.randbytes(700) + b"&imei=" + IMEI.encode() + b"&" + rnd.randbytes(900)
    head = b"POST /r HTTP/1.1\r\nHost: t.example\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    data = head + body
    return data, data.index(IMEI.encode()) + 7


def _scan(tmp_path: Path, out: bytes, segments: list[tuple[int, int]] | None, isn: int = 1000,
          fmt: str = "pcap", fin_after: int | None = None) -> object:
    b = CaptureBuilder()
    b.tcp_session(T0, DST, 80, out, b"HTTP/1.1 200 OK\r\n\r\n", segments=segments, isn=isn, fin_after=fin_after)
    path = tmp_path / f"c.{fmt}"
    b.write(path, fmt)
    return scan_capture(path, IDS)


def _raw_matches(report) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(m.kind, m.encoding, m.found_in) for m in report.identifier_matches]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_value_split_across_two_segments_is_found(tmp_path: Path, fmt: str) -> None:
    data, cut = _payload()
    report = _scan(tmp_path, data, [(0, cut), (cut, len(data))], fmt=fmt)
    assert _raw_matches(report) == [("imei", "raw", "payload")]
    m = report.identifier_matches[0]  # type: ignore[attr-defined]
    assert m.destination == f"{DST}:80" and IMEI in m.context and "imei=" in m.context


def test_value_split_across_segments_over_ipv6(tmp_path: Path) -> None:
    data, cut = _payload()
    b = CaptureBuilder(phone_ip="2001:db8::20", dns_ip="2001:db8::1")
    b.tcp_session(T0, "2001:db8:1::7", 80, data, b"HTTP/1.1 200 OK\r\n\r\n", segments=[(cut, len(data)), (0, cut)])
    b.write(tmp_path / "c.pcapng")
    report = scan_capture(tmp_path / "c.pcapng", IDS)
    assert [(m.kind, m.found_in, m.destination) for m in report.identifier_matches] == [
        ("imei", "payload", "2001:db8:1::7:80")]


def test_each_segment_alone_does_not_hold_the_value(tmp_path: Path) -> None:
    """The control: the two halves sent as separate connections are not a match (no false join)."""
    data, cut = _payload()
    b = CaptureBuilder()
    b.tcp_session(T0, DST, 80, data[:cut])
    b.tcp_session(T0 + 1, DST, 80, data[cut:])
    b.write(tmp_path / "c.pcap", "pcap")
    assert scan_capture(tmp_path / "c.pcap", IDS).identifier_matches == []


def test_out_of_order_retransmitted_and_overlapping_segments(tmp_path: Path) -> None:
    data, cut = _payload()
    n = len(data)
    # The second half first, then the first half; then a retransmission of the first half, and an overlapping
    # resend that straddles the split: the value is found once, and no byte is searched twice into a second match.
    plan = [(cut, n), (0, cut), (0, cut), (cut - 5, cut + 5)]
    report = _scan(tmp_path, data, plan)
    assert _raw_matches(report) == [("imei", "raw", "payload")]


def test_a_lost_segment_retransmitted_after_the_fin(tmp_path: Path) -> None:
    data, cut = _payload()
    # The segment holding the first half of the IMEI is lost; the FIN goes out; then the retransmission.
    report = _scan(tmp_path, data, [(cut, len(data)), (0, cut)], fin_after=1)
    assert _raw_matches(report) == [("imei", "raw", "payload")]
    assert not any("gap" in n for n in report.notes)  # type: ignore[attr-defined]


def test_many_small_segments_in_reverse_order(tmp_path: Path) -> None:
    data, cut = _payload()
    plan = [(i, min(i + 3, len(data))) for i in range(cut - 9, cut + 12, 3)][::-1]
    plan = [(0, cut - 9)] + plan + [(cut + 12, len(data))]
    report = _scan(tmp_path, data, plan)
    assert _raw_matches(report) == [("imei", "raw", "payload")]


def test_sequence_numbers_wrapping_around(tmp_path: Path) -> None:
    data, cut = _payload()
    isn = 0xFFFFFFFF - cut + 3  # the split point lies just past the wrap of the 32-bit sequence number
    report = _scan(tmp_path, data, [(cut, len(data)), (0, cut)], isn=isn)
    assert _raw_matches(report) == [("imei", "raw", "payload")]


def test_a_gap_is_noted_and_the_rest_still_searched(tmp_path: Path) -> None:
    data, cut = _payload()
    rnd = random.Random(5)
    tail = rnd.randbytes(400) + b"sn=" + IMEI.encode()
    out = data + tail
    # The middle of the IMEI is missing from the capture: that copy cannot be found; the one after is.
    plan = [(0, cut - 2), (cut + 2, len(out))]
    report = _scan(tmp_path, out, plan)
    assert _raw_matches(report) == [("imei", "raw", "payload")]
    assert "sn=" in report.identifier_matches[0].context  # type: ignore[attr-defined]
    assert any("gap" in n and "cannot be found" in n for n in report.notes)  # type: ignore[attr-defined]


def _http(body: bytes, headers: bytes) -> bytes:
    return b"POST /upload HTTP/1.1\r\nHost: t.example\r\n" + headers + b"\r\n" + body


def _chunked(data: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\nX-Trailer: 1\r\n\r\n"


@pytest.mark.parametrize(("name", "coding", "encode"), [
    ("gzip", b"gzip", gzip.compress),
    ("zlib deflate", b"deflate", zlib.compress),
    ("raw deflate", b"deflate", lambda d: zlib.compress(d)[2:-4]),
])
def test_compressed_http_bodies_are_decoded(tmp_path: Path, name: str, coding: bytes, encode) -> None:  # type: ignore[no-untyped-def]
    body = encode(b'{"model":"SM-G960F","imei":"' + IMEI.encode() + b'","n":1}' * 3)
    first = _http(body, b"Content-Encoding: " + coding + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n")
    second = _http(b"x=1", b"Content-Length: 3\r\n")  # a keep-alive request after it: followed too
    report = _scan(tmp_path, first + second, None)
    assert _raw_matches(report) == [("imei", "raw", "http_body")], name
    assert report.notes == []  # type: ignore[attr-defined]


def test_chunked_and_gzip_body_split_by_the_chunk_framing(tmp_path: Path) -> None:
    plain = b"imei=" + IMEI.encode() + b"&x=" + bytes(range(256)) * 4
    # Chunks of 7 bytes: the plain IMEI is cut by chunk-size lines; only the de-chunked body holds it.
    report = _scan(tmp_path, _http(_chunked(plain, 7), b"Transfer-Encoding: chunked\r\n"), None)
    assert _raw_matches(report) == [("imei", "raw", "http_body")]
    packed = gzip.compress(plain)
    report = _scan(tmp_path, _http(_chunked(packed, 50), b"Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"),
                   None)
    assert _raw_matches(report) == [("imei", "raw", "http_body")]


def test_decompression_is_bounded_and_damage_is_one_note(tmp_path: Path) -> None:
    bomb = gzip.compress(bytes(64 << 20) + IMEI.encode())  # 64 MiB of zeros, then the IMEI: past the bound
    report = _scan(tmp_path, _http(bomb, b"Content-Encoding: gzip\r\nContent-Length: "
                                   + str(len(bomb)).encode() + b"\r\n"), None)
    assert report.identifier_matches == []  # type: ignore[attr-defined]
    assert not report.capture.complete  # type: ignore[attr-defined]
    assert any(str(MAX_DECODED) in w and "HTTP bodies" in w for w in report.capture.warnings)  # type: ignore[attr-defined]
    corrupt = b"\x1f\x8b\x08\x00" + b"\xff" * 200
    report = _scan(tmp_path, _http(corrupt, b"Content-Encoding: gzip\r\nContent-Length: 204\r\n")
                   + b"GET /?imei=" + IMEI.encode() + b" HTTP/1.1\r\n\r\n", None)
    notes = report.notes  # type: ignore[attr-defined]
    assert len(notes) == 1 and notes[0].startswith(f"{DST}:80: HTTP body not decompressed")
    assert _raw_matches(report) == [("imei", "raw", "payload")]  # the scan went on


def test_capture_wide_bound_on_connections_holding_segments(tmp_path: Path) -> None:
    """300 connections at once each send their second segment first: 256 (MAX_HELD_STREAMS) may hold it until the
    first comes; the others skip the missing bytes as a gap at once, and their value is not found."""
    data, cut = _payload()
    b = CaptureBuilder()
    for i in range(300):  # started a microsecond apart: every second segment is sent before any first one
        b.tcp_session(T0 + i * 1e-6, f"198.51.{100 + i // 200}.{i % 200 + 1}", 80, data,
                      segments=[(cut, len(data)), (0, cut)])
    b.write(tmp_path / "c.pcap", "pcap")
    report = scan_capture(tmp_path / "c.pcap", IDS)
    assert len(report.identifier_matches) == MAX_HELD_STREAMS
    assert any(n.startswith(f"{300 - MAX_HELD_STREAMS} gap(s) in TCP streams") for n in report.notes)


def test_reassembler_bounds_what_it_holds() -> None:
    r = Reassembler()
    r.syn(99)
    delivered: list[tuple[bytes, bool]] = []
    # The first segment never comes: the early ones are held up to the bound, then the gap is skipped.
    for i in range(1, MAX_PENDING_SEGMENTS + 2):
        delivered += r.feed(100 + 10 * i, bytes([i]) * 10)
    assert r.gaps == 1 and len(r.pending) == 0
    assert delivered[0] == (b"\x01" * 10, True) and all(not gap for _, gap in delivered[1:])
    assert b"".join(d for d, _ in delivered) == b"".join(bytes([i]) * 10 for i in range(1, MAX_PENDING_SEGMENTS + 2))
    assert r.feed(100, b"\x00" * 10) == [] and r.retransmitted == 1  # the missing bytes, too late: dropped
