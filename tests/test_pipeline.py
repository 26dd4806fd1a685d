"""toolkit.pipeline: order, de-duplication, cache reuse with per-input provenance, progress, bad inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.batch.batch_support import FIXTURE_APKS, comparable_reports, copy_fixtures
from toolkit.acquisition.files import collect_apk_inputs
from toolkit.models import ApkInput, Provenance, Status, Target
from toolkit.pipeline import ProgressEvent, ScanOptions, analyse_inputs, build_result, run_batch, tool_info


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    copy_fixtures(tmp_path / "apks", 6)
    return tmp_path / "apks"


def test_reports_come_back_in_input_order_with_every_input(folder: Path, tmp_path: Path) -> None:
    inputs, _ = collect_apk_inputs([folder])
    reports = analyse_inputs(inputs, ScanOptions(workers=2, cache_path=tmp_path / "c.sqlite3"))
    assert [r.path for r in reports] == [i.path for i in inputs]
    assert all(r.status is Status.analysed and r.sha256 for r in reports)


def test_cached_rerun_gives_the_same_reports_and_analyses_nothing(folder: Path, tmp_path: Path) -> None:
    inputs, _ = collect_apk_inputs([folder])
    options = ScanOptions(workers=2, cache_path=tmp_path / "c.sqlite3")
    first = run_batch(inputs, options)
    second = run_batch(inputs, options)
    assert (first.stats.analysed, first.stats.from_cache) == (6, 0)
    assert (second.stats.analysed, second.stats.from_cache) == (0, 6)
    # Exactly the same objects, timings included: the cache returns what was stored.
    assert [r.model_dump_json() for r in second.reports] == [r.model_dump_json() for r in first.reports]
    fresh = run_batch(inputs, ScanOptions(workers=1, no_cache=True))
    assert comparable_reports(fresh.reports) == comparable_reports(first.reports)


def test_in_process_and_isolated_runs_agree(folder: Path) -> None:
    inputs, _ = collect_apk_inputs([folder])
    isolated = run_batch(inputs, ScanOptions(workers=2, no_cache=True))
    inline = run_batch(inputs, ScanOptions(workers=1, no_cache=True, isolate=False))
    assert comparable_reports(inline.reports) == comparable_reports(isolated.reports)
    assert len(inline.stats.worker_peak_rss) == 1  # this very process


def test_same_bytes_are_analysed_once_but_each_input_keeps_its_path_and_provenance(tmp_path: Path) -> None:
    a = Path(shutil.copy(FIXTURE_APKS / "flashlight.apk", tmp_path / "a.apk"))
    b = Path(shutil.copy(FIXTURE_APKS / "flashlight.apk", tmp_path / "b.apk"))
    inputs = [
        ApkInput(path=str(a), provenance=Provenance(origin="firmware", chain=["fw.zip", "system/app/A.apk"])),
        ApkInput(path=str(b), provenance=Provenance(origin="device", device_path="/system/app/B/B.apk")),
    ]
    cache = tmp_path / "c.sqlite3"
    result = run_batch(inputs, ScanOptions(workers=2, cache_path=cache))
    assert (result.stats.analysed, result.stats.duplicates) == (1, 1)
    assert [r.path for r in result.reports] == [str(a), str(b)]
    assert result.reports[0].provenance == inputs[0].provenance
    assert result.reports[1].provenance == inputs[1].provenance
    assert result.reports[0].sha256 == result.reports[1].sha256
    # Same content, separate objects: a later stage adding a finding to one must not add it to the other.
    assert result.reports[0].findings is not result.reports[1].findings
    assert result.reports[0].metadata is not result.reports[1].metadata
    # From the cache, a third place for the same bytes gets its own provenance, not the first one's.
    c = Path(shutil.copy(a, tmp_path / "c.apk"))
    other = ApkInput(path=str(c), provenance=Provenance(origin="store", chain=["store", "c.apk"]))
    cached = run_batch([other], ScanOptions(workers=1, cache_path=cache))
    assert cached.stats.from_cache == 1
    assert cached.reports[0].path == str(c)
    assert cached.reports[0].provenance == other.provenance


def test_unreadable_and_broken_inputs_are_reported_not_dropped(tmp_path: Path) -> None:
    good = Path(shutil.copy(FIXTURE_APKS / "flashlight.apk", tmp_path / "good.apk"))
    broken = tmp_path / "broken.apk"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    gone = tmp_path / "gone.apk"
    inputs = [ApkInput(path=str(p)) for p in (gone, broken, good)]
    cache = tmp_path / "c.sqlite3"
    result = run_batch(inputs, ScanOptions(workers=2, cache_path=cache))
    assert [r.path for r in result.reports] == [str(gone), str(broken), str(good)]
    assert result.reports[0].status is Status.not_analysed
    assert "cannot read" in (result.reports[0].reason or "")
    assert result.reports[1].status is Status.not_analysed and result.reports[1].reason
    assert result.reports[2].status is Status.analysed
    again = run_batch(inputs, ScanOptions(workers=2, cache_path=cache))
    # The unreadable file has no content to key on: it is tried again; the broken zip's verdict is cached.
    assert (again.stats.from_cache, again.stats.analysed) == (2, 1)


def test_a_bad_cache_file_does_not_stop_the_scan(folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "cache.sqlite3"
    bad.write_bytes(b"garbage, not sqlite " * 200)
    inputs, _ = collect_apk_inputs([folder])
    result = run_batch(inputs, ScanOptions(workers=2, cache_path=bad))
    assert all(r.status is Status.analysed for r in result.reports)
    assert result.stats.cache_problem and str(bad) in result.stats.cache_problem
    assert any(str(bad) in rec.getMessage() for rec in caplog.records)


def test_progress_has_counts_cache_hits_rate_and_eta(folder: Path, tmp_path: Path) -> None:
    inputs, _ = collect_apk_inputs([folder])
    options = ScanOptions(workers=2, cache_path=tmp_path / "c.sqlite3")
    run_batch(inputs[:2], options)
    events: list[ProgressEvent] = []
    run_batch(inputs, options, events.append)
    analyse = [e for e in events if e.stage == "analyse"]
    assert [e.done for e in analyse] == list(range(1, 7))
    assert all(e.total == 6 for e in analyse)
    assert analyse[-1].counts == {"analysed": 6}
    assert analyse[-1].cached == 2
    fresh = [e for e in analyse if e.rate is not None]
    assert len(fresh) == 4 and all(e.rate and e.rate > 0 for e in fresh)
    assert fresh[-1].eta_seconds == 0
    assert [e for e in events if e.stage == "hash"][-1].done == 6


def test_build_result_carries_what_the_summary_needs(folder: Path, tmp_path: Path) -> None:
    inputs, _ = collect_apk_inputs([folder])
    reports = analyse_inputs(inputs, ScanOptions(workers=1, cache_path=tmp_path / "c.sqlite3"))
    result = build_result(Target(kind="apk_files", inputs=[str(folder)]), reports)
    assert result.tool == tool_info()
    assert len(result.apks) == 6
    assert {a.status for a in result.apks} == {Status.analysed}


def test_scan_options_defaults() -> None:
    options = ScanOptions(workers=4)
    limit = options.effective_memory_limit()
    assert limit is not None and limit >= 1 << 30
    assert ScanOptions(memory_limit=0).effective_memory_limit() is None
    assert options.effective_task_timeout() == 2 * options.analysis.time_budget_seconds + 60
    with pytest.raises(ValueError):
        ScanOptions(workers=0)
