"""The SQLite result cache: keys, failure reuse rules, durability, bad cache files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.batch.batch_support import FIXTURE_APKS
from toolkit.analysis import analyse_apk
from toolkit.analysis.options import AnalysisOptions
from toolkit.batch.cache import CacheError, CacheKey, Limits, ResultCache, default_cache_path, options_digest
from toolkit.models import ApkReport, Provenance, Status

KEY = CacheKey(engine="0.1.0+abc", rules="r1", options=options_digest(AnalysisOptions()))


@pytest.fixture()
def report() -> ApkReport:
    real = analyse_apk(FIXTURE_APKS / "flashlight.apk")
    return real.model_copy(update={"path": "", "provenance": Provenance()})


def test_roundtrip_is_exact_and_survives_reopening(tmp_path: Path, report: ApkReport) -> None:
    path = tmp_path / "sub" / "cache.sqlite3"
    assert report.sha256
    with ResultCache(path, KEY) as cache:
        assert cache.put(report.sha256, report)
        assert cache.stats().rows == 1
    with ResultCache(path, KEY) as cache:
        found = cache.get_many([report.sha256, "0" * 64])
    assert list(found) == [report.sha256]
    assert found[report.sha256] == report
    assert found[report.sha256].model_dump_json() == report.model_dump_json()


@pytest.mark.parametrize(
    "other",
    [
        CacheKey(engine="0.2.0+abc", rules="r1", options=KEY.options),
        CacheKey(engine="0.1.0+abd", rules="r1", options=KEY.options),
        CacheKey(engine=KEY.engine, rules="r2", options=KEY.options),
        CacheKey(engine=KEY.engine, rules="r1", options=options_digest(AnalysisOptions(time_budget_seconds=5))),
    ],
    ids=["engine-version", "engine-code", "rules", "options"],
)
def test_any_key_change_misses_and_prune_drops_only_stale_rows(
    tmp_path: Path, report: ApkReport, other: CacheKey
) -> None:
    path = tmp_path / "cache.sqlite3"
    assert report.sha256
    with ResultCache(path, KEY) as cache:
        cache.put(report.sha256, report)
    with ResultCache(path, other) as cache:
        assert cache.get_many([report.sha256]) == {}
        assert cache.stats().current == 0
        cache.put(report.sha256, report)
        assert cache.stats().rows == 2
        assert cache.prune() == 1
        assert cache.get_many([report.sha256])
    with ResultCache(path, KEY) as cache:
        assert cache.get_many([report.sha256]) == {}


def _failure(status_reason: str) -> ApkReport:
    return ApkReport(path="", sha256="a" * 64, status=Status.not_analysed, reason=status_reason)


def test_memory_failure_is_reused_only_when_the_cap_is_not_larger(tmp_path: Path) -> None:
    sha = "a" * 64
    with ResultCache(tmp_path / "c.sqlite3", KEY) as cache:
        cache.put(sha, _failure("memory cap"), "memory", Limits(memory_limit=1 << 30))
        assert sha in cache.get_many([sha], Limits(memory_limit=1 << 30))
        assert sha in cache.get_many([sha], Limits(memory_limit=512 << 20))
        assert cache.get_many([sha], Limits(memory_limit=2 << 30)) == {}
        assert cache.get_many([sha], Limits(memory_limit=None)) == {}


def test_timeout_failure_is_retried_with_a_longer_limit(tmp_path: Path) -> None:
    sha = "b" * 64
    with ResultCache(tmp_path / "c.sqlite3", KEY) as cache:
        cache.put(sha, _failure("too slow"), "timeout", Limits(timeout=100))
        assert sha in cache.get_many([sha], Limits(timeout=100))
        assert cache.get_many([sha], Limits(timeout=300)) == {}


def test_crashes_are_cached_but_transient_failures_are_not(tmp_path: Path) -> None:
    with ResultCache(tmp_path / "c.sqlite3", KEY) as cache:
        assert cache.put("c" * 64, _failure("SIGSEGV"), "crash")
        assert not cache.put("d" * 64, _failure("SIGKILL"), "killed")
        assert not cache.put("e" * 64, _failure("other file"), "mismatch")
        assert set(cache.get_many(["c" * 64, "d" * 64, "e" * 64], Limits(memory_limit=None))) == {"c" * 64}


def test_not_a_database_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "results.sqlite3"
    bad.write_bytes(b"this is not sqlite, just text " * 100)
    with pytest.raises(CacheError) as info:
        ResultCache(bad, KEY)
    assert str(bad) in str(info.value)


def test_unreadable_row_is_a_miss_not_a_crash(tmp_path: Path, report: ApkReport) -> None:
    path = tmp_path / "c.sqlite3"
    assert report.sha256
    with ResultCache(path, KEY) as cache:
        cache.put(report.sha256, report)
    with sqlite3.connect(path) as db:
        db.execute('UPDATE results SET report = \'{"not": "a report"}\'')
    with ResultCache(path, KEY) as cache:
        assert cache.get_many([report.sha256]) == {}


def test_default_path_follows_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "phonehome" / "results.sqlite3"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_path() == tmp_path / "home" / ".cache" / "phonehome" / "results.sqlite3"
