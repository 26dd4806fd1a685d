"""The CSV timeline carries the acquisition steps of a phone scan (commands run, APKs pulled, start and end)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from toolkit.models import ScanResult, Target
from toolkit.models.acquisition import AcquisitionManifest, CommandRecord, PulledFile, RunRecord
from toolkit.pipeline import build_result
from toolkit.report.csv_report import render_csv

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def result_with_acquisition() -> ScanResult:
    manifest = AcquisitionManifest(
        started_at=T0, finished_at=T0.replace(minute=5), transport="tcp", serial="KST7L0042", complete=True,
        commands=[
            CommandRecord(key="getprop", command="getprop", exit_code=0, sha256="ab" * 32,
                          started_at=T0.replace(second=1), finished_at=T0.replace(second=2)),
            CommandRecord(key="dumpsys_alarm", command="dumpsys alarm", error="connection lost",
                          started_at=T0.replace(second=3), finished_at=T0.replace(second=4)),
        ],
        files=[PulledFile(device_path="/system/app/A/A.apk", package="com.a", status="pulled",
                          device_mtime=datetime(2009, 1, 1, 8, 0, tzinfo=UTC))],
        runs=[RunRecord(run=1, started_at=T0, transport="tcp", serial="KST7L0042", host="lab1", tool_version="0.1.0",
                        apk_selection="all")],
    )
    result = build_result(Target(kind="device"), [], [], T0)
    result.acquisition = manifest
    return result


def test_acquisition_steps_are_timeline_rows() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(result_with_acquisition()))))
    by_event: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_event.setdefault(row["event"], []).append(row)
    assert by_event["acquisition_started"][0]["detail"] == "run 1 via tcp from lab1 (0.1.0)"
    commands = {r["detail"] for r in by_event["acquisition_command"]}
    assert f"getprop -> exit 0 sha256 {'ab' * 32}" in commands
    assert "dumpsys alarm -> connection lost" in commands
    assert by_event["apk_file_modified"][0]["package"] == "com.a"
    assert by_event["apk_file_modified"][0]["timestamp"].startswith("2009-01-01T08:00:00")
    assert by_event["acquisition_finished"][0]["detail"] == "complete"
    assert all(r["source"] == "acquisition" for r in rows if r["event"].startswith("acquisition"))


def test_an_apk_the_phone_refused_is_a_timeline_row() -> None:
    result = result_with_acquisition()
    assert result.acquisition is not None
    result.acquisition.files.append(PulledFile(device_path="/system/priv-app/F/F.apk", package="com.f", status="failed",
                                               reason="Permission denied"))
    rows = [r for r in csv.DictReader(io.StringIO(render_csv(result))) if r["event"] == "apk_not_pulled"]
    assert len(rows) == 1 and rows[0]["package"] == "com.f"
    assert rows[0]["detail"].startswith("/system/priv-app/F/F.apk: Permission denied (run 1")
    assert rows[0]["timestamp"].startswith("2026-11-21T10:00:00")  # the run's start: no time is kept per pull
