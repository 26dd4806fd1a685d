"""A device-side adbd in Python: listens on loopback and speaks the real ADB wire protocol.

One thread accepts connections; each connection has a reader thread that handles CNXN/AUTH and routes
OPEN/OKAY/WRTE/CLSE to streams; each stream runs its service (shell, shell v2, exec, sync) in its own
thread and waits for the host's OKAY before sending the next WRTE (per-stream flow control).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ConfigDict, Field

from toolkit.simulator import protocol as P
from toolkit.simulator.profile import DeviceProfile, load_profile
from toolkit.simulator.shell import Shell, ShellResult

log = logging.getLogger(__name__)

AuthMode = Literal["open", "trusted", "prompt", "never"]
def device_features(sdk: int) -> list[str]:
    """Features adbd announces: shell v2 and cmd since Android 7.0 (API 24), stat v2 since 8.0 (API 26)."""
    features = []
    if sdk >= 24:
        features += ["shell_v2", "cmd"]
    if sdk >= 26:
        features.append("stat_v2")
    return features
SYNC_DATA_MAX = 64 * 1024
ACK_TIMEOUT = 30.0


class Faults(BaseModel):
    """What should go wrong, to test that acquisition copes."""

    model_config = ConfigDict(extra="forbid")

    drop_after_bytes: int | None = Field(None, description="Cut the TCP connection after this many file bytes")
    drop_times: int = Field(1, description="How many connections get cut (then pulls succeed)")
    drop_paths: list[str] = Field(default_factory=list, description="Only pulls of these paths (empty: any)")
    stall_seconds: float = Field(0.0, description="Stall this long before answering a pull")
    stall_paths: list[str] = Field(default_factory=list, description="Only these paths (empty: any)")
    stall_times: int = Field(1, description="How many pulls stall (then pulls answer at once)")
    denied_paths: list[str] = Field(default_factory=list, description="Paths that answer Permission denied")
    auth_delay_seconds: float = Field(0.0, description="prompt mode: time the user takes to tap Allow")
    offline: bool = Field(False, description="Accept TCP connections but never answer (an offline device)")
    command_delay_seconds: float = Field(0.0, description="Think this long before answering a shell command")
    slow_commands: list[str] = Field(default_factory=list, description="Only these command lines (empty: all)")
    announced_sizes: dict[str, int] = Field(default_factory=dict,
                                            description="Paths whose STAT announces this size (a phone that lies)")


class _Stream:
    def __init__(self, conn: _Connection, local_id: int, remote_id: int, destination: str) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.destination = destination
        self.incoming: queue.Queue[bytes | None] = queue.Queue()
        self.acked = threading.Event()
        self.acked.set()
        self.closed = threading.Event()
        self._buffer = b""
        self._close_lock = threading.Lock()

    # --- host -> device
    def read_exact(self, n: int, timeout: float | None = ACK_TIMEOUT) -> bytes | None:
        while len(self._buffer) < n:
            try:
                chunk = self.incoming.get(timeout=timeout)
            except queue.Empty:
                return None
            if chunk is None:
                return None
            self._buffer += chunk
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def incoming_chunk(self) -> bytes | None:
        """The next bytes the host wrote (any buffered remainder first); None when the stream closed."""
        if self._buffer:
            out, self._buffer = self._buffer, b""
            return out
        return self.incoming.get()  # close() and kill() put None, so this wakes when the stream ends

    # --- device -> host, one WRTE at a time, each waiting for the host's OKAY
    def write(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            if self.closed.is_set() or not self.conn.alive:
                return False
            chunk = bytes(view[: self.conn.max_payload])
            view = view[len(chunk):]
            self.acked.clear()
            self.conn.send(P.Packet(P.A_WRTE, self.local_id, self.remote_id, chunk))
            deadline = time.monotonic() + ACK_TIMEOUT
            while not self.acked.wait(0.05):
                if self.closed.is_set() or not self.conn.alive or time.monotonic() > deadline:
                    return False
        return True

    def close(self) -> None:
        """Close once: adbd answers the host's CLSE with its own, and sends one when its service ends."""
        with self._close_lock:
            first = not self.closed.is_set()
            self.closed.set()
        if first:
            self.conn.send(P.Packet(P.A_CLSE, self.local_id, self.remote_id))
        self.incoming.put(None)
        self.conn.forget(self.local_id)


