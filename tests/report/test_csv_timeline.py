"""CSV timeline reporter: golden file, columns and order, events from the inventory when present."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from toolkit.models import ScanResult
from toolkit.report.csv_report import COLUMNS, render_csv


def test_golden(fixed_result: ScanResult, golden: Callable[[str, str], None]) -> None:
    golden("timeline.csv", render_csv(fixed_result))


def test_columns_order_and_events(fixed_result: ScanResult) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(fixed_result))))
    assert tuple(rows[0].keys()) == COLUMNS == ("timestamp", "event", "package", "detail", "source")
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps)
    assert all(r["timestamp"].endswith("Z") or "device local time" in r["source"] for r in rows)
    events = [r["event"] for r in rows]
    assert events.count("scan_started") == 1 and events.count("scan_finished") == 1
    assert events.count("certificate_valid_from") == 3  # one per signer of each analysed APK
    started = next(r for r in rows if r["event"] == "scan_started")
    assert started["timestamp"] == "2026-11-21T09:14:03Z" and "Norvo N1 Lite" in started["detail"]
    finished = next(r for r in rows if r["event"] == "scan_finished")
    assert finished["detail"] == "4 APKs, 9 findings, 0 suppressed"


def test_inventory_install_and_update_times(fixed_result: ScanResult) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(fixed_result))))
    installs = [(r["timestamp"], r["package"]) for r in rows if r["event"] == "package_first_install"]
    assert ("2014-03-15T09:32:11", "com.vendor.cloudmsg") in installs
    assert ("2026-09-30T12:01:55", "com.example.notes") in installs  # the app whose APK could not be pulled
    update = next(r for r in rows if r["event"] == "package_last_update" and r["package"] == "com.brightlight.flashlight")
    assert update["timestamp"] == "2026-10-02T18:44:03"  # dumpsys local time: no zone invented
    assert update["source"] == "inventory (dumpsys package, device local time)"
    assert "installer=com.vendor.appmarket" in update["detail"]


def test_spreadsheet_hostile_text_is_quoted(fixed_result: ScanResult) -> None:
    result = fixed_result.model_copy(deep=True)
    result.target.inputs = ['a,b "c"\nd']
    assert result.inventory is not None
    result.inventory.packages[0].name = '=HYPERLINK("http://evil.example","x")'
    rows = list(csv.reader(io.StringIO(render_csv(result))))
    assert any('a,b "c"\nd' in cell for row in rows for cell in row)
    packages = {row[2] for row in rows[1:]}
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in packages
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_install_rows_of_a_matching_package_name_the_indicator(fixed_result: ScanResult) -> None:
    from pathlib import Path

    from toolkit.findings import apply_indicators, load_indicator_file

    bundle = Path(__file__).parent.parent / "findings" / "data" / "vendor_cloud.stix2"
    out = apply_indicators(fixed_result, [load_indicator_file(bundle)])
    rows = list(csv.DictReader(io.StringIO(render_csv(out))))
    cm = next(r for r in rows if r["event"] == "package_first_install" and r["package"] == "com.vendor.cloudmsg")
    assert "IOC VendorCloud app_id com.vendor.cloudmsg" in cm["detail"]
    notes = next(r for r in rows if r["event"] == "package_first_install" and r["package"] == "com.example.notes")
    assert "IOC" not in notes["detail"]
