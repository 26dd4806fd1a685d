"""Dask cluster runs on a real distributed.LocalCluster (2 worker processes): same report as the local pool,
a worker killed mid-run costs nothing, a run resumes from the cache, shared-path and shipped inputs agree."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.batch.batch_support import comparable_reports, copy_fixtures, slow_task
from toolkit.acquisition.files import collect_apk_inputs
from toolkit.batch.cluster import ClusterError, run_on_cluster
from toolkit.batch.task import ApkTask, local_engine_identity
from toolkit.models import ApkInput, Status
from toolkit.pipeline import ProgressEvent, ScanOptions, run_batch

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, host="127.0.0.1"
    ) as local:
        with distributed.Client(local.scheduler_address, set_as_default=False) as client:
            theirs = set(client.run(local_engine_identity).values())
        if theirs != {local_engine_identity()}:
            # Only while someone edits toolkit/analysis during the session: the workers import newer code than
            # this process did, and the runner rightly refuses their results. Never happens on a fixed checkout.
            pytest.skip(f"analysis code changed on disk since this test process started: {theirs}")
        yield local


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[ApkInput]:
    folder = tmp_path_factory.mktemp("cluster") / "apks"
    copy_fixtures(folder, 8)
    found, errors = collect_apk_inputs([folder])
    assert not errors
    return found


@pytest.fixture(scope="module")
def local_reports(inputs: list[ApkInput]) -> list[dict[str, object]]:
    return comparable_reports(run_batch(inputs, ScanOptions(workers=2, no_cache=True)).reports)


def test_cluster_run_gives_the_local_report_shipped_or_by_shared_path(
    cluster: object, inputs: list[ApkInput], local_reports: list[dict[str, object]]
) -> None:
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    shipped = run_batch(inputs, ScanOptions(scheduler=address, no_cache=True))
    by_path = run_batch(inputs, ScanOptions(scheduler=address, no_cache=True, ship_max_bytes=0))
    assert shipped.stats.analysed == by_path.stats.analysed == len(inputs)
    assert comparable_reports(shipped.reports) == local_reports
    assert comparable_reports(by_path.reports) == local_reports
    # The work really ran on the cluster's worker processes, not here.
    assert len(shipped.stats.worker_peak_rss) >= 1
    assert not any(w.endswith(f":{os.getpid()}") for w in shipped.stats.worker_peak_rss)


def test_a_file_missing_on_the_workers_is_reported_and_not_cached(cluster: object, tmp_path: Path) -> None:
    apk = copy_fixtures(tmp_path, 1)[0]
    inputs, _ = collect_apk_inputs([apk])
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    options = ScanOptions(scheduler=address, cache_path=tmp_path / "c.sqlite3", ship_max_bytes=0)
    # Hash here, then make the path vanish before the worker reads it: what a folder not shared looks like.
    moved = apk.with_suffix(".moved")

    def move_away(event: ProgressEvent) -> None:
        if event.stage == "hash" and apk.exists():
            apk.rename(moved)

    result = run_batch(inputs, options, move_away)
    assert result.reports[0].status is Status.not_analysed
    assert "shared with the workers at the same path" in (result.reports[0].reason or "")
    moved.rename(apk)
    again = run_batch(inputs, options)
    assert (again.stats.from_cache, again.stats.analysed) == (0, 1)
    assert again.reports[0].status is Status.analysed


def test_worker_killed_mid_run_its_apks_are_retried_elsewhere(
    cluster: object, inputs: list[ApkInput], local_reports: list[dict[str, object]], tmp_path: Path
) -> None:
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    killed: list[int] = []
    watcher = distributed.Client(address, set_as_default=False)
    try:

        def kill_a_busy_worker(event: ProgressEvent) -> None:
            if event.stage != "analyse" or killed:
                return
            processing = watcher.processing()
            pids = watcher.run(os.getpid)
            busy = [addr for addr, keys in processing.items() if keys and addr in pids]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])

        options = ScanOptions(scheduler=address, cache_path=tmp_path / "c.sqlite3", ship_max_bytes=0)
        result = run_batch(inputs, options, kill_a_busy_worker, function=slow_task)
    finally:
        watcher.close()
    assert killed, "no worker was busy when the first result came back"
    assert result.stats.failures == {}
    assert all(r.status is Status.analysed for r in result.reports)
    assert comparable_reports(result.reports) == local_reports
    assert result.stats.analysed == len(inputs)


def test_interrupted_cluster_run_resumes_from_the_cache(
    cluster: object, inputs: list[ApkInput], local_reports: list[dict[str, object]], tmp_path: Path
) -> None:
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    options = ScanOptions(scheduler=address, cache_path=tmp_path / "c.sqlite3")
    seen = threading.Event()

    def interrupt_after_three(event: ProgressEvent) -> None:
        if event.stage == "analyse" and event.done >= 3:
            seen.set()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(inputs, options, interrupt_after_three, function=slow_task)
    assert seen.is_set()
    resumed = run_batch(inputs, options)
    assert resumed.stats.from_cache == 3
    assert resumed.stats.analysed == len(inputs) - 3
    assert comparable_reports(resumed.reports) == local_reports


def test_cli_scan_on_the_cluster(cluster: object, inputs: list[ApkInput], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    folder = Path(inputs[0].path).parent
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolkit",
            "apk",
            "scan",
            str(folder),
            "--scheduler",
            cluster.scheduler_address,
            "--no-cache",
            "--format",
            "json",
            "--output",
            str(out),
        ],  # type: ignore[attr-defined]
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(out.read_text())
    # Paths relative to the scanned folder (recorded once in the target).
    assert [a["path"] for a in report["apks"]] == [Path(i.path).relative_to(folder).as_posix() for i in inputs]
    assert report["target"]["inputs"] == [str(folder)]
    assert {a["status"] for a in report["apks"]} == {"analysed"}
    assert f"batch: {len(inputs)} APKs" in proc.stderr


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: connections are refused
        with pytest.raises(ClusterError, match=address):
            list(run_on_cluster([ApkTask(id="x", path="/nonexistent.apk")], address, connect_timeout=2))


def test_shipping_budget_throttles_without_losing_anything(
    cluster: object, inputs: list[ApkInput], local_reports: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("toolkit.batch.cluster.SHIP_BUDGET_BYTES", 1)  # one shipped APK in flight at a time
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    result = run_batch(inputs, ScanOptions(scheduler=address, no_cache=True))
    assert comparable_reports(result.reports) == local_reports
