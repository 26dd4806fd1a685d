"""Talking to a phone over ADB. THE only module that imports adb_shell (and adbutils).

Three paths, all read-only by construction (no push/install/root is exposed here; the command allow-list in
toolkit.acquisition.device is checked before any shell command is sent):
- TCP (`--tcp HOST:PORT`) with adb-shell's TcpTransport;
- USB with adb-shell's libusb transport;
- the adb server's host protocol (port 5037, via adbutils), used when a running adb server holds the USB
  interface ("busy"), or when asked for.
The host key is the one Android's adb uses (~/.android/adbkey), so a phone that trusts this computer
already does not ask again.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

TransportKind = Literal["tcp", "usb", "adb-server"]
ErrorKind = Literal["no_device", "several_devices", "unauthorised", "offline", "libusb_missing", "usb_busy",
                    "connection", "not_allowed", "failed"]
DEFAULT_AUTH_TIMEOUT = 30.0
DEFAULT_SERVER_PORT = 5037


class AdbError(Exception):
    """A connection problem, with one sentence for the user and a machine-readable kind."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


class PullError(Exception):
    """A file could not be pulled; `reason` is what the phone said (e.g. "Permission denied")."""

    def __init__(self, path: str, reason: str, *, transient: bool, integrity: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.transient = transient
        self.integrity = integrity  # the phone sent something other than what it announced: never retried


# What a file may grow by between its STAT and its transfer before the copy is stopped (one sync DATA packet).
PULL_MARGIN = 64 * 1024


def bounded_progress(path: str, progress: Progress | None, max_bytes: int | None) -> Progress:
    """A progress callback that stops a transfer once more than max_bytes arrived (a phone that announces 1,000
    bytes and sends a gigabyte): raised from inside the transfer, so nothing past the bound is written."""
    received = 0

    def cb(chunk: int) -> None:
        nonlocal received
        received += chunk
        if max_bytes is not None and received > max_bytes:
            raise PullError(path, f"the phone sent more than the {max_bytes - PULL_MARGIN} bytes it announced "
                            f"(stopped after {received} bytes): the copy cannot be trusted", transient=False,
                            integrity=True)
        if progress:
            progress(chunk)

    return cb


class ShellOutput(BaseModel):
    """What one shell command returned. exit_code is None when the shell protocol gives no status (v1)."""

    model_config = ConfigDict(extra="forbid")

    command: str
    stdout: bytes
    stderr: bytes = b""
    exit_code: int | None = None


class RemoteStat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: int
    size: int
    mtime: int

    @property
    def exists(self) -> bool:
        return self.mode != 0


class DeviceEntry(BaseModel):
    """One device seen by `device list`."""

    model_config = ConfigDict(extra="forbid")

    serial: str
    state: str
    transport: TransportKind
    model: str | None = None
    product: str | None = None


Progress = Callable[[int], None]


# --- host key -----------------------------------------------------------------------------------------------

def default_key_path() -> Path:
    """~/.android/adbkey, honouring ADB_VENDOR_KEYS-free setups; ANDROID_USER_HOME like adb does."""
    base = os.environ.get("ANDROID_USER_HOME")
    return Path(base) / "adbkey" if base else Path.home() / ".android" / "adbkey"


def ensure_host_key(path: Path | None = None) -> Path:
    """Return the adb private key path, creating key + .pub (mode 0600) if missing.

    Raises AdbError (kind "failed") naming the file when it cannot be created or is not an RSA private key."""
    path = path or default_key_path()
    try:
        _ensure_host_key(path)
        _signer(path)  # a key the phone could never be shown is better refused now, in one sentence
    except OSError as e:
        raise AdbError("failed", f"{path}: cannot create or read the adb host key ({e.strerror or e}).") from e
    except ValueError as e:
        raise AdbError("failed", f"{path}: not an adb private key (PEM RSA, like ~/.android/adbkey): "
                       f"{str(e).split('. ', 1)[0]}.") from e
    return path


def _ensure_host_key(path: Path) -> None:
    from adb_shell.auth.keygen import keygen

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        old = os.umask(0o077)
        try:
            keygen(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        log.info("created adb host key %s", path)
    elif not Path(str(path) + ".pub").exists():
        from adb_shell.auth.keygen import write_public_keyfile

        write_public_keyfile(str(path), str(path) + ".pub")


def _signer(path: Path):
    from adb_shell.auth.sign_cryptography import CryptographySigner

    return CryptographySigner(str(path))


# --- the connection interface -----------------------------------------------------------------------------

class AdbConnection:
    """A connected, authorised device. Subclasses implement the transport; nothing here writes to the phone."""

    transport: TransportKind
    serial: str
    banner: str = ""

    def run_shell(self, command: str, timeout: float = 120.0) -> ShellOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def configure_shell(self, sdk: int | None) -> None:
        """Told the Android API level, pick the shell protocol (v2 carries exit codes). Default: nothing to do."""

    def stat(self, path: str) -> RemoteStat:  # pragma: no cover - abstract
        raise NotImplementedError

    def pull(self, path: str, dest: Path, progress: Progress | None = None,
             max_bytes: int | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def listdir(self, path: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def parse_shell_v2(data: bytes) -> tuple[bytes, bytes, int | None]:
    """Split a shell protocol v2 stream into stdout, stderr and the exit code."""
    out, err, code = bytearray(), bytearray(), None
    i = 0
    while i + 5 <= len(data):
        kind, length = struct.unpack_from("<BI", data, i)
        payload = data[i + 5:i + 5 + length]
        i += 5 + length
        if kind == 1:
            out += payload
        elif kind == 2:
            err += payload
        elif kind == 3 and payload:
            code = payload[0]
    return bytes(out), bytes(err), code


def _classify_pull_error(exc: Exception) -> tuple[str, bool]:
    """(reason, transient) for an exception raised while pulling."""
    text = str(exc)
    for reason in ("Permission denied", "No such file or directory", "Is a directory"):
        if reason in text:
            return reason, False
    return (text or type(exc).__name__), True


class _BoundedSink(io.BytesIO):
    """What adb-shell's pull writes to (it accepts a BytesIO): each chunk checked, then appended to the file."""

    def __init__(self, dest: Path, check: Progress) -> None:
        super().__init__()
        self.dest = dest
        self.check = check
        self.fh = open(dest, "wb")  # noqa: SIM115 - closed by close(), called by the pull

    def write(self, data) -> int:
        self.check(len(data))
        return self.fh.write(data)

    def close(self) -> None:
        self.fh.close()
        super().close()


class AdbShellConnection(AdbConnection):
    """adb-shell over TCP or USB."""

    def __init__(self, device, transport: TransportKind, serial: str,
                 io_timeout: float = 10.0) -> None:
        self._dev = device
        self.transport = transport
        self.serial = serial
        self.io_timeout = io_timeout
        self._v2 = False

    def configure_shell(self, sdk: int | None) -> None:
        # adb-shell does not expose the device banner; shell protocol v2 exists since Android 7.0 (API 24).
        self._v2 = sdk is not None and sdk >= 24

    def run_shell(self, command: str, timeout: float = 120.0) -> ShellOutput:
        from adb_shell import exceptions as ex

        try:
            if self._v2:
                # adb-shell 0.4 has no public shell v2 call; _service opens "shell,v2,raw:<command>".
                # transport_timeout_s: a command may print nothing for a while (dumpsys on a slow phone);
                # the default (io_timeout) is for detecting a stalled transfer, not a thinking phone.
                raw = self._dev._service(b"shell,v2,raw", command.encode(), transport_timeout_s=timeout,
                                         read_timeout_s=timeout, timeout_s=timeout, decode=False)
                out, err, code = parse_shell_v2(raw)
                return ShellOutput(command=command, stdout=out, stderr=err, exit_code=code)
            raw = self._dev.shell(command, transport_timeout_s=timeout, read_timeout_s=timeout, timeout_s=timeout,
                                  decode=False)
            return ShellOutput(command=command, stdout=raw, exit_code=None)
        except (ex.AdbTimeoutError, ex.TcpTimeoutException) as e:
            raise AdbError("connection", f"The device did not answer `{command}` in time ({e}).") from e
        except (OSError, ex.InvalidResponseError, ex.InvalidChecksumError, ex.InvalidCommandError,
                ex.UsbReadFailedError, ex.UsbWriteFailedError) as e:
            raise AdbError("connection", f"The connection to the device broke during `{command}` ({e}).") from e

    def stat(self, path: str) -> RemoteStat:
        try:
            mode, size, mtime = self._dev.stat(path, read_timeout_s=self.io_timeout)
        except Exception as e:
            reason, transient = _classify_pull_error(e)
            raise PullError(path, reason, transient=transient) from e
        return RemoteStat(mode=mode, size=size, mtime=mtime)

    def listdir(self, path: str) -> list[str]:
        try:
            entries = self._dev.list(path, read_timeout_s=self.io_timeout)
        except Exception as e:
            reason, transient = _classify_pull_error(e)
            raise PullError(path, reason, transient=transient) from e
        return sorted(e.filename.decode(errors="replace") for e in entries
                      if e.filename not in (b".", b"..") and e.mode)

    def pull(self, path: str, dest: Path, progress: Progress | None = None, max_bytes: int | None = None) -> None:
        # adb-shell swallows exceptions from its progress callback, but not from the stream it writes to: the
        # bound is enforced by a sink that writes each DATA chunk to the file only once it is within the bound.
        sink = _BoundedSink(dest, bounded_progress(path, progress, max_bytes))
        try:
            self._dev.pull(path, sink, read_timeout_s=self.io_timeout)
        except PullError:
            raise
        except Exception as e:  # adb-shell raises many types; classify by the phone's message
            reason, transient = _classify_pull_error(e)
            raise PullError(path, reason, transient=transient) from e
        finally:
            sink.close()

    def close(self) -> None:
        try:
            self._dev.close()
        except Exception:  # pragma: no cover - closing a broken transport
            log.debug("close failed", exc_info=True)


def _tcp_transport_class():
    from adb_shell.transport.tcp_transport import TcpTransport

    class _EofAwareTcpTransport(TcpTransport):
        """adb-shell's TcpTransport returns b"" forever on a closed socket; report the disconnect at once."""

        def connect(self, transport_timeout_s: float | None) -> None:
            super().connect(transport_timeout_s)
            # adb-shell writes header and payload separately: without TCP_NODELAY, Nagle's algorithm and
            # delayed ACKs add ~40 ms to every packet.
            self._connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
            data: bytes = super().bulk_read(numbytes, transport_timeout_s)
            if not data:
                raise ConnectionResetError(f"connection to {self._host}:{self._port} closed by the device")
            return data

    return _EofAwareTcpTransport


def connect_tcp(host: str, port: int, *, key_path: Path | None = None,
                auth_timeout: float = DEFAULT_AUTH_TIMEOUT, io_timeout: float = 10.0) -> AdbShellConnection:
    """Connect with adb-shell over TCP; raises AdbError with a one-sentence message."""
    from adb_shell import exceptions as ex
    from adb_shell.adb_device import AdbDevice

    key = ensure_host_key(key_path)
    transport = _tcp_transport_class()(host, port)
    dev = AdbDevice(transport, default_transport_timeout_s=io_timeout)
    serial = f"{host}:{port}"
    asked: list[bool] = []

    def on_prompt(_dev: object) -> None:
        asked.append(True)  # our key was offered: the phone now shows "Allow USB debugging?"
        log.warning("%s: unlock the phone and tap Allow", serial)

    try:
        dev.connect(rsa_keys=[_signer(key)], auth_timeout_s=auth_timeout, read_timeout_s=io_timeout,
                    auth_callback=on_prompt)
    except (ConnectionRefusedError, socket.gaierror) as e:
        raise AdbError("no_device", f"No device answers at {serial} ({e.strerror or e}).") from e
    except (ex.TcpTimeoutException, ex.AdbTimeoutError) as e:
        dev.close()
        if asked:
            raise AdbError("unauthorised", f"The device at {serial} did not authorise this computer within "
                           f"{auth_timeout:g} s: unlock the phone and tap Allow, then try again.") from e
        raise AdbError("offline", f"The device at {serial} accepted the connection but did not answer within "
                       f"{io_timeout:g} s: it is offline (restart adb on the phone or reconnect).") from e
    except (OSError, ex.InvalidResponseError, ex.DeviceAuthError) as e:
        dev.close()
        raise AdbError("offline", f"The device at {serial} is offline or not an ADB device ({e}).") from e
    except (ex.InvalidCommandError, ex.InvalidChecksumError, ex.AdbConnectionError, struct.error, ValueError) as e:
        # Something listens there but does not speak ADB (a web server, another service): say so in one sentence.
        dev.close()
        raise AdbError("offline", f"{serial} answered, but not as an ADB device ({type(e).__name__}: "
                       f"{str(e)[:120]}).") from e
    return AdbShellConnection(dev, "tcp", serial, io_timeout=io_timeout)


def connect_usb(serial: str | None = None, *, key_path: Path | None = None,
                auth_timeout: float = DEFAULT_AUTH_TIMEOUT) -> AdbShellConnection:
    """Connect with adb-shell over USB (libusb). Raises AdbError: libusb_missing, no_device, usb_busy ..."""
    try:
        import usb1
        from adb_shell.adb_device import AdbDeviceUsb
        from adb_shell.transport.usb_transport import UsbTransport
    except (ImportError, OSError) as e:
        raise AdbError("libusb_missing", "USB access needs libusb (Debian: apt-get install libusb-1.0-0) and "
                       f"the adb-shell[usb] extra ({e}).") from e
    from adb_shell import exceptions as ex

    try:
        found = UsbTransport.find_all_adb_devices()
        devices = list(found)
    except (OSError, usb1.USBError) as e:
        raise AdbError("libusb_missing", f"libusb could not list USB devices ({e}).") from e

    def usb_serial_of(d: UsbTransport) -> str:
        # Reading the serial opens the device: without permission (udev rules) libusb refuses.
        try:
            return str(d.serial_number)
        except usb1.USBError as e:
            raise AdbError("usb_busy", "An Android device is on USB but cannot be opened (no permission or held "
                           f"by an adb server) ({e}).") from e

    serials = [usb_serial_of(d) for d in devices]
    if serial:
        serials = [s for s in serials if s == serial]
    if not serials:
        raise AdbError("no_device", "No Android device found over USB: plug the phone in and enable USB debugging"
                       + (f" (serial {serial})." if serial else "."))
    if len(serials) > 1 and not serial:
        raise AdbError("several_devices", f"Several devices are connected ({', '.join(serials)}): "
                       "choose one with --serial.")
    usb_serial = serials[0]
    key = ensure_host_key(key_path)  # only now: no key file is created when there is no phone
    try:
        dev = AdbDeviceUsb(serial=usb_serial, default_transport_timeout_s=10.0)
        dev.connect(rsa_keys=[_signer(key)], auth_timeout_s=auth_timeout,
                    auth_callback=lambda _d: log.warning("unlock the phone and tap Allow"))
    except usb1.USBErrorBusy as e:
        raise AdbError("usb_busy", f"The USB interface of {usb_serial} is busy (an adb server holds it) ({e}).") from e
    except usb1.USBErrorAccess as e:
        raise AdbError("usb_busy", f"No permission to open {usb_serial} over USB: install the udev rules (Debian: "
                       f"apt-get install android-sdk-platform-tools-common) or use the adb server ({e}).") from e
    except (ex.UsbReadFailedError, ex.AdbTimeoutError) as e:
        raise AdbError("unauthorised", f"{usb_serial} did not authorise this computer within {auth_timeout:g} s: "
                       "unlock the phone and tap Allow, then try again.") from e
    except ex.UsbDeviceNotFoundError as e:
        raise AdbError("no_device", f"{usb_serial} disappeared from USB ({e}).") from e
    return AdbShellConnection(dev, "usb", usb_serial)


# --- the adb server path (host protocol on port 5037) ---------------------------------------------------

def server_port() -> int:
    return int(os.environ.get("ANDROID_ADB_SERVER_PORT", DEFAULT_SERVER_PORT))


class AdbServerConnection(AdbConnection):
    """A device reached through a running adb server (adbutils)."""

    def __init__(self, device, serial: str) -> None:
        self._dev = device
        self.transport = "adb-server"
        self.serial = serial

    def run_shell(self, command: str, timeout: float = 120.0) -> ShellOutput:
        from adbutils import AdbError as UError

        try:
            r = self._dev.shell2(command, timeout=timeout, encoding=None, v2=True)
        except UError as e:
            raise AdbError("connection", f"The adb server failed to run `{command}` on {self.serial} ({e}).") from e
        return ShellOutput(command=command, stdout=r.stdout or r.output, stderr=r.stderr or b"",
                           exit_code=r.returncode)

    def stat(self, path: str) -> RemoteStat:
        info = self._dev.sync.stat(path)
        return RemoteStat(mode=info.mode, size=info.size, mtime=int(info.mtime.timestamp()) if info.mtime else 0)

    def pull(self, path: str, dest: Path, progress: Progress | None = None, max_bytes: int | None = None) -> None:
        bounded = bounded_progress(path, progress, max_bytes)
        try:
            with open(dest, "wb") as fh:
                for chunk in self._dev.sync.iter_content(path):
                    bounded(len(chunk))  # before writing: nothing past the bound reaches the disk
                    fh.write(chunk)
        except PullError:
            raise
        except Exception as e:
            reason, transient = _classify_pull_error(e)
            raise PullError(path, reason, transient=transient) from e

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(i.path for i in self._dev.sync.list(path) if i.path not in (".", "..") and i.mode)
        except Exception as e:
            reason, transient = _classify_pull_error(e)
            raise PullError(path, reason, transient=transient) from e

    def close(self) -> None:
        pass


def _server_client(port: int | None = None):
    import adbutils

    return adbutils.AdbClient(host="127.0.0.1", port=port or server_port(), socket_timeout=10)


def server_available(port: int | None = None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port or server_port()), timeout=1):
            return True
    except OSError:
        return False


def list_server_devices(port: int | None = None) -> list[DeviceEntry]:
    """Devices known to the adb server (any state: device, unauthorized, offline)."""
    if not server_available(port):
        return []
    client = _server_client(port)
    out = []
    for info in client.list(extended=True):
        tags = getattr(info, "tags", {}) or {}
        out.append(DeviceEntry(serial=info.serial, state=info.state, transport="adb-server",
                               model=tags.get("model"), product=tags.get("product")))
    return out


def connect_server(serial: str | None = None, *, port: int | None = None, tcp: str | None = None,
                   auth_timeout: float = DEFAULT_AUTH_TIMEOUT) -> AdbServerConnection:
    """Use the running adb server. With `tcp`, ask the server to `adb connect` it first."""
    import time

    port = port or server_port()
    if not server_available(port):
        raise AdbError("no_device", f"No adb server is listening on 127.0.0.1:{port}.")
    client = _server_client(port)
    if tcp:
        answer = client.connect(tcp, timeout=10)
        log.info("adb server: %s", answer)
        serial = serial or tcp
    deadline = time.monotonic() + auth_timeout
    while True:
        entries = list_server_devices(port)
        chosen = [e for e in entries if serial is None or e.serial == serial]
        if not chosen:
            raise AdbError("no_device", f"The adb server on port {port} sees no device"
                           + (f" with serial {serial}." if serial else "."))
        if len(chosen) > 1:
            names = ", ".join(e.serial for e in chosen)
            raise AdbError("several_devices", f"Several devices are connected ({names}): choose one with --serial.")
        entry = chosen[0]
        if entry.state == "device":
            return AdbServerConnection(client.device(entry.serial), entry.serial)
        if time.monotonic() > deadline:
            if entry.state == "unauthorized":
                raise AdbError("unauthorised", f"{entry.serial} has not authorised this computer: unlock the "
                               "phone and tap Allow, then try again.")
            raise AdbError("offline", f"{entry.serial} is {entry.state}: reconnect the cable or restart adb on it.")
        time.sleep(0.2)


def list_devices(server_port_: int | None = None) -> list[DeviceEntry]:
    """USB devices seen directly (if libusb works) plus those of a running adb server."""
    entries: list[DeviceEntry] = []
    try:
        from adb_shell.transport.usb_transport import UsbTransport

        for d in UsbTransport.find_all_adb_devices():
            entries.append(DeviceEntry(serial=d.serial_number, state="usb", transport="usb"))
    except Exception as e:  # libusb missing or no permission: the server may still see devices
        log.info("direct USB listing unavailable: %s", e)
    seen = {entry.serial for entry in entries}
    for entry in list_server_devices(server_port_):
        if entry.serial not in seen:
            entries.append(entry)
    return entries


def connect(*, serial: str | None = None, tcp: str | None = None, use_server: bool | None = None,
            key_path: Path | None = None, auth_timeout: float = DEFAULT_AUTH_TIMEOUT,
            server_port_: int | None = None) -> AdbConnection:
    """Open the device the way the user asked; fall back to the adb server when USB is busy or unavailable.

    use_server: True forces the adb-server path, False forbids it, None lets phonehome choose.
    """
    if use_server:
        return connect_server(serial, port=server_port_, tcp=tcp, auth_timeout=auth_timeout)
    if tcp:
        host, _, port = tcp.rpartition(":")
        host = host.strip("[]")  # [::1]:5555
        if not host or not port.isdigit():
            raise AdbError("failed", f"--tcp wants HOST:PORT, got {tcp!r}.")
        if not 0 < int(port) < 65536:
            raise AdbError("failed", f"--tcp {tcp}: port {port} is not a TCP port (1-65535).")
        return connect_tcp(host, int(port), key_path=key_path, auth_timeout=auth_timeout)
    try:
        return connect_usb(serial, key_path=key_path, auth_timeout=auth_timeout)
    except AdbError as e:
        if use_server is False or e.kind not in ("usb_busy", "libusb_missing", "no_device"):
            raise
        if not server_available(server_port_):
            raise
        log.warning("%s Using the adb server on port %d instead.", e.message, server_port_ or server_port())
        return connect_server(serial, port=server_port_, auth_timeout=auth_timeout)
