"""CSV timeline reporter: golden file, columns and order, events from the inventory when present."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from types import SimpleNamespace

from toolkit.models import ScanResult
from toolkit.report.csv_report import COLUMNS, render_csv, timeline_events


def test_golden(fixed_result: ScanResult, golden: Callable[[str, str], None]) -> None:
    golden("timeline.csv", render_csv(fixed_result))


def test_columns_order_and_events(fixed_result: ScanResult) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(fixed_result))))
    assert tuple(rows[0].keys()) == COLUMNS == ("timestamp", "event", "package", "detail", "source")
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps)
    assert all(s.endswith("Z") for s in stamps)
    events = [r["event"] for r in rows]
    assert events.count("scan_started") == 1 and events.count("scan_finished") == 1
    assert events.count("certificate_valid_from") == 3  # one per signer of each analysed APK
    started = next(r for r in rows if r["event"] == "scan_started")
    assert started["timestamp"] == "2026-11-21T09:14:03Z" and "Norvo N1 Lite" in started["detail"]
    finished = next(r for r in rows if r["event"] == "scan_finished")
    assert finished["detail"] == "4 APKs, 9 findings, 0 suppressed"


def test_inventory_packages_and_acquisition_steps(fixed_result: ScanResult) -> None:
    """Install/update times and acquisition steps, read from the inventory models when they carry them."""
    inventory = SimpleNamespace(
        identity=None,
        packages=[
            SimpleNamespace(package="com.vendor.cloudmsg", first_install_time="2009-01-01 08:00:00",
                            last_update_time=1763716500000, version_name="1.0.10"),
            SimpleNamespace(name="com.example.notes", first_install_time=None, last_update_time="garbage"),
        ],
        acquisition=SimpleNamespace(steps=[
            SimpleNamespace(started_at="2026-11-21T09:13:10Z", command="getprop", sha256="ab" * 32),
        ]),
    )
    result = fixed_result.model_copy(update={"inventory": inventory})
    events = [(e.timestamp.isoformat(), e.event, e.package, e.detail) for e in timeline_events(result)]
    assert events[0] == ("2009-01-01T08:00:00+00:00", "package_first_install", "com.vendor.cloudmsg", "version_name=1.0.10")
    assert ("2025-11-21T09:15:00+00:00", "package_last_update", "com.vendor.cloudmsg", "version_name=1.0.10") in events
    assert ("2026-11-21T09:13:10+00:00", "acquisition_step", "", "getprop -> " + "ab" * 32) in events
    assert not any(e[2] == "com.example.notes" for e in events)  # no usable date: no row


def test_spreadsheet_hostile_text_is_quoted(fixed_result: ScanResult) -> None:
    result = fixed_result.model_copy(deep=True)
    result.target.inputs = ['a,b "c"\nd']
    rows = list(csv.reader(io.StringIO(render_csv(result))))
    assert any('a,b "c"\nd' in cell for row in rows for cell in row)
