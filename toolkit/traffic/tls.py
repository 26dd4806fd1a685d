"""TLS application data of a capture, decrypted with the examiner's key log (NSS key log format, as written by
SSLKEYLOGFILE), through Wireshark's `tshark`.

tshark is the maintained TLS implementation for captures (TLS 1.0-1.3, every common cipher suite, records
reassembled across TCP segments); phonehome does not decrypt TLS itself. It is run once over the capture with
`-o tls.keylog_file:FILE`, and its output is read line by line (memory stays flat): one line per frame that
carries decrypted application data, with the connection's addresses and ports, the time and the decrypted bytes
in hex (one value per TLS record). The dissectors Wireshark would hand those bytes to (HTTP, HTTP/2, MQTT, IMAP,
...) are disabled for the run, so the bytes come out whole as `data.data` instead of being taken apart.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TSHARK_MISSING = "not searched inside TLS: tshark not installed (Debian package tshark)"
# Protocols Wireshark runs on decrypted TLS by port, by ALPN or by heuristics (tshark 4.0: `tshark -G decodes`,
# `tshark -G heuristic-decodes`); disabled so that the decrypted bytes stay one `data` field.
_APP_PROTOCOLS = ("amqp", "coap", "couchbase", "diameter", "dnp3", "dns", "doip", "enip", "http", "http2", "imap",
                  "ldap", "mbtcp", "mongo", "mqtt", "opa.fe", "pop", "q931", "rpkirtr", "sip", "skinny", "smtp",
                  "tpkt", "rdpmt", "mq", "5gli", "fix", "credssp", "spdy", "xmpp", "websocket", "grpc", "json")
_FIELDS = ("tcp.stream", "frame.time_epoch", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
           "tcp.dstport", "data.data")


class TlsUnavailable(Exception):
    """TLS could not be decrypted at all (tshark missing or failing); the message says why, for a report note."""


@dataclass(frozen=True, slots=True)
class Decrypted:
    """Decrypted application data of one frame: the connection (stream number, addresses, ports) and the bytes."""

    stream: int
    ts: float
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes


def tshark_path() -> str | None:
    return shutil.which("tshark")


def check_keylog(keylog: Path) -> None:
    """A key log the examiner named must be readable and hold at least one secret line: ValueError naming the
    file otherwise (a usage error, not a silent "nothing decrypted")."""
    try:
        with keylog.open("rb") as f:
            head = f.read(1 << 16)
    except OSError as e:
        raise ValueError(f"{keylog}: the TLS key log cannot be read: {e.strerror or e}") from e
    labels = (b"CLIENT_RANDOM ", b"CLIENT_HANDSHAKE_TRAFFIC_SECRET ", b"CLIENT_TRAFFIC_SECRET_0 ", b"RSA ")
    if not any(line.startswith(labels) for line in head.splitlines()):
        raise ValueError(f"{keylog}: not a TLS key log (NSS key log format: lines such as CLIENT_RANDOM <random> "
                         "<secret>)")


def decrypt(capture: Path, keylog: Path, timeout: float | None) -> Iterator[Decrypted]:
    """Every frame's decrypted TLS application data, in capture order. Raises TlsUnavailable when tshark is not
    installed, fails, or runs past `timeout` seconds (what was read before is kept by the caller)."""
    tshark = tshark_path()
    if tshark is None:
        raise TlsUnavailable(TSHARK_MISSING)
    cmd = [tshark, "-n", "-r", str(capture), "-o", f"tls.keylog_file:{keylog}", "-Y", "tls.app_data and data.data",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for proto in _APP_PROTOCOLS:
        cmd += ["--disable-protocol", proto]
    for field in _FIELDS:
        cmd += ["-e", field]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    timer = threading.Timer(timeout, proc.kill) if timeout is not None else None
    if timer is not None:
        timer.start()
    try:
        for line in proc.stdout:
            item = _parse(line)
            if item is not None:
                yield item
        proc.wait()
        if timer is not None and timer.finished.is_set() and not timer.is_alive() and proc.returncode < 0:
            raise TlsUnavailable(f"TLS decryption (tshark) stopped by the time limit ({timeout:.0f} s)")
        if proc.returncode != 0:
            err = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
            reason = next((e for e in reversed(err) if "Running as user" not in e), f"exit code {proc.returncode}")
            reason = reason.removeprefix("tshark: ")
            raise TlsUnavailable(f"TLS decryption (tshark) stopped, what it decrypted before was searched: "
                                 f"{reason[:200]}")
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _parse(line: bytes) -> Decrypted | None:
    parts = line.rstrip(b"\r\n").split(b"\t")
    if len(parts) != len(_FIELDS):
        return None
    stream, ts, src4, src6, sport, dst4, dst6, dport, data = parts
    try:
        payload = b"".join(bytes.fromhex(h.decode("ascii")) for h in data.split(b",") if h)
        return Decrypted(int(stream), float(ts), (src4 or src6).decode("ascii"), int(sport),
                         (dst4 or dst6).decode("ascii"), int(dport), payload)
    except (ValueError, UnicodeDecodeError):
        return None
