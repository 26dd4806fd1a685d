"""Interoperability: Debian's own adb client and server talk to the simulator unchanged.

Runs with a private adb server port and HOME so no other adb server or key on the machine is touched.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.simulator.support import BIG_SIZE, FIXTURE_APKS, DebianAdb, debian_adb_server, small_profile
from toolkit.simulator import DeviceSimulator, render

pytestmark = [pytest.mark.timeout(90),
              pytest.mark.skipif(shutil.which("adb") is None, reason="Debian adb not installed (apt-get install adb)")]


@pytest.fixture
def debian_adb(tmp_path: Path) -> Iterator[DebianAdb]:
    with debian_adb_server(tmp_path / "adbhome") as client:
        yield client


def _wait_state(client: DebianAdb, serial: str, state: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        out = client("devices").stdout.decode()
        for line in out.splitlines()[1:]:
            if line.startswith(serial + "\t"):
                seen = line.split("\t", 1)[1].strip()
        if seen == state:
            return seen
        time.sleep(0.1)
    return seen


def test_adb_connect_shell_and_pull_are_byte_identical(tmp_path: Path, debian_adb: DebianAdb) -> None:
    profile = small_profile(tmp_path)
    key_pub = debian_adb.home / ".android" / "adbkey.pub"
    with DeviceSimulator(profile, auth="trusted", trusted_keys=[key_pub]) as sim:
        out = debian_adb("connect", sim.serial)
        assert b"connected to " + sim.serial.encode() in out.stdout, out
        assert _wait_state(debian_adb, sim.serial, "device") == "device"
        getprop = debian_adb("-s", sim.serial, "shell", "getprop")
        assert getprop.returncode == 0
        assert getprop.stdout.decode() == render.getprop(profile)
        # Exit codes travel through shell protocol v2.
        missing = debian_adb("-s", sim.serial, "shell", "no_such_tool")
        assert missing.returncode == 127
        assert b"inaccessible or not found" in missing.stderr
        # `adb shell` without a command: an interactive session fed from stdin.
        session = subprocess.run([debian_adb.exe or "adb", "-s", sim.serial, "shell"], env=debian_adb.env,
                                 input=b"getprop ro.serialno\nexit\n", capture_output=True, timeout=20)
        assert session.stdout == b"TP0001\n"
        # Pulls: a real APK and a big file spanning many packets, byte-identical.
        for device_path, local in [("/system/app/AppMarket/AppMarket.apk", FIXTURE_APKS / "appmarket.apk"),
                                   ("/system/app/Big/Big.apk", profile.root / "fs/system/app/Big/Big.apk")]:  # type: ignore[operator]
            dest = tmp_path / Path(device_path).name
            pulled = debian_adb("-s", sim.serial, "pull", device_path, str(dest))
            assert pulled.returncode == 0, pulled.stderr
            assert dest.read_bytes() == local.read_bytes()
        assert (tmp_path / "Big.apk").stat().st_size == BIG_SIZE
        denied = debian_adb("-s", sim.serial, "pull", "/system/priv-app/Secret/Secret.apk", str(tmp_path / "s.apk"))
        assert denied.returncode != 0 and b"Permission denied" in denied.stdout + denied.stderr
        assert "AUTH signature accepted" in sim.log
        debian_adb("disconnect", sim.serial)


def test_adb_sees_unauthorised_then_prompt_allows(tmp_path: Path, debian_adb: DebianAdb) -> None:
    with DeviceSimulator(small_profile(tmp_path), auth="never") as sim:
        debian_adb("connect", sim.serial)
        assert _wait_state(debian_adb, sim.serial, "unauthorized") == "unauthorized"
        debian_adb("disconnect", sim.serial)
    with DeviceSimulator(small_profile(tmp_path / "b"), auth="prompt") as sim:
        debian_adb("connect", sim.serial)
        assert _wait_state(debian_adb, sim.serial, "device") == "device"
        assert debian_adb("-s", sim.serial, "shell", "getprop", "ro.serialno").stdout == b"TP0001\n"
        assert "AUTH user tapped Allow" in sim.log
        debian_adb("disconnect", sim.serial)


def test_adb_talks_to_an_old_phone_without_shell_v2_or_stat_v2(tmp_path: Path, debian_adb: DebianAdb) -> None:
    profile = small_profile(tmp_path, sdk=23)
    with DeviceSimulator(profile, auth="open") as sim:
        debian_adb("connect", sim.serial)
        assert _wait_state(debian_adb, sim.serial, "device") == "device"
        assert debian_adb("-s", sim.serial, "shell", "getprop", "ro.serialno").stdout == b"TP0001\n"
        dest = tmp_path / "m.apk"
        pulled = debian_adb("-s", sim.serial, "pull", "/system/app/AppMarket/AppMarket.apk", str(dest))
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        assert dest.read_bytes() == (FIXTURE_APKS / "appmarket.apk").read_bytes()
        debian_adb("disconnect", sim.serial)
    assert not any(s.startswith("shell,v2") for s in sim.services)
    assert not any(e.startswith(("SYNC STA2", "SYNC LST2")) for e in sim.log)
    assert "SYNC STAT /system/app/AppMarket/AppMarket.apk" in sim.log
