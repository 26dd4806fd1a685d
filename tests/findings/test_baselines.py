"""Baselines: create from a report, suppress by fingerprint on the next run, clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.findings import (
    BaselineError,
    apply_baseline,
    apply_indicators,
    create_baseline,
    load_baseline,
    load_indicator_file,
    write_baseline,
)
from toolkit.models import Finding, ScanResult, Severity

SCAN = Path(__file__).parent.parent / "report" / "data" / "scan_result.json"
BUNDLE = Path(__file__).parent / "data" / "vendor_cloud.stix2"


@pytest.fixture()
def fixed() -> ScanResult:
    return ScanResult.model_validate_json(SCAN.read_text(encoding="utf-8"))


def test_roundtrip_suppresses_every_reviewed_finding(fixed: ScanResult, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    write_baseline(create_baseline(fixed, source_report="report.json"), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "phonehome-baseline" and data["version"] == 1
    assert len(data["entries"]) == len(fixed.all_findings()) == 9
    out = apply_baseline(fixed, load_baseline(path), path)
    assert out.all_findings() == []
    assert len(out.suppressed) == 9
    assert {s.finding.fingerprint for s in out.suppressed} == {f.fingerprint for f in fixed.all_findings()}
    assert out.baseline_file == str(path)
    assert out.max_severity() is None
    assert len(fixed.all_findings()) == 9  # input untouched


def test_new_finding_is_not_suppressed(fixed: ScanResult, tmp_path: Path) -> None:
    baseline = create_baseline(fixed)
    newer = fixed.model_copy(deep=True)
    newer.apks[0].findings.append(
        Finding(rule_id="sms-to-network", title="SMS sent over the network", severity=Severity.critical,
                confidence=fixed.apks[0].findings[0].confidence, message="new in this firmware",
                package="com.vendor.cloudmsg", fingerprint="ffffeeeeddddccccbbbbaaaa99998888")
    )
    out = apply_baseline(newer, baseline, tmp_path / "b.json")
    assert [f.rule_id for f in out.all_findings()] == ["sms-to-network"]
    assert len(out.suppressed) == 9


def test_partial_baseline_keeps_note(fixed: ScanResult, tmp_path: Path) -> None:
    baseline = create_baseline(fixed)
    baseline.entries = [e for e in baseline.entries if e.rule_id == "install-packages"]
    baseline.entries[0].note = "store app is expected to install apps"
    path = tmp_path / "b.json"
    write_baseline(baseline, path)
    out = apply_baseline(fixed, load_baseline(path), path)
    assert len(out.all_findings()) == 8
    assert [(s.finding.rule_id, s.note) for s in out.suppressed] == [
        ("install-packages", "store app is expected to install apps")
    ]
    # re-baselining a suppressed result keeps the accepted entries and their notes
    again = create_baseline(out)
    assert len(again.entries) == 9
    assert next(e for e in again.entries if e.rule_id == "install-packages").note == "store app is expected to install apps"


def test_ioc_findings_can_be_baselined(fixed: ScanResult, tmp_path: Path) -> None:
    matched = apply_indicators(fixed, [load_indicator_file(BUNDLE)])
    baseline = create_baseline(matched)
    again = apply_indicators(fixed, [load_indicator_file(BUNDLE)])
    out = apply_baseline(again, baseline, tmp_path / "b.json")
    assert out.all_findings() == []
    assert any(s.finding.rule_id == "ioc-match" for s in out.suppressed)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[]", "not a phonehome baseline"),
        ("{\"format\": \"sarif\"}", "not a phonehome baseline"),
        ("{\"format\": \"phonehome-baseline\", \"version\": 7}", "unsupported baseline version 7"),
        ("{\"format\": \"phonehome-baseline\", \"version\": 1, \"created_at\": \"2026-11-21T00:00:00Z\", "
         "\"created_by\": \"x\", \"entries\": [{\"rule_id\": \"a\"}]}", "entries.0.fingerprint"),
        ("{\"format\": \"phonehome-baseline\", \"version\": 1, \"created_by\": \"x\", \"entries\": []}",
         "created_at"),
    ],
)
def test_malformed_baseline_names_file_and_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read baseline file"):
        load_baseline(tmp_path / "absent.json")
