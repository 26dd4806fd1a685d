"""A phone that lies, floods or never answers (issue 12, items 12-16), over the real ADB protocol of the simulator."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.simulator.support import FIXTURE_APKS, make_host_key, simulator, write_profile
from toolkit.acquisition import adb
from toolkit.acquisition.device import AcquireOptions, acquire, evidence_inputs
from toolkit.acquisition.evidence import EvidenceFolder
from toolkit.cli.main import app
from toolkit.simulator import DeviceSimulator, Faults, load_profile
from toolkit.simulator.profile import DeviceProfile

pytestmark = pytest.mark.timeout(120)
FAST = AcquireOptions(retries=2, retry_delay=0.05, apks="user")
GOOD = "/data/app/com.good-1/base.apk"


def _connector(sim: DeviceSimulator, key: Path):
    return lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=3, io_timeout=5)


def _profile(tmp: Path, packages: list[dict[str, object]], files: dict[str, str] | None = None) -> DeviceProfile:
    """The small test profile plus user packages at hostile paths (and one good app)."""
    root = write_profile(tmp / "profile")
    spec = yaml.safe_load((root / "profile.yml").read_text())
    spec["packages"].append({"name": "com.good", "apk": str(FIXTURE_APKS / "imei_http_post.apk"), "path": GOOD,
                             "uid": 10090})
    spec["packages"] += packages
    spec["files"] = files or {}
    (root / "profile.yml").write_text(yaml.safe_dump(spec))
    return load_profile(root)


def _scan(sim: DeviceSimulator, key: Path, tmp: Path, *extra: str) -> tuple[int, str, dict[str, object]]:
    res = CliRunner().invoke(app, ["device", "scan", "--tcp", sim.serial, "--out", str(tmp / "ev"), "--key", str(key),
                                   "--apks", "user", "-f", "json", "-o", str(tmp / "r.json"), "--workers", "1",
                                   "--no-cache", "--retries", "1", *extra])
    report = json.loads((tmp / "r.json").read_text()) if (tmp / "r.json").is_file() else {}
    return res.exit_code, res.output, report


# -- 12: one bad path never aborts the scan ------------------------------------------------------
def test_refused_and_colliding_paths_are_problems_and_the_scan_goes_on(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    profile = _profile(tmp_path, [
        {"name": "com.dots", "apk": str(FIXTURE_APKS / "flashlight.apk"), "path": "/data/app/../x/base.apk",
         "uid": 10091},
        {"name": "com.file", "apk": str(FIXTURE_APKS / "flashlight.apk"), "path": "/data/app/y.apk", "uid": 10092},
        {"name": "com.dir", "apk": str(FIXTURE_APKS / "cloudmsg.apk"), "path": "/data/app/y.apk/base.apk",
         "uid": 10093},
    ])
    with simulator(profile, key) as sim:
        code, output, report = _scan(sim, key, tmp_path)
    assert "Traceback" not in output
    folder = EvidenceFolder(tmp_path / "ev")
    assert (tmp_path / "ev" / "sha256sums.txt").is_file() and folder.verify() == []
    files = {f.device_path: f for f in folder.load_manifest().files}
    assert files["/data/app/../x/base.apk"].status == "failed"
    assert files["/data/app/../x/base.apk"].reason.startswith("refused: ")  # type: ignore[union-attr]
    both = [files["/data/app/y.apk"], files["/data/app/y.apk/base.apk"]]
    assert [f.status for f in both] == ["pulled", "pulled"]
    assert len({f.local_path for f in both}) == 2
    assert (tmp_path / "ev" / both[0].local_path).read_bytes() == (FIXTURE_APKS / "flashlight.apk").read_bytes()  # type: ignore[operator]
    assert (tmp_path / "ev" / both[1].local_path).read_bytes() == (FIXTURE_APKS / "cloudmsg.apk").read_bytes()  # type: ignore[operator]
    analysed = {a["provenance"]["device_path"] for a in report["apks"]}  # type: ignore[index]
    assert {GOOD, "/data/app/y.apk", "/data/app/y.apk/base.apk"} <= analysed
    assert code == 1, output  # the good app's leak is reported


def test_a_path_the_shell_may_not_see_is_pulled_without_the_phone_hash(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    evil = "/data/app/evil;id/base.apk"
    profile = _profile(tmp_path, [{"name": "com.evil", "apk": str(FIXTURE_APKS / "flashlight.apk"), "path": evil,
                                   "uid": 10094}])
    with simulator(profile, key) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key), FAST.model_copy(update={"device_hash": True}))
        assert not any(";" in c for c in sim.commands)  # the shell command was never sent
    files = {f.device_path: f for f in result.manifest.files}
    assert files[evil].status == "pulled" and files[evil].device_sha256 is None
    assert "not hashed on the phone" in (files[evil].reason or "")
    assert files[GOOD].device_sha256 == files[GOOD].sha256
    assert (tmp_path / "ev" / "sha256sums.txt").is_file()


# -- 13: a phone that announces one size and sends more -------------------------------------------
def test_pull_past_the_announced_size_is_stopped_and_not_retried(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    big = tmp_path / "big.apk"
    big.write_bytes(b"PK\x03\x04" + bytes(8 << 20))
    liar = "/data/app/com.liar-1/base.apk"
    profile = _profile(tmp_path, [{"name": "com.liar", "apk": str(big), "path": liar, "uid": 10095}])
    with simulator(profile, key, faults=Faults(announced_sizes={liar: 1000})) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key), FAST)
    files = {f.device_path: f for f in result.manifest.files}
    bad = files[liar]
    assert bad.status == "failed" and bad.attempts == 1, bad
    assert bad.reason.startswith("integrity: the phone sent more than the 1000 bytes it announced")  # type: ignore[union-attr]
    assert files[GOOD].status == "pulled"  # the next file still comes over a fresh connection
    assert not list((tmp_path / "ev").rglob("*.part"))
    part_sizes = [p.stat().st_size for p in (tmp_path / "ev").rglob("*") if p.is_file()]
    assert max(part_sizes) < 1 << 20  # nothing near the 8 MiB the phone sent was kept
    problems = {e.path: e for e in evidence_inputs(tmp_path / "ev").errors}
    assert problems[liar].level == "error" and "integrity" in problems[liar].reason


def test_bounded_progress_stops_inside_the_transfer() -> None:
    seen: list[int] = []
    cb = adb.bounded_progress("/x.apk", seen.append, 1000 + adb.PULL_MARGIN)
    cb(60000)
    with pytest.raises(adb.PullError) as exc:
        cb(60000)
    assert exc.value.integrity and not exc.value.transient and "1000 bytes it announced" in exc.value.reason
    assert seen == [60000]


# -- 14: a package flood ---------------------------------------------------------------------------
def _flood_profile(tmp: Path, n: int) -> DeviceProfile:
    root = write_profile(tmp / "profile")
    spec = yaml.safe_load((root / "profile.yml").read_text())
    spec["packages"] += [{"name": f"com.flood.p{i}", "path": f"/data/app/com.flood.p{i}-1/base.apk",
                          "uid": 20000 + i} for i in range(n)]
    (root / "profile.yml").write_text(yaml.safe_dump(spec))
    return load_profile(root)


def test_package_flood_is_bounded_said_and_saved_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = make_host_key(tmp_path)
    saves: list[int] = []
    real = EvidenceFolder.save_manifest

    def counting(self: EvidenceFolder, manifest: object) -> None:
        saves.append(1)
        real(self, manifest)  # type: ignore[arg-type]

    monkeypatch.setattr(EvidenceFolder, "save_manifest", counting)
    with simulator(_flood_profile(tmp_path, 400), key) as sim:
        result = acquire(tmp_path / "ev", _connector(sim, key), FAST.model_copy(update={"max_packages": 300}))
    m = result.manifest
    assert len(m.files) == 300 and all(f.status == "pulled" for f in m.files)
    assert not m.complete
    assert m.limits_hit and "lists 402 APK files; only the first 300 were pulled (--max-packages)" in m.limits_hit[0]
    assert len(saves) < 60  # not one full rewrite of acquisition.json per file (300 files)
    assert EvidenceFolder(tmp_path / "ev").verify() == []


def test_interrupted_flood_keeps_what_was_pulled(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    pulled: list[str] = []

    def stop_after_some(event: object) -> None:
        if getattr(event, "stage", "") == "pull":
            pulled.append(getattr(event, "item", ""))
            if len(pulled) == 50:
                raise KeyboardInterrupt

    with simulator(_flood_profile(tmp_path, 200), key) as sim, pytest.raises(KeyboardInterrupt):
        acquire(tmp_path / "ev", _connector(sim, key), FAST, stop_after_some)
    kept = EvidenceFolder(tmp_path / "ev").load_manifest().files
    assert len(kept) == 50  # the batched saves were written on the way out


# -- 15: nothing analysed is not clean --------------------------------------------------------------
def test_scan_where_every_pull_fails_exits_2(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    profile = _profile(tmp_path, [])
    with simulator(profile, key, faults=Faults(denied_paths=[GOOD, "/data/app/com.brightlight.flashlight-1"])) as sim:
        code, output, report = _scan(sim, key, tmp_path)
    assert report["apks"] == []
    assert code == 2, output
    assert "no APK could be analysed" in output


# -- 16: a command that never answers --------------------------------------------------------------
def test_a_silent_command_costs_one_deadline_and_the_acquisition_goes_on(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    key = make_host_key(tmp_path)
    faults = Faults(command_delay_seconds=30, slow_commands=["ps -A -o USER,PID,PPID,NAME", "ps"])
    options = FAST.model_copy(update={"command_timeout": 2.0, "retries": 3})
    caplog.set_level(logging.WARNING)
    with simulator(_profile(tmp_path, []), key, faults=faults) as sim:
        start = time.monotonic()
        result = acquire(tmp_path / "ev", _connector(sim, key), options)
        took = time.monotonic() - start
    ps = result.manifest.command("ps")
    assert ps is not None and ps.error is not None and ("2 s" in ps.error or "in time" in ps.error)
    assert result.manifest.command("proc_net_tcp").error is None  # type: ignore[union-attr]
    assert {f.device_path for f in result.manifest.files if f.status == "pulled"} >= {GOOD}
    # One deadline for the collector, not 2 commands x 4 attempts x 2 s (a bound with slack for a loaded machine).
    assert took < 16, took
    assert any("still waiting for the phone to answer ps" in r.getMessage() for r in caplog.records)
