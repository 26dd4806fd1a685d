"""The simulator driven by adb-shell (through toolkit.acquisition.adb): auth modes, shell v1/v2, sync."""

from __future__ import annotations

import hashlib
import socket
import struct
import time
from pathlib import Path

import pytest

from tests.simulator.support import BIG_SIZE, FIXTURE_APKS, make_host_key, simulator, small_profile
from toolkit.acquisition import adb
from toolkit.simulator import DeviceSimulator, load_profile
from toolkit.simulator import protocol as P

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return make_host_key(tmp_path)


def test_trusted_key_connects_and_shell_v2_gives_exit_codes(tmp_path: Path, key: Path) -> None:
    with simulator(small_profile(tmp_path), key) as sim:
        conn = adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=3)
        try:
            legacy = conn.run_shell("getprop ro.build.version.sdk")  # shell v1 until told the API level
            assert (legacy.stdout, legacy.exit_code) == (b"29\n", None)
            conn.configure_shell(29)
            ok = conn.run_shell("getprop ro.product.model")
            assert (ok.stdout, ok.exit_code) == (b"Test Phone\n", 0)
            missing = conn.run_shell("frobnicate --now")
            assert missing.exit_code == 127
            assert missing.stderr == b"/system/bin/sh: frobnicate: inaccessible or not found\n"
            denied = conn.run_shell("cat /system/priv-app/Secret/Secret.apk")
            assert denied.exit_code == 1 and b"Permission denied" in denied.stderr
        finally:
            conn.close()
        assert "AUTH signature accepted" in sim.log
        assert any(s.startswith("shell,v2,raw:") for s in sim.services)


def test_prompt_mode_accepts_offered_key_after_the_user_taps_allow(tmp_path: Path, key: Path) -> None:
    from toolkit.simulator import Faults

    with simulator(small_profile(tmp_path), key, auth="prompt", faults=Faults(auth_delay_seconds=0.3)) as sim:
        conn = adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=5)
        assert conn.run_shell("getenforce").stdout == b"Enforcing\n"
        conn.close()
        assert sim.log.index("AUTH public key offered") < sim.log.index("AUTH user tapped Allow")
        # The key is now trusted: a second connection signs the token and needs no prompt.
        conn = adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=5)
        conn.close()
        assert sim.log.count("AUTH signature accepted") == 1


@pytest.mark.parametrize("mode", ["never", "trusted"])
def test_unauthorised_host_gets_a_clear_error_within_the_bounded_wait(tmp_path: Path, key: Path, mode: str) -> None:
    other = make_host_key(tmp_path / "other")  # the phone trusts another computer, not this one
    with DeviceSimulator(small_profile(tmp_path), auth=mode, trusted_keys=[str(other) + ".pub"]) as sim:  # type: ignore[arg-type]
        start = time.monotonic()
        with pytest.raises(adb.AdbError) as err:
            adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=1.0)
        assert err.value.kind == "unauthorised"
        assert "tap Allow" in err.value.message
        assert time.monotonic() - start < 10
        assert "AUTH signature rejected" in sim.log and "AUTH public key offered" in sim.log


def test_offline_device_is_reported_as_offline_not_unauthorised(tmp_path: Path, key: Path) -> None:
    from toolkit.simulator import Faults

    with simulator(small_profile(tmp_path), key, faults=Faults(offline=True)) as sim, \
            pytest.raises(adb.AdbError) as err:
        adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=1, io_timeout=0.5)
    assert err.value.kind == "offline" and "offline" in err.value.message


def test_open_mode_and_connection_refused(tmp_path: Path, key: Path) -> None:
    with simulator(small_profile(tmp_path), None, auth="open") as sim:
        conn = adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=1)
        conn.configure_shell(29)
        assert conn.run_shell("id").exit_code == 0
        conn.close()
        port = sim.port
    with pytest.raises(adb.AdbError) as err:
        adb.connect_tcp("127.0.0.1", port, key_path=key, auth_timeout=1)
    assert err.value.kind == "no_device"