class _Connection:
    def __init__(self, sim: DeviceSimulator, sock: socket.socket) -> None:
        self.sim = sim
        self.sock = sock
        self.alive = True
        self.authorised = sim.auth == "open"
        self.max_payload = P.MAX_PAYLOAD
        self.version = P.A_VERSION_MIN
        self.token = b""
        self.streams: dict[int, _Stream] = {}
        self._next_id = 1
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self.file_bytes_sent = 0

    # --- plumbing
    def send(self, packet: P.Packet) -> None:
        if not self.alive:
            return
        try:
            with self._send_lock:
                self.sock.sendall(packet.pack())
        except OSError:
            self.kill()

    def kill(self) -> None:
        if self.alive:
            self.alive = False
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            with self._lock:
                streams = list(self.streams.values())
            for s in streams:
                s.closed.set()
                s.incoming.put(None)

    def forget(self, local_id: int) -> None:
        with self._lock:
            self.streams.pop(local_id, None)

    def _recv_exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    # --- the connection loop
    def serve(self) -> None:
        try:
            while self.alive and not self.sim.stopping:
                header = self._recv_exact(P.HEADER.size)
                if header is None:
                    break
                command, arg0, arg1, length, check = P.parse_header(header)
                data = self._recv_exact(length) if length else b""
                if data is None:
                    break
                if not P.verify_checksum(data, check):
                    log.warning("simulator: bad checksum on %s packet, dropping connection",
                                P.NAMES.get(command, command))
                    break
                self.handle(P.Packet(command, arg0, arg1, data))
        except P.ProtocolError as e:
            log.warning("simulator: %s", e)
        finally:
            self.kill()

    def handle(self, pkt: P.Packet) -> None:
        sim = self.sim
        if pkt.command == P.A_CNXN and sim.faults.offline:
            sim.record("FAULT offline: CNXN not answered")
            return
        if pkt.command == P.A_CNXN:
            self.version = min(pkt.arg0, P.A_VERSION_SKIP_CHECKSUM) if pkt.arg0 >= P.A_VERSION_MIN else pkt.arg0
            self.max_payload = max(256, min(pkt.arg1 or P.MAX_PAYLOAD, P.MAX_PAYLOAD))
            sim.record("CNXN " + pkt.data.rstrip(b"\0").decode(errors="replace"))
            if self.authorised:
                self._send_cnxn()
            else:
                self._send_token()
            return
        if pkt.command == P.A_AUTH:
            self._handle_auth(pkt)
            return
        if not self.authorised:
            return  # adbd ignores everything but CNXN/AUTH until the host is authorised
        if pkt.command == P.A_OPEN:
            destination = pkt.data.rstrip(b"\0").decode(errors="replace")
            self._open(pkt.arg0, destination)
        elif pkt.command == P.A_OKAY:
            with self._lock:
                stream = self.streams.get(pkt.arg1)
            if stream is not None:
                stream.acked.set()
        elif pkt.command == P.A_WRTE:
            with self._lock:
                stream = self.streams.get(pkt.arg1)
            if stream is None:
                return  # real adb may write (close-stdin) after CLSE: ignore unknown stream ids
            stream.incoming.put(pkt.data)
            self.send(P.Packet(P.A_OKAY, stream.local_id, stream.remote_id))
        elif pkt.command == P.A_CLSE:
            with self._lock:
                stream = self.streams.get(pkt.arg1)
            if stream is not None:
                stream.close()

    def _send_cnxn(self) -> None:
        self.authorised = True
        banner = (f"device::ro.product.name={sim_prop(self.sim, 'ro.product.name')};"
                  f"ro.product.model={sim_prop(self.sim, 'ro.product.model')};"
                  f"ro.product.device={sim_prop(self.sim, 'ro.product.device')};"
                  f"features={','.join(self.sim.features)}")
        self.send(P.Packet(P.A_CNXN, self.version, self.max_payload, banner.encode()))

    def _send_token(self) -> None:
        self.token = os.urandom(P.TOKEN_SIZE)
        self.send(P.Packet(P.A_AUTH, P.AUTH_TOKEN, 0, self.token))

    def _handle_auth(self, pkt: P.Packet) -> None:
        sim = self.sim
        if self.authorised:
            return
        if pkt.arg0 == P.AUTH_SIGNATURE:
            if sim.auth != "never" and any(P.verify_token_signature(k, self.token, pkt.data)
                                           for k in sim.trusted_public_keys()):
                sim.record("AUTH signature accepted")
                self._send_cnxn()
            else:
                sim.record("AUTH signature rejected")
                self._send_token()
        elif pkt.arg0 == P.AUTH_RSAPUBLICKEY:
            sim.record("AUTH public key offered")
            if sim.auth != "prompt":
                return  # the "Allow USB debugging?" dialog is up and nobody taps it
            try:
                key = P.decode_android_pubkey(pkt.data)
            except ValueError as e:
                log.warning("simulator: unusable public key: %s", e)
                return

            def allow() -> None:
                if sim.faults.auth_delay_seconds:
                    time.sleep(sim.faults.auth_delay_seconds)
                if self.alive:
                    sim.trust(key)
                    sim.record("AUTH user tapped Allow")
                    self._send_cnxn()

            threading.Thread(target=allow, daemon=True).start()

    def _open(self, remote_id: int, destination: str) -> None:
        sim = self.sim
        sim.record("OPEN " + destination)
        service = _service_for(destination, self.sim.features)
        if service is None:
            self.send(P.Packet(P.A_CLSE, 0, remote_id))
            return
        with self._lock:
            local_id = self._next_id
            self._next_id += 1
            stream = _Stream(self, local_id, remote_id, destination)
            self.streams[local_id] = stream
        self.send(P.Packet(P.A_OKAY, local_id, remote_id))

        def run() -> None:
            try:
                service(self.sim, stream, destination)
            except Exception:  # pragma: no cover - a simulator bug must not hang the client
                log.exception("simulator: service %s failed", destination)
            finally:
                stream.close()

        threading.Thread(target=run, daemon=True, name=f"adb-stream-{local_id}").start()


