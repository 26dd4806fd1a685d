"""The adb-server path: a running adb server (Debian's adb, private port and HOME) holds the device and
phonehome talks to it through the host protocol (adbutils), as it must when USB is busy."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.simulator.support import FIXTURE_APKS, DebianAdb, debian_adb_server, make_host_key, small_profile
from toolkit.acquisition import adb
from toolkit.acquisition.device import AcquireOptions, acquire
from toolkit.acquisition.evidence import EvidenceFolder, sha256_file
from toolkit.simulator import DeviceSimulator

pytestmark = [pytest.mark.timeout(90),
              pytest.mark.skipif(shutil.which("adb") is None, reason="Debian adb not installed (apt-get install adb)")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DebianAdb]:
    with debian_adb_server(tmp_path / "adbhome") as client:
        yield client


def test_acquire_through_the_adb_server(tmp_path: Path, server: DebianAdb) -> None:
    key_pub = server.home / ".android" / "adbkey.pub"
    with DeviceSimulator(small_profile(tmp_path), auth="trusted", trusted_keys=[key_pub]) as sim:
        conn = adb.connect(tcp=sim.serial, use_server=True, server_port_=server.port, auth_timeout=5)
        assert conn.transport == "adb-server" and conn.serial == sim.serial
        entries = adb.list_server_devices(server.port)
        assert [(e.serial, e.state, e.model) for e in entries] == [(sim.serial, "device", "Test_Phone")]
        out = conn.run_shell("no_such_tool")
        assert out.exit_code == 127 and b"inaccessible or not found" in out.stderr
        conn.close()
        result = acquire(tmp_path / "ev", lambda: adb.connect_server(sim.serial, port=server.port),
                         AcquireOptions(retries=1, retry_delay=0.05))
    m = result.manifest
    assert m.transport == "adb-server" and m.complete
    market = next(f for f in m.files if f.device_path == "/system/app/AppMarket/AppMarket.apk")
    assert market.sha256 == sha256_file(FIXTURE_APKS / "appmarket.apk")
    secret = next(f for f in m.files if f.device_path == "/system/priv-app/Secret/Secret.apk")
    assert secret.status == "failed" and secret.reason == "Permission denied"
    assert EvidenceFolder(tmp_path / "ev").verify() == []


def test_usb_unavailable_falls_back_to_the_server_and_says_so(tmp_path: Path, server: DebianAdb,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    key_pub = server.home / ".android" / "adbkey.pub"
    with DeviceSimulator(small_profile(tmp_path), auth="trusted", trusted_keys=[key_pub]) as sim:
        server("connect", sim.serial, check=True)
        conn = adb.connect(serial=sim.serial, server_port_=server.port, auth_timeout=5,
                           key_path=make_host_key(tmp_path))
        assert conn.transport == "adb-server"
        assert conn.run_shell("getprop ro.serialno").stdout == b"TP0001\n"
    assert "Using the adb server on port" in caplog.text


def test_server_reports_unauthorised_and_missing_devices_in_one_sentence(tmp_path: Path, server: DebianAdb) -> None:
    with DeviceSimulator(small_profile(tmp_path), auth="never") as sim:
        with pytest.raises(adb.AdbError) as err:
            adb.connect(tcp=sim.serial, use_server=True, server_port_=server.port, auth_timeout=1)
        assert err.value.kind == "unauthorised" and "tap Allow" in err.value.message
    with pytest.raises(adb.AdbError) as err:
        adb.connect_server("nonexistent-serial", port=server.port, auth_timeout=0.5)
    assert err.value.kind == "no_device"


def test_no_server_no_usb_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(adb.AdbError) as err:
        adb.connect(serial="ABC123", server_port_=1, key_path=make_host_key(tmp_path), auth_timeout=0.5)
    assert err.value.kind in ("no_device", "libusb_missing")
    assert err.value.message.endswith(".") and "\n" not in err.value.message


def test_device_list_shows_server_devices_with_their_state(tmp_path: Path, server: DebianAdb) -> None:
    from typer.testing import CliRunner

    from toolkit.cli.main import app

    key_pub = server.home / ".android" / "adbkey.pub"
    with DeviceSimulator(small_profile(tmp_path), auth="trusted", trusted_keys=[key_pub]) as sim:
        server("connect", sim.serial, check=True)
        result = CliRunner().invoke(app, ["device", "list", "--adb-server-port", str(server.port)],
                                    env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if sim.serial in line)
    assert "device" in row and "adb-server" in row and "Test_Phone" in row


def test_old_phone_through_the_server_gets_exit_codes_from_the_legacy_shell(tmp_path: Path, server: DebianAdb) -> None:
    key_pub = server.home / ".android" / "adbkey.pub"
    with DeviceSimulator(small_profile(tmp_path, sdk=23), auth="trusted", trusted_keys=[key_pub]) as sim:
        conn = adb.connect(tcp=sim.serial, use_server=True, server_port_=server.port, auth_timeout=5)
        missing = conn.run_shell("no_such_tool")
        assert missing.exit_code == 127  # adbutils appends `; echo X4EXIT:$?` without shell v2
        assert conn.run_shell("getprop ro.serialno").stdout == b"TP0001\n"
    assert not any(s.startswith("shell,v2") for s in sim.services)


def test_several_devices_need_a_serial_and_an_offline_one_is_named(tmp_path: Path, server: DebianAdb) -> None:
    from toolkit.simulator import Faults

    key_pub = server.home / ".android" / "adbkey.pub"
    with DeviceSimulator(small_profile(tmp_path / "a"), auth="trusted", trusted_keys=[key_pub]) as one, \
            DeviceSimulator(small_profile(tmp_path / "b"), auth="trusted", trusted_keys=[key_pub]) as two:
        server("connect", one.serial, check=True)
        server("connect", two.serial, check=True)
        with pytest.raises(adb.AdbError) as err:
            adb.connect(use_server=True, server_port_=server.port, auth_timeout=2)
        assert err.value.kind == "several_devices" and "--serial" in err.value.message
        assert one.serial in err.value.message and two.serial in err.value.message
        chosen = adb.connect(serial=two.serial, use_server=True, server_port_=server.port, auth_timeout=2)
        assert chosen.serial == two.serial
    with DeviceSimulator(small_profile(tmp_path / "c"), faults=Faults(offline=True)) as sim:
        # `adb connect` itself waits ~10 s for the handshake; the server lists the device as offline at once.
        pending = subprocess.Popen([server.exe or "adb", "connect", sim.serial], env=server.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while sim.serial not in server("devices").stdout.decode() and time.monotonic() < deadline:
                time.sleep(0.1)
            with pytest.raises(adb.AdbError) as err:
                adb.connect(serial=sim.serial, use_server=True, server_port_=server.port, auth_timeout=1)
        finally:
            pending.kill()
            pending.wait(timeout=10)
        assert err.value.kind == "offline", err.value.message
        assert err.value.message == f"{sim.serial} is offline: reconnect the cable or restart adb on it."
