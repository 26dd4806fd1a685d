"""Local pool isolation: a worker that crashes, hangs, runs out of memory or is killed costs only its APK."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.batch.batch_support import FIXTURE_APKS, copy_fixtures, hostile_task, stored_giant
from toolkit.acquisition.files import collect_apk_inputs
from toolkit.batch.cache import CacheKey, ResultCache
from toolkit.batch.local import LocalPool, auto_memory_limit, parse_size
from toolkit.batch.task import ApkTask
from toolkit.models import Status
from toolkit.pipeline import ScanOptions, run_batch


def test_parse_size() -> None:
    assert parse_size("512M") == 512 << 20
    assert parse_size("2G") == 2 << 30
    assert parse_size("1.5GiB") == 3 << 29
    assert parse_size("64 mb") == 64 << 20
    assert parse_size("4096") == 4096
    for bad in ("", "12x", "G", "-1G", "1.2.3M"):
        with pytest.raises(ValueError, match="not a size"):
            parse_size(bad)


def test_auto_memory_limit_shares_ram_between_workers() -> None:
    one, four = auto_memory_limit(1), auto_memory_limit(4)
    assert one is not None and four is not None
    assert one >= four >= 1 << 30


def test_crash_memory_error_and_sigkill_cost_only_their_own_apk(tmp_path: Path) -> None:
    folder = tmp_path / "apks"
    good = copy_fixtures(folder, 4)
    for fate in ("crash", "hog", "sigkill"):
        shutil.copy(good[0], folder / f"{fate}.apk")
        # distinct bytes so each fate is its own task (same bytes would be analysed once)
        with (folder / f"{fate}.apk").open("ab") as fh:
            fh.write(fate.encode())
    inputs, errors = collect_apk_inputs([folder])
    assert not errors
    options = ScanOptions(workers=2, cache_path=tmp_path / "cache.sqlite3", memory_limit=1 << 30, task_timeout=300)
    result = run_batch(inputs, options, function=hostile_task)
    by_name = {Path(r.path).name: r for r in result.reports}
    assert [r.path for r in result.reports] == [i.path for i in inputs]
    for path in good:
        assert by_name[path.name].status is Status.analysed, by_name[path.name].reason
    assert by_name["crash.apk"].status is Status.not_analysed
    assert "SIGSEGV" in (by_name["crash.apk"].reason or "")
    assert "memory limit of 1.0 GiB" in (by_name["hog.apk"].reason or "")
    assert "SIGKILL" in (by_name["sigkill.apk"].reason or "")
    for name in ("crash.apk", "hog.apk", "sigkill.apk"):
        assert by_name[name].sha256 and len(by_name[name].sha256 or "") == 64
    assert result.stats.failures == {"crash": 1, "memory": 1, "killed": 1}
    assert result.stats.worker_restarts >= 1  # dead workers were replaced while tasks remained
    # Crash and memory verdicts are cached (same limits: same verdict); the SIGKILL is transient.
    rerun = run_batch(inputs, options, function=hostile_task)
    assert rerun.stats.analysed == 1
    assert rerun.stats.failures == {"killed": 1}
    assert rerun.stats.from_cache == len(inputs) - 1


def test_hang_is_stopped_at_the_hard_time_limit(tmp_path: Path) -> None:
    hang = Path(shutil.copy(FIXTURE_APKS / "flashlight.apk", tmp_path / "hang.apk"))
    inputs, _ = collect_apk_inputs([hang])
    result = run_batch(inputs, ScanOptions(workers=1, no_cache=True, task_timeout=1), function=hostile_task)
    assert result.reports[0].status is Status.not_analysed
    assert "hard time limit of 1 s" in (result.reports[0].reason or "")
    assert result.stats.failures == {"timeout": 1}


def test_real_hostile_apk_hits_the_memory_cap_and_a_larger_cap_retries_it(tmp_path: Path) -> None:
    # Inflation is capped (tests/analysis/test_hostile_apk.py), but a large APK file is held in memory whole.
    bomb = stored_giant(tmp_path / "giant.apk", mib=128)
    good = Path(shutil.copy(FIXTURE_APKS / "flashlight.apk", tmp_path / "good.apk"))
    inputs, _ = collect_apk_inputs([bomb, good])
    cache = tmp_path / "cache.sqlite3"
    capped = run_batch(inputs, ScanOptions(workers=1, cache_path=cache, memory_limit=192 << 20))
    assert capped.reports[0].status is Status.not_analysed
    assert "memory limit of 192 MiB" in (capped.reports[0].reason or "")
    assert capped.stats.failures == {"memory": 1}
    assert capped.reports[1].status is Status.analysed
    # Same cap: the verdict is served from the cache, nothing is analysed again.
    same = run_batch(inputs, ScanOptions(workers=1, cache_path=cache, memory_limit=192 << 20))
    assert (same.stats.from_cache, same.stats.analysed) == (2, 0)
    assert same.reports[0].reason == capped.reports[0].reason
    # A larger cap retries it, and the file is parsed to its end: the verdict came from the cap, not the file.
    larger = run_batch(inputs, ScanOptions(workers=1, cache_path=cache, memory_limit=2 << 30))
    assert (larger.stats.from_cache, larger.stats.analysed) == (1, 1)
    assert larger.stats.failures == {}
    assert "memory" not in (larger.reports[0].reason or "")


def test_pool_runs_every_task_once_and_reports_worker_memory(tmp_path: Path) -> None:
    apks = copy_fixtures(tmp_path, 6)
    tasks = [ApkTask(id=str(i), path=str(p)) for i, p in enumerate(apks)]
    outcomes = list(LocalPool(workers=2, memory_limit=1 << 30, task_timeout=120).run(tasks))
    assert sorted(o.task_id for o in outcomes) == [str(i) for i in range(6)]
    assert all(o.report.status is Status.analysed for o in outcomes)
    assert all(o.report.path == "" for o in outcomes)
    workers = {o.worker for o in outcomes}
    assert 1 <= len(workers) <= 2
    assert all((o.peak_rss_bytes or 0) > 10 << 20 for o in outcomes)


def test_no_cache_neither_reads_nor_writes(tmp_path: Path) -> None:
    apks = copy_fixtures(tmp_path / "apks", 2)
    inputs, _ = collect_apk_inputs(apks)
    cache = tmp_path / "cache.sqlite3"
    run_batch(inputs[:1], ScanOptions(workers=1, cache_path=cache))
    result = run_batch(inputs, ScanOptions(workers=1, cache_path=cache, no_cache=True))
    assert result.stats.analysed == 2 and result.stats.from_cache == 0 and result.stats.cache_path is None
    with ResultCache(cache, CacheKey(engine="x", rules="", options="")) as opened:
        assert opened.stats().rows == 1