def sim_prop(sim: DeviceSimulator, key: str) -> str:
    return sim.profile.prop(key)


# --- services ---------------------------------------------------------------------------------------------

def _split_service(destination: str) -> tuple[str, list[str], str]:
    head, _, command = destination.partition(":")
    name, *args = head.split(",")
    return name, args, command


def _service_for(destination: str, features: list[str]) -> Callable[[DeviceSimulator, _Stream, str], None] | None:
    name, args, _ = _split_service(destination)
    if name == "shell":
        if "v2" in args:
            return _shell_v2 if "shell_v2" in features else None  # older adbd: unknown service
        return _shell_v1
    if name == "exec":
        return _exec
    if name == "sync":
        return _sync
    return None  # reboot:, root:, remount:, tcpip:, install ... are refused: the phone stays untouched


def _run_shell(sim: DeviceSimulator, command: str) -> tuple[bytes, bytes, int]:
    result = _shell_result(sim, command)
    return result.stdout, result.stderr, result.exit_code


def _shell_result(sim: DeviceSimulator, command: str) -> ShellResult:
    sim.record("SHELL " + command)
    if sim.faults.command_delay_seconds and _matches(command, sim.faults.slow_commands):
        time.sleep(sim.faults.command_delay_seconds)
    return Shell(sim.profile, sim.denied_paths()).run(command)


