"""Identifiers inside TLS: a real TLS connection (Python's ssl module, TLS 1.2 and 1.3, a self-signed certificate)
whose records are written into a capture by the project's writer, with the client's key log
(`SSLContext.keylog_filename`, NSS key log format). tshark decrypts it only when the key log is given."""

from __future__ import annotations

import contextlib
import datetime
import gzip
import shutil
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from toolkit.cli.main import app
from toolkit.models.usage import DeviceIdentifier
from toolkit.traffic import tls
from toolkit.traffic.scan import scan_capture
from toolkit.traffic.writer import CaptureBuilder

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None,
                                reason="Debian tshark not installed (apt-get install tshark)")

IMEI = "358240051111110"
T0 = 1600583400.0
IDS = [DeviceIdentifier(kind="imei", value=IMEI, source="test")]
HOST = "push.vendor-cloud.example"


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    start = datetime.datetime(2020, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def _tls_conversation(folder: Path, request: bytes, version: ssl.TLSVersion) -> tuple[list[tuple[bool, bytes]], Path]:
    """A TLS handshake and one request/answer between a client (the phone) and a server, over memory BIOs: the
    records each side sent, in order (True: the phone's), and the client's key log."""
    cert, key = _certificate(folder)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.maximum_version = version
    keylog = folder / "keys.log"
    client_ctx.keylog_filename = str(keylog)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=HOST)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    records: list[tuple[bool, bytes]] = []

    def pump() -> None:
        moved = True
        while moved:
            moved = False
            for end in (client, server):
                with contextlib.suppress(ssl.SSLWantReadError):
                    end.do_handshake()
            for from_phone, source, sink in ((True, c_out, s_in), (False, s_out, c_in)):
                data = source.read()
                if data:
                    records.append((from_phone, data))
                    sink.write(data)
                    moved = True

    pump()
    client.write(request)
    pump()
    assert server.read(len(request) + 10) == request  # the server really got it: the TLS is real
    server.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    pump()
    assert client.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    return records, keylog


def _capture(tmp_path: Path, request: bytes, version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3) -> tuple[Path, Path]:
    records, keylog = _tls_conversation(tmp_path, request, version)
    assert all(IMEI.encode() not in data for _, data in records)  # encrypted on the wire
    b = CaptureBuilder()
    b.dns(T0, HOST, ["47.88.10.21"])
    b.tcp_exchange(T0 + 1, "47.88.10.21", 443, records)
    b.write(tmp_path / "tls.pcapng")
    return tmp_path / "tls.pcapng", keylog


REQUEST = (b"POST /pns/register HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\nContent-Length: 20\r\n\r\nimei="
           + IMEI.encode())


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_identifier_inside_tls_found_only_with_the_key_log(tmp_path: Path, version: ssl.TLSVersion) -> None:
    capture, keylog = _capture(tmp_path, REQUEST, version)
    without = scan_capture(capture, IDS)
    assert without.identifier_matches == []
    assert any("TLS application data not searched: no key log" in n for n in without.notes)
    assert [d.names for d in without.destinations if d.tls] == [[HOST]]  # SNI and DNS: the TLS was seen
    found = scan_capture(capture, IDS, keylog=keylog)
    assert [(m.kind, m.encoding, m.found_in, m.destination) for m in found.identifier_matches] == [
        ("imei", "raw", "tls", "47.88.10.21:443")]
    assert "imei=" in found.identifier_matches[0].context
    assert any("1 of 1 TLS connection(s) decrypted with the key log keys.log" in n for n in found.notes)
    message = next(f.message for f in found.findings if f.rule_id == "identifier-seen-leaving")
    assert "inside TLS decrypted with the key log" in message and IMEI not in message  # masked


def test_gzip_body_inside_tls(tmp_path: Path) -> None:
    body = gzip.compress(b'{"imei":"' + IMEI.encode() + b'"}')
    request = (b"POST /r HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\nContent-Encoding: gzip\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
    capture, keylog = _capture(tmp_path, request)
    found = scan_capture(capture, IDS, keylog=keylog)
    assert [(m.encoding, m.found_in) for m in found.identifier_matches] == [("raw", "tls")]


def test_key_log_of_another_session_decrypts_nothing(tmp_path: Path) -> None:
    capture, _ = _capture(tmp_path, REQUEST)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong = _tls_conversation(other, REQUEST, ssl.TLSVersion.TLSv1_3)
    report = scan_capture(capture, IDS, keylog=wrong)
    assert report.identifier_matches == []
    assert any("0 of 1 TLS connection(s) decrypted" in n and "no secret" in n for n in report.notes)


def test_tshark_missing_is_a_note_and_an_incomplete_capture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture, keylog = _capture(tmp_path, REQUEST)
    monkeypatch.setattr(tls, "tshark_path", lambda: None)
    report = scan_capture(capture, IDS, keylog=keylog)
    assert report.identifier_matches == []
    assert tls.TSHARK_MISSING in report.notes
    assert not report.capture.complete and any("tshark not installed" in w for w in report.capture.warnings)


def test_truncated_capture_with_a_key_log(tmp_path: Path) -> None:
    capture, keylog = _capture(tmp_path, REQUEST)
    data = capture.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[:len(data) - 40])  # inside the last frames (after the request)
    report = scan_capture(cut, IDS, keylog=keylog)
    assert not report.capture.complete and str(cut) in report.capture.warnings[0]
    # tshark stops at the cut too: said in a note; what it decrypted before the cut was searched.
    assert [m.found_in for m in report.identifier_matches] == ["tls"]
    assert any("TLS decryption (tshark) stopped" in n for n in report.notes)


def test_cli_keylog_and_a_file_that_is_not_one(tmp_path: Path) -> None:
    capture, keylog = _capture(tmp_path, REQUEST)
    runner = CliRunner()
    r = runner.invoke(app, ["traffic", "scan", str(capture), "--identifier", f"imei={IMEI}", "--keylog", str(keylog)])
    assert r.exit_code == 1 and "inside TLS" in r.output and IMEI not in r.output
    (tmp_path / "notes.txt").write_text("hello\n")
    r = runner.invoke(app, ["traffic", "scan", str(capture), "--keylog", str(tmp_path / "notes.txt")])
    assert r.exit_code == 2 and "notes.txt: not a TLS key log" in r.output
    assert len([line for line in r.output.splitlines() if line.strip()]) == 1