def test_pull_is_byte_identical_with_flow_control_over_several_packets(tmp_path: Path, key: Path) -> None:
    profile = small_profile(tmp_path)
    with simulator(profile, key) as sim:
        conn = adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=3)
        try:
            st = conn.stat("/system/app/Big/Big.apk")
            assert st.size == BIG_SIZE and st.exists
            got: list[int] = []
            conn.pull("/system/app/Big/Big.apk", tmp_path / "big.apk", got.append)
            assert (tmp_path / "big.apk").read_bytes() == profile.files["/system/app/Big/Big.apk"].read()
            assert sum(got) == BIG_SIZE
            conn.pull("/system/app/AppMarket/AppMarket.apk", tmp_path / "m.apk")
            assert hashlib.sha256((tmp_path / "m.apk").read_bytes()).digest() == \
                hashlib.sha256((FIXTURE_APKS / "appmarket.apk").read_bytes()).digest()
            assert conn.listdir("/system/app") == ["AppMarket", "Big"]
            with pytest.raises(adb.PullError) as err:
                conn.pull("/system/priv-app/Secret/Secret.apk", tmp_path / "s.apk")
            assert err.value.reason == "Permission denied" and not err.value.transient
            # The connection is still usable after a refused pull.
            assert conn.run_shell("getprop ro.serialno").stdout == b"TP0001\n"
        finally:
            conn.close()


def _raw_packet(sock: socket.socket) -> P.Packet:
    header = b""
    while len(header) < 24:
        header += sock.recv(24 - len(header))
    command, arg0, arg1, length, _ = P.parse_header(header)
    data = b""
    while len(data) < length:
        data += sock.recv(length - len(data))
    return P.Packet(command, arg0, arg1, data)


def test_raw_protocol_banner_refused_services_and_unknown_stream_ids(tmp_path: Path) -> None:
    """Byte-level checks: CNXN banner/features, zero checksums accepted, write services refused."""
    with DeviceSimulator(small_profile(tmp_path), auth="open") as sim:
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
            cnxn = P.Packet(P.A_CNXN, P.A_VERSION_SKIP_CHECKSUM, 4096, b"host::\0").pack()
            s.sendall(cnxn)
            reply = _raw_packet(s)
            assert reply.name == "CNXN" and reply.arg1 == 4096
            banner = reply.data.decode()
            assert banner.startswith("device::ro.product.name=testphone;ro.product.model=Test Phone;")
            assert "features=shell_v2,cmd,stat_v2" in banner
            # A packet for a stream id nobody opened (real adb sends close-stdin after CLSE) is ignored.
            s.sendall(P.Packet(P.A_WRTE, 99, 12345, b"\x04\0\0\0\0").pack())
            # reboot: is refused with CLSE(0, our id); the phone is not touched.
            s.sendall(P.Packet(P.A_OPEN, 7, 0, b"reboot:\0").pack())
            refused = _raw_packet(s)
            assert (refused.name, refused.arg0, refused.arg1) == ("CLSE", 0, 7)
            # A zero checksum (as Debian's adb sends) is accepted; replies carry real checksums.
            header = struct.pack("<6I", P.A_OPEN, 8, 0, len(b"shell:getprop ro.serialno\0"), 0, P.A_OPEN ^ 0xFFFFFFFF)
            s.sendall(header + b"shell:getprop ro.serialno\0")
            okay = _raw_packet(s)
            assert okay.name == "OKAY" and okay.arg1 == 8
            wrte = _raw_packet(s)
            assert wrte.name == "WRTE" and wrte.data == b"TP0001\n"
            s.sendall(P.Packet(P.A_OKAY, 8, okay.arg0).pack())
            clse = _raw_packet(s)
            assert clse.name == "CLSE" and clse.arg1 == 8
        assert "OPEN reboot:" in sim.log


def test_demo_profile_renders_the_story() -> None:
    profile = load_profile("demo")
    pkgs = {p.name: p for p in profile.spec.packages}
    assert pkgs["com.vendor.cloudmsg"].uid == 1000
    assert profile.files["/system/priv-app/CloudMsg/CloudMsg.apk"].read() == (FIXTURE_APKS / "cloudmsg.apk").read_bytes()
    assert "/system/app/AppMarket/AppMarket.apk" in profile.files
    assert profile.spec.settings["secure"]["cloudmsg_optin"] == "1"
    assert any(a.package == "com.vendor.cloudmsg" and a.repeat_seconds == 1800 for a in profile.spec.alarms)