def _interactive(sim: DeviceSimulator, read: Callable[[], bytes | None], write: Callable[[bytes], bool],
                 tty: bool = True) -> None:
    """A small shell for manual testing (`adb shell`): one command per line, `exit` ends. With a pty it echoes
    keystrokes, prints a prompt and ends lines with CRLF, as a terminal session on a phone does."""
    prompt = f"{sim.profile.prop('ro.product.device') or 'device'}:/ $ ".encode() if tty else b""
    nl = b"\r\n" if tty else b"\n"
    if prompt and not write(prompt):
        return
    line = b""
    while True:
        data = read()
        if data is None:
            return
        for byte in data:
            ch = bytes([byte])
            if ch in (b"\r", b"\n"):
                if tty:
                    write(nl)
                command = line.decode(errors="replace").strip()
                line = b""
                if command == "exit":
                    return
                if command:
                    write(_shell_result(sim, command).merged.replace(b"\r\n", b"\n").replace(b"\n", nl))
                if prompt:
                    write(prompt)
            elif ch == b"\x04" and not line:
                return
            elif tty and ch in (b"\x7f", b"\x08"):
                if line:
                    line = line[:-1]
                    write(b"\x08 \x08")
            else:
                line += ch
                if tty:
                    write(ch)


def _shell_v1(sim: DeviceSimulator, stream: _Stream, destination: str) -> None:
    _, _, command = _split_service(destination)
    if not command.strip():
        _interactive(sim, lambda: stream.incoming_chunk(), stream.write)
        return
    stream.write(_shell_result(sim, command).merged)


def _exec(sim: DeviceSimulator, stream: _Stream, destination: str) -> None:
    _, _, command = _split_service(destination)
    out, _, _ = _run_shell(sim, command)
    stream.write(out)


def _shell_v2(sim: DeviceSimulator, stream: _Stream, destination: str) -> None:
    _, _, command = _split_service(destination)
    if not command.strip():
        def read() -> bytes | None:
            while True:
                header = stream.read_exact(5, timeout=None)
                if header is None:
                    return None
                kind, length = struct.unpack("<BI", header)
                payload = stream.read_exact(length, timeout=None) if length else b""
                if payload is None or kind == P.SHELL_CLOSE_STDIN:
                    return None
                if kind == P.SHELL_STDIN:
                    return payload

        _interactive(sim, read, lambda data: stream.write(P.shell_packet(P.SHELL_STDOUT, data)),
                     tty="pty" in _split_service(destination)[1])
        stream.write(P.shell_packet(P.SHELL_EXIT, bytes([0])))
        return
    out, err, code = _run_shell(sim, command)
    payload = b""
    if out:
        payload += P.shell_packet(P.SHELL_STDOUT, out)
    if err:
        payload += P.shell_packet(P.SHELL_STDERR, err)
    payload += P.shell_packet(P.SHELL_EXIT, bytes([code & 0xFF]))
    stream.write(payload)


_STAT_V1 = struct.Struct("<4I")
_STAT_V2 = struct.Struct("<IIQQIIIIQqqq")
_DENT_V1 = struct.Struct("<5I")
_ENOENT, _EACCES = 2, 13
_DIR_MODE = 0o040755


