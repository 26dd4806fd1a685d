"""Phone acquisition against the simulator over the real protocol: collectors, pulls, faults, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.simulator.support import BIG_SIZE, FIXTURE_APKS, make_host_key, simulator, small_profile
from toolkit.acquisition import adb
from toolkit.acquisition.device import COLLECTORS, AcquireOptions, AcquisitionProgress, acquire
from toolkit.acquisition.evidence import EvidenceError, EvidenceFolder, sha256_file
from toolkit.simulator import DeviceSimulator, Faults, render

pytestmark = pytest.mark.timeout(90)


def _connector(sim: DeviceSimulator, key: Path, io_timeout: float = 5.0):
    return lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=3, io_timeout=io_timeout)


FAST = AcquireOptions(retries=2, retry_delay=0.05)


def test_full_acquisition_writes_a_complete_verifiable_evidence_folder(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    profile = small_profile(tmp_path)
    out = tmp_path / "ev"
    events: list[str] = []
    with simulator(profile, key) as sim:
        result = acquire(out, _connector(sim, key), FAST, lambda e: events.append(e.stage))
    m = result.manifest
    folder = EvidenceFolder(out)
    # Every collector ran once, its stdout saved as-is.
    assert [c.key for c in m.commands] == [c.key for c in COLLECTORS]
    assert all(c.error is None for c in m.commands)
    assert folder.raw_path("getprop").read_text() == render.getprop(profile)
    assert folder.raw_path("proc_net_tcp").read_text() == render.proc_net(profile, "tcp")
    assert m.command("pm_list_packages").command == "pm list packages -f -U -i --show-versioncode"  # type: ignore[union-attr]
    assert m.command("getprop").exit_code == 0  # type: ignore[union-attr]
    # APKs: pulled and hash-verified; the unreadable one listed with the phone's reason.
    by_path = {f.device_path: f for f in m.files}
    market = by_path["/system/app/AppMarket/AppMarket.apk"]
    assert market.status == "pulled" and market.package == "com.vendor.appstore"
    assert market.sha256 == sha256_file(FIXTURE_APKS / "appmarket.apk")
    assert (out / market.local_path).read_bytes() == (FIXTURE_APKS / "appmarket.apk").read_bytes()  # type: ignore[operator]
    assert by_path["/system/app/Big/Big.apk"].size == BIG_SIZE
    assert market.device_mode == "100644" and market.device_mtime is not None
    assert market.device_mtime.year == 2009  # the factory image timestamp the phone reports
    secret = by_path["/system/priv-app/Secret/Secret.apk"]
    assert (secret.status, secret.reason) == ("failed", "Permission denied")
    assert m.complete  # a permission-denied path is explained, not missing
    assert m.transport == "tcp" and m.device.model == "Test Phone" and m.device.serial == "TP0001"
    assert folder.verify() == []
    assert "collect" in events and "pull" in events and "bytes" in events
    # Every command sent is in the manifest, the shell-protocol probe included, in the order the phone saw them.
    sent = [line.split(" ", 2)[2] for line in m.runs[0].commands_sent]
    assert sent == sim.commands and sent[0] == "getprop ro.build.version.sdk"
    # acquisition.json is plain JSON a reviewer can read.
    data = json.loads((out / "acquisition.json").read_text())
    assert data["tool"] == "phonehome" and data["runs"][0]["pulled"] == 4  # market, big, flashlight base + split


def test_read_only_the_phone_only_saw_allow_listed_commands_and_pulls(tmp_path: Path) -> None:
    from toolkit.acquisition.device import check_read_only

    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path), key) as sim:
        acquire(tmp_path / "ev", _connector(sim, key), FAST)
    for command in sim.commands:
        check_read_only(command)  # raises if anything else had been sent
    services = {s.split(":", 1)[0] for s in sim.services}
    assert services <= {"shell,v2,raw", "shell", "sync"}
    sync_ops = {e.split()[1] for e in sim.log if e.startswith("SYNC ")}
    assert sync_ops <= {"STAT", "RECV", "LIST", "QUIT"}  # never SEND


def test_apk_selection(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path), key) as sim:
        user = acquire(tmp_path / "user", _connector(sim, key), AcquireOptions(apks="user"))
        system = acquire(tmp_path / "system", _connector(sim, key), AcquireOptions(apks="system"))
        none = acquire(tmp_path / "none", _connector(sim, key), AcquireOptions(apks="none"))
    assert [(f.package, f.role, f.device_path.rsplit("/", 1)[1]) for f in user.manifest.files] == [
        ("com.brightlight.flashlight", "base", "base.apk"),
        ("com.brightlight.flashlight", "split", "split_config.arm64_v8a.apk")]
    assert all(f.status == "pulled" for f in user.manifest.files)
    assert {f.package for f in system.manifest.files} == {"com.vendor.appstore", "com.test.big", "com.test.secret"}
    assert none.manifest.files == [] and none.manifest.complete


def test_collector_fallbacks_for_phones_that_need_them(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    profile = small_profile(tmp_path, quirks=("pm_list_needs_user", "ps_no_columns"), users=2)
    with simulator(profile, key) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key), AcquireOptions(apks="none"))
    m = result.manifest
    # The empty plain listing is kept as evidence; the --user 0 listing is saved beside it and parsed.
    assert (tmp_path / "ev/raw/pm_list_packages.txt").read_bytes() == b""
    assert m.command("pm_list_packages_user0").command.endswith("--user 0")  # type: ignore[union-attr]
    assert b"package:/system/app/AppMarket/AppMarket.apk=com.vendor.appstore" in \
        (tmp_path / "ev/raw/pm_list_packages_user0.txt").read_bytes()
    assert "com.vendor.appstore" in [p.name for p in result.inventory.packages]
    assert m.command("ps").command == "ps"  # type: ignore[union-attr]
    work = m.command("pm_list_packages_user10")
    assert work is not None and "com.brightlight.flashlight" in (tmp_path / "ev" / work.output_file).read_text()  # type: ignore[operator]


def test_disconnects_lose_nothing_and_a_second_run_resumes_to_a_complete_folder(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    out = tmp_path / "ev"
    # The phone drops the connection 100 kB into the big pull, twice: with no retries the first run fails it.
    faults = Faults(drop_after_bytes=100_000, drop_times=2, drop_paths=["/system/app/Big/Big.apk"])
    with simulator(small_profile(tmp_path), key, faults=faults) as sim:
        first = acquire(out, _connector(sim, key), AcquireOptions(retries=0, retry_delay=0))
        big = next(f for f in first.manifest.files if f.device_path == "/system/app/Big/Big.apk")
        assert big.status == "failed" and big.reason and big.reason.startswith("transient:")
        assert not first.manifest.complete
        assert not list(out.rglob("*.part")), "a partial file was left behind"
        done_first = {f.device_path: f.sha256 for f in first.manifest.files if f.status == "pulled"}
        assert "/system/app/AppMarket/AppMarket.apk" in done_first
        recv_before = sum(1 for e in sim.log if e.startswith("SYNC RECV /system/app/AppMarket/"))
        # Second run: one more drop, then retries succeed; what was complete is not pulled again.
        second = acquire(out, _connector(sim, key), AcquireOptions(retries=2, retry_delay=0.05))
        recv_after = sum(1 for e in sim.log if e.startswith("SYNC RECV /system/app/AppMarket/"))
    assert recv_after == recv_before
    assert second.manifest.complete
    assert [e for e in sim.log if e.startswith("FAULT drop")] == \
        ["FAULT drop /system/app/Big/Big.apk after 100000 bytes"] * 2
    big = next(f for f in second.manifest.files if f.device_path == "/system/app/Big/Big.apk")
    assert big.status == "pulled" and big.size == BIG_SIZE and big.run == 2 and big.attempts == 3
    assert second.manifest.runs[1].reused == len(done_first)
    for path, digest in done_first.items():
        assert next(f for f in second.manifest.files if f.device_path == path).sha256 == digest
    assert [c.run for c in second.manifest.commands] == [1] * len(COLLECTORS)  # first snapshot kept
    assert EvidenceFolder(out).verify() == []


def test_stalled_pull_times_out_and_is_retried(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    faults = Faults(stall_seconds=3.0, stall_paths=["/system/app/AppMarket/AppMarket.apk"])
    with simulator(small_profile(tmp_path), key, faults=faults) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key, io_timeout=1.0),
                         AcquireOptions(apks="system", retries=2, retry_delay=0.05))
    market = next(f for f in result.manifest.files if f.device_path == "/system/app/AppMarket/AppMarket.apk")
    assert market.status == "pulled" and market.attempts == 2
    assert "FAULT stall /system/app/AppMarket/AppMarket.apk" in sim.log


def test_denied_paths_injected_as_faults_are_listed_with_the_reason(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    faults = Faults(denied_paths=["/data/app/com.brightlight.flashlight-1/base.apk"])
    with simulator(small_profile(tmp_path), key, faults=faults) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key), AcquireOptions(apks="user"))
    f, split = result.manifest.files
    assert (f.status, f.reason, f.package) == ("failed", "Permission denied", "com.brightlight.flashlight")
    assert (split.status, split.role) == ("pulled", "split")  # the rest goes on
    assert result.manifest.unreadable == [f]


def test_unauthorised_phone_fails_before_writing_anything(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path), key, auth="never") as sim, pytest.raises(adb.AdbError) as err:
        acquire(tmp_path / "ev", lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=0.5))
    assert err.value.kind == "unauthorised"
    assert not (tmp_path / "ev").exists()


def test_acquire_refuses_a_folder_with_unrelated_files(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "notes.txt").write_text("mine")
    with simulator(small_profile(tmp_path), key) as sim, pytest.raises(EvidenceError, match="not an evidence folder"):
        acquire(tmp_path / "ev", _connector(sim, key), AcquireOptions(apks="none"))
    assert sim.commands == []  # refused before talking to the phone
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["notes.txt"]


def test_resume_refuses_a_folder_from_another_phone(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    out = tmp_path / "ev"
    with simulator(small_profile(tmp_path), key) as sim:
        acquire(out, _connector(sim, key), AcquireOptions(apks="none"))
    with simulator("demo", key) as sim, pytest.raises(EvidenceError, match="another --out folder"):
        acquire(out, _connector(sim, key), AcquireOptions(apks="none"))


def test_old_phone_without_shell_v2_is_acquired_over_the_legacy_shell(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path, sdk=23), key) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key), AcquireOptions(apks="system"))
    assert not any(s.startswith("shell,v2") for s in sim.services)
    assert all(c.exit_code is None for c in result.manifest.commands)  # shell v1 carries no exit status
    assert result.manifest.complete
    assert {f.status for f in result.manifest.files} == {"pulled", "failed"}


def test_interrupted_run_keeps_what_was_done_and_resumes(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    out = tmp_path / "ev"

    def stop_after_first_file(event: AcquisitionProgress) -> None:
        if event.stage == "pull" and event.done == 1:
            raise KeyboardInterrupt  # the user pressed Ctrl-C

    with simulator(small_profile(tmp_path), key) as sim:
        with pytest.raises(KeyboardInterrupt):
            acquire(out, _connector(sim, key), FAST, stop_after_first_file)
        saved = EvidenceFolder(out).load_manifest()
        assert [f.status for f in saved.files] == ["pulled"]
        assert [line.split(" ", 2)[2] for line in saved.runs[0].commands_sent][:2] == \
            ["getprop ro.build.version.sdk", "getprop"]
        second = acquire(out, _connector(sim, key), FAST)
    assert second.manifest.complete and second.manifest.runs[1].reused == 1
    assert EvidenceFolder(out).verify() == []


def test_slow_commands_are_waited_for_not_retried(tmp_path: Path) -> None:
    """A phone that thinks longer than the transfer stall timeout (dumpsys on a slow handset) is not a failure."""
    key = make_host_key(tmp_path)
    faults = Faults(command_delay_seconds=2.0, slow_commands=["dumpsys package"])
    with simulator(small_profile(tmp_path), key, faults=faults) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key, io_timeout=0.8),
                         AcquireOptions(apks="none", retries=0))
    assert result.manifest.complete
    assert all(c.error is None and c.exit_code == 0 for c in result.manifest.commands)
    assert len(sim.commands) == len(COLLECTORS) + 1  # each sent once (plus the SDK probe): no retries


def test_device_hash_confirms_each_copy_end_to_end(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path), key) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key), AcquireOptions(apks="system", device_hash=True))
    pulled = [f for f in result.manifest.files if f.status == "pulled"]
    assert pulled and all(f.device_sha256 == f.sha256 for f in pulled)
    assert "sha256sum /system/app/AppMarket/AppMarket.apk" in sim.commands