def _sync(sim: DeviceSimulator, stream: _Stream, destination: str) -> None:
    profile = sim.profile
    out = bytearray()

    def flush() -> bool:
        ok = stream.write(bytes(out)) if out else True
        out.clear()
        return ok

    def lookup(path: str) -> tuple[int, int, int, int]:
        """(errno, mode, size, mtime)"""
        if sim.is_denied(path):
            return _EACCES, 0, 0, 0
        f = profile.files.get(path)
        if f is not None:
            return 0, f.mode, sim.faults.announced_sizes.get(path, f.size()), f.mtime
        if path.rstrip("/") in profile.dirs or path == "/":
            return 0, _DIR_MODE, 4096, 1230796800
        return _ENOENT, 0, 0, 0

    while True:
        header = stream.read_exact(8)
        if header is None:
            return
        ident, length = struct.unpack("<4sI", header)
        raw = stream.read_exact(length) if length else b""
        if raw is None:
            return
        path = raw.decode(errors="replace")
        sim.record(f"SYNC {ident.decode(errors='replace')} {path}")
        if ident == b"QUIT":
            flush()
            return
        if ident == b"STAT":
            err, mode, size, mtime = lookup(path)
            out += _STAT_V1.pack(int.from_bytes(b"STAT", "little"), mode if not err else 0,
                                 size & 0xFFFFFFFF, mtime)
        elif ident in (b"STA2", b"LST2") and "stat_v2" in sim.features:
            err, mode, size, mtime = lookup(path)
            out += _STAT_V2.pack(int.from_bytes(ident, "little"), err, 0xFD00, abs(hash(path)) & 0xFFFFFF,
                                 mode, 1, 0, 0, size, mtime, mtime, mtime)
        elif ident == b"LIST":
            base = path.rstrip("/") or "/"
            if not sim.is_denied(base) and base in profile.dirs:
                for name in [".", ".."] + profile.listdir(base):
                    child = base if name in (".", "..") else f"{base.rstrip('/')}/{name}"
                    _, mode, size, mtime = lookup(child)
                    encoded = name.encode()
                    out += _DENT_V1.pack(int.from_bytes(b"DENT", "little"), mode, size & 0xFFFFFFFF, mtime,
                                         len(encoded)) + encoded
            out += _DENT_V1.pack(int.from_bytes(b"DONE", "little"), 0, 0, 0, 0)
        elif ident == b"RECV":
            if not _recv(sim, stream, path, out, flush):
                flush()
                return  # adbd ends the sync session after a failed transfer
        else:
            msg = f"unknown sync request {ident!r}".encode()
            out += b"FAIL" + struct.pack("<I", len(msg)) + msg
            flush()
            return
        if not flush():
            return


def _matches(path: str, paths: Iterable[str]) -> bool:
    paths = list(paths)
    return not paths or path in paths


def _recv(sim: DeviceSimulator, stream: _Stream, path: str, out: bytearray, flush: Callable[[], bool]) -> bool:
    faults = sim.faults

    def fail(reason: str) -> bool:
        msg = f"open failed: {reason}".encode()
        out.extend(b"FAIL" + struct.pack("<I", len(msg)) + msg)
        return False

    if sim.is_denied(path):
        return fail("Permission denied")
    f = sim.profile.files.get(path)
    if f is None:
        return fail("Is a directory" if path in sim.profile.dirs else "No such file or directory")
    if faults.stall_seconds and _matches(path, faults.stall_paths) and sim.take_stall():
        sim.record(f"FAULT stall {path}")
        end = time.monotonic() + faults.stall_seconds
        while time.monotonic() < end and stream.conn.alive and not sim.stopping:
            time.sleep(0.05)
    data = f.read()
    conn = stream.conn
    for i in range(0, len(data) or 1, SYNC_DATA_MAX):
        chunk = data[i:i + SYNC_DATA_MAX]
        if not chunk:
            break
        limit = faults.drop_after_bytes
        if limit is not None and _matches(path, faults.drop_paths) and sim.take_drop(conn, len(chunk)):
            keep = max(0, limit - conn.file_bytes_sent)
            out.extend(b"DATA" + struct.pack("<I", len(chunk)) + chunk[:keep])
            flush()
            sim.record(f"FAULT drop {path} after {conn.file_bytes_sent + keep} bytes")
            time.sleep(0.05)
            conn.kill()
            return False
        conn.file_bytes_sent += len(chunk)
        out.extend(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
        if len(out) >= conn.max_payload and not flush():
            return False
    out.extend(b"DONE" + struct.pack("<I", 0))
    return True


# --- the simulator ----------------------------------------------------------------------------------------

class DeviceSimulator:
    """A simulated handset on 127.0.0.1. Use as a context manager; `port` is where it listens.

    auth: "open" (no authentication, like ro.adb.secure=0), "trusted" (only keys in trusted_keys),
    "prompt" (also accepts an offered public key, as if the user tapped Allow), "never" (never authorises).
    """

    def __init__(self, profile: DeviceProfile | str | Path = "demo", *, auth: AuthMode = "trusted",
                 trusted_keys: Iterable[str | Path | bytes] = (), faults: Faults | None = None,
                 port: int = 0, host: str = "127.0.0.1") -> None:
        self.profile = profile if isinstance(profile, DeviceProfile) else load_profile(profile)
        self.auth: AuthMode = auth
        self.faults = faults or Faults()
        self._keys: list[rsa.RSAPublicKey] = [self._load_key(k) for k in trusted_keys]
        self._host = host
        self._requested_port = port
        self._server: socket.socket | None = None
        self._connections: list[_Connection] = []
        self._lock = threading.Lock()
        self._drops_left = self.faults.drop_times
        self._stalls_left = self.faults.stall_times
        self.stopping = False
        self.log: list[str] = []
        self.port = 0

    @staticmethod
    def _load_key(key: str | Path | bytes) -> rsa.RSAPublicKey:
        if isinstance(key, bytes):
            return P.decode_android_pubkey(key)
        text = str(key)
        if text.endswith(".pub") or Path(text).is_file():
            return P.decode_android_pubkey(Path(text).read_bytes())
        return P.decode_android_pubkey(text)

    # --- state shared by connections
    def record(self, event: str) -> None:
        with self._lock:
            self.log.append(event)
        log.debug("simulator: %s", event)

    def trusted_public_keys(self) -> list[rsa.RSAPublicKey]:
        with self._lock:
            return list(self._keys)

    def trust(self, key: rsa.RSAPublicKey) -> None:
        with self._lock:
            self._keys.append(key)

    def denied_paths(self) -> set[str]:
        return set(self.profile.spec.unreadable) | set(self.faults.denied_paths)

    def is_denied(self, path: str) -> bool:
        return any(path == d or path.startswith(d.rstrip("/") + "/") for d in self.denied_paths())

    def take_stall(self) -> bool:
        with self._lock:
            if self._stalls_left <= 0:
                return False
            self._stalls_left -= 1
            return True

    def take_drop(self, conn: _Connection, chunk_len: int) -> bool:
        limit = self.faults.drop_after_bytes
        if limit is None or conn.file_bytes_sent + chunk_len <= limit:
            return False
        with self._lock:
            if self._drops_left <= 0:
                return False
            self._drops_left -= 1
            return True

    @property
    def features(self) -> list[str]:
        sdk = self.profile.prop("ro.build.version.sdk", "29")
        return device_features(int(sdk) if sdk.isdigit() else 29)

    @property
    def commands(self) -> list[str]:
        """Every shell command the host ran, in order."""
        return [e[6:] for e in self.log if e.startswith("SHELL ")]

    @property
    def services(self) -> list[str]:
        return [e[5:] for e in self.log if e.startswith("OPEN ")]

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- lifecycle
    def start(self) -> DeviceSimulator:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((self._host, self._requested_port))
        srv.listen(8)
        self._server = srv
        self.port = srv.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True, name="adb-sim-accept").start()
        log.info("simulator %s listening on %s:%d (auth=%s)", self.profile.spec.name, self._host, self.port,
                 self.auth)
        return self

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self.stopping:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            with self._lock:
                self._connections.append(conn)
            threading.Thread(target=conn.serve, daemon=True, name="adb-sim-conn").start()

    def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept() (Linux)
            self._server.close()
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            c.kill()

    def __enter__(self) -> DeviceSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
