"""Shared report options through the real CLI: --format/--output, --iocs, --baseline, --fail-on, baseline create."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE_APKS
from toolkit.cli.main import app
from toolkit.models import InputError, ScanResult, Severity
from toolkit.usecases import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    OutputError,
    ReportRequest,
    exit_code,
    finish,
    output_targets,
    post_process,
)

CLEAN_APK = FIXTURE_APKS / "flashlight.apk"  # genuine app, no leaks; signed with fixtures/keys/dev
BUNDLE = Path(__file__).parent.parent / "findings" / "data" / "vendor_cloud.stix2"
SCAN = Path(__file__).parent.parent / "report" / "data" / "scan_result.json"

runner = CliRunner()


def scan(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["apk", "scan", str(CLEAN_APK), "-j", "1", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def fixed() -> ScanResult:
    return ScanResult.model_validate_json(SCAN.read_text(encoding="utf-8"))


def test_several_formats_into_a_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = scan("-f", "json,sarif", "-f", "html", "--format", "csv", "-o", str(out))
    assert code in (EXIT_CLEAN, EXIT_FINDINGS), stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["phonehome-report.html", "phonehome-report.json", "phonehome-report.sarif", "phonehome-timeline.csv"]
    report = json.loads((out / "phonehome-report.json").read_text(encoding="utf-8"))
    assert report["apks"][0]["package"] == "com.brightlight.flashlight"
    sarif = json.loads((out / "phonehome-report.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["artifacts"][0]["hashes"]["sha-256"] == report["apks"][0]["sha256"]
    assert (out / "phonehome-timeline.csv").read_text(encoding="utf-8").startswith("timestamp,event,package,detail,source")
    assert "<!DOCTYPE html>" in (out / "phonehome-report.html").read_text(encoding="utf-8")
    assert stderr.count("wrote ") == 4
    assert stdout == ""  # no terminal format asked


def test_one_format_to_stdout_keeps_stdout_machine_readable() -> None:
    code, stdout, stderr = scan("-f", "sarif", "-f", "terminal")
    assert code in (EXIT_CLEAN, EXIT_FINDINGS), stderr
    assert json.loads(stdout)["runs"][0]["tool"]["driver"]["name"] == "phonehome"
    assert "APKs: 1 scanned" in stderr  # the summary moved to stderr


def test_one_format_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "timeline.csv"
    code, stdout, stderr = scan("-f", "csv", "-o", str(target))
    assert code in (EXIT_CLEAN, EXIT_FINDINGS), stderr
    assert target.read_text(encoding="utf-8").count("scan_started") == 1


def test_terminal_summary_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.txt"
    code, stdout, stderr = scan("-o", str(target))
    assert code in (EXIT_CLEAN, EXIT_FINDINGS), stderr
    text = target.read_text(encoding="utf-8")
    assert "APKs: 1 scanned, 1 analysed" in text and "\x1b[" not in text  # plain text, no colour codes
    assert stdout == ""


def test_several_formats_need_an_output_folder() -> None:
    code, stdout, stderr = scan("-f", "json", "-f", "html")
    assert code == EXIT_ERROR
    assert "need an output folder" in stderr


def test_unknown_format_is_a_usage_error() -> None:
    code, _, stderr = scan("-f", "pdf")
    assert code == EXIT_ERROR
    assert "unknown format pdf" in stderr


def test_iocs_match_and_fail_on(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    code, _, stderr = scan("--iocs", str(BUNDLE), "-f", "json", "-o", str(report))
    data = json.loads(report.read_text(encoding="utf-8"))
    matches = data["ioc_matches"]
    assert [(m["target"], m["campaign"]) for m in matches] == [("cert_sha256", "VendorCloud")]
    assert data["indicator_sources"][0]["file"] == str(BUNDLE)
    assert any(f["rule_id"] == "ioc-match" and f["severity"] == "high" for f in data["apks"][0]["findings"])
    assert code == EXIT_FINDINGS
    assert "indicator--a1b2c3d4-0007-4a00-8000-000000000007 not used" in stderr
    # the same scan with a threshold above the worst finding exits clean
    code, _, _ = scan("--iocs", str(BUNDLE), "--fail-on", "critical", "-f", "json", "-o", str(tmp_path / "r2.json"))
    assert code == EXIT_CLEAN


def test_malformed_iocs_stop_before_the_scan(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stix2"
    bad.write_text('{"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--1"}]}', encoding="utf-8")
    out = tmp_path / "never.json"
    code, _, stderr = scan("--iocs", str(BUNDLE), "--iocs", str(bad), "-f", "json", "-o", str(out))
    assert code == EXIT_ERROR
    flat = " ".join(stderr.replace("│", " ").split())
    assert "bad.stix2" in flat and "has no 'pattern' string" in flat
    assert not out.exists()
    code, _, stderr = scan("--iocs", str(tmp_path / "absent.stix2"))
    assert code == EXIT_ERROR and "cannot read indicator file" in " ".join(stderr.replace("│", " ").split())


def test_baseline_create_then_suppress(tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    code, _, _ = scan("--iocs", str(BUNDLE), "-f", "json", "-o", str(first))
    assert code == EXIT_FINDINGS
    baseline = tmp_path / "accepted.json"
    created = runner.invoke(app, ["baseline", "create", str(first), "--output", str(baseline)])
    assert created.exit_code == EXIT_CLEAN, created.stderr
    assert "findings accepted" in created.stderr
    entries = json.loads(baseline.read_text(encoding="utf-8"))["entries"]
    assert any(e["rule_id"] == "ioc-match" for e in entries)
    second = tmp_path / "second.json"
    code, _, stderr = scan("--iocs", str(BUNDLE), "--baseline", str(baseline), "-f", "json", "-o", str(second))
    assert code == EXIT_CLEAN, stderr
    data = json.loads(second.read_text(encoding="utf-8"))
    assert data["apks"][0]["findings"] == []
    assert data["baseline_file"] == str(baseline)
    assert len(data["suppressed"]) == len(entries)


def test_malformed_baseline_and_report(tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text('{"format": "phonehome-baseline", "version": 3}', encoding="utf-8")
    code, _, stderr = scan("--baseline", str(bad))
    assert code == EXIT_ERROR
    assert "unsupported baseline version 3" in " ".join(stderr.replace("│", " ").split())
    not_report = tmp_path / "notes.json"
    not_report.write_text('{"hello": 1}', encoding="utf-8")
    created = runner.invoke(app, ["baseline", "create", str(not_report), "--output", str(tmp_path / "b.json")])
    assert created.exit_code == EXIT_ERROR
    assert str(not_report) in created.stderr and "not a phonehome JSON report" in created.stderr
    assert not (tmp_path / "b.json").exists()


def test_baseline_create_as_a_process(tmp_path: Path, fixed: ScanResult) -> None:
    report = tmp_path / "report.json"
    report.write_text(fixed.model_dump_json(), encoding="utf-8")
    out = tmp_path / "b.json"
    done = subprocess.run([sys.executable, "-m", "toolkit", "baseline", "create", str(report), "--output", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text(encoding="utf-8"))["entries"]) == 9


def test_exit_code_thresholds(fixed: ScanResult) -> None:
    assert exit_code(fixed, Severity.info) == EXIT_FINDINGS
    assert exit_code(fixed, Severity.critical) == EXIT_FINDINGS
    only_low = fixed.model_copy(deep=True)
    for apk in only_low.apks:
        apk.findings = [f for f in apk.findings if f.severity.rank <= Severity.low.rank]
    only_low.device_findings = []
    only_low.input_errors = []
    assert exit_code(only_low, Severity.low) == EXIT_FINDINGS
    # Below the threshold, but one APK could not be analysed at all: phonehome does not call that clean.
    assert any(a.status.value == "not_analysed" for a in only_low.apks)
    assert exit_code(only_low, Severity.medium) == EXIT_ERROR
    only_low.apks = [a for a in only_low.apks if a.status.value != "not_analysed"]
    assert exit_code(only_low, Severity.medium) == EXIT_CLEAN
    # A part of the evidence the phone would not hand over is a warning, not an error ...
    only_low.input_errors = [InputError(path="/system/app/X/X.apk", reason="Permission denied", level="warning")]
    assert exit_code(only_low, Severity.medium) == EXIT_CLEAN
    # ... while an input the user named that cannot be used is one, findings or not.
    only_low.input_errors.append(InputError(path="/no/such.apk", reason="no such file or directory"))
    assert exit_code(only_low, Severity.low) == EXIT_ERROR


def test_post_process_reports_bad_files_and_keeps_the_result(fixed: ScanResult, tmp_path: Path) -> None:
    bad = tmp_path / "x.stix2"
    bad.write_text("nope", encoding="utf-8")
    out, problems = post_process(fixed, ReportRequest(iocs=[bad, BUNDLE], baseline=tmp_path / "missing.json"))
    assert len(problems) == 2
    assert str(bad) in problems[0] and "indicators were not matched" in problems[0]
    assert "missing.json" in problems[1] and "nothing suppressed" in problems[1]
    assert [s.file for s in out.indicator_sources] == [str(BUNDLE)]  # the good file was still matched
    assert out.ioc_matches


def test_output_targets(tmp_path: Path) -> None:
    fmts = ["terminal", "json"]
    assert output_targets(fmts, None) == {"json": None}
    assert output_targets(fmts, tmp_path / "r.json") == {"json": tmp_path / "r.json"}
    assert output_targets(fmts, tmp_path) == {"json": tmp_path / "phonehome-report.json"}
    assert output_targets(["terminal"], tmp_path / "s.txt") == {"terminal": tmp_path / "s.txt"}
    assert output_targets(["terminal"], None) == {}
    with pytest.raises(OutputError):
        output_targets(["csv", "html"], None)


def test_unwritable_output_is_an_error(tmp_path: Path, fixed: ScanResult) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    outcome = finish(fixed, ReportRequest(formats=["json"], output=blocker / "sub" / "r.json"))
    assert outcome.code == EXIT_ERROR
    assert len(outcome.problems) == 1 and "cannot write json report" in outcome.problems[0]


def test_one_unwritable_format_does_not_lose_the_others(tmp_path: Path, fixed: ScanResult) -> None:
    out = tmp_path / "out"
    (out / "phonehome-report.json").mkdir(parents=True)  # something in the way of the JSON file only
    outcome = finish(fixed, ReportRequest(formats=["json", "sarif", "html"], output=out))
    assert outcome.code == EXIT_ERROR
    assert [p for p in outcome.problems if "phonehome-report.json: cannot write json report" in p]
    assert (out / "phonehome-report.sarif").is_file() and (out / "phonehome-report.html").is_file()
    assert [fmt for fmt, _ in outcome.written] == ["sarif", "html"]


def test_library_callers_get_the_same_policy(tmp_path: Path, fixed: ScanResult) -> None:
    """A script that scans and calls finish() gets IOC matching, the exit code and the report files."""
    outcome = finish(fixed, ReportRequest(formats=["json"], output=tmp_path / "r.json", iocs=[BUNDLE]))
    assert outcome.code == EXIT_FINDINGS and outcome.result.ioc_matches and not outcome.problems
    assert outcome.written == [("json", tmp_path / "r.json")]
    assert ScanResult.model_validate_json((tmp_path / "r.json").read_text(encoding="utf-8")).ioc_matches


def test_unwritable_output_stops_before_the_scan(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    code, _, stderr = scan("-f", "json", "-o", str(blocker / "sub" / "r.json"))
    assert code == EXIT_ERROR
    said = " ".join(stderr.replace("│", " ").split())  # the usage error box wraps lines
    assert "is a file, not a folder" in said and "batch:" not in stderr  # nothing was analysed for nothing
    code, _, stderr = scan("-f", "json,sarif", "-o", str(blocker))
    assert code == EXIT_ERROR and "is a file: 2 formats are written into a folder" in stderr


def test_rerender_a_saved_report_with_indicators(tmp_path: Path, fixed: ScanResult) -> None:
    saved = tmp_path / "saved.json"
    saved.write_text(fixed.model_dump_json(), encoding="utf-8")
    out = tmp_path / "again"
    done = runner.invoke(app, ["report", "render", str(saved), "-f", "json,html", "-o", str(out), "--iocs", str(BUNDLE)])
    assert done.exit_code == EXIT_FINDINGS, done.output
    again = ScanResult.model_validate_json((out / "phonehome-report.json").read_text(encoding="utf-8"))
    assert again.ioc_matches and again.apks == [a for a in again.apks]
    assert len(again.all_findings()) > len(fixed.all_findings())
    broken = tmp_path / "broken.json"
    broken.write_text("{}", encoding="utf-8")
    done = runner.invoke(app, ["report", "render", str(broken)])
    assert done.exit_code == EXIT_ERROR
    assert done.stderr.startswith(f"error: {broken}: not a phonehome JSON report")


def test_indicator_folder(tmp_path: Path) -> None:
    folder = tmp_path / "iocs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "vendor.stix2").write_text(BUNDLE.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "README.txt").write_text("not an indicator file", encoding="utf-8")
    report = tmp_path / "r.json"
    code, _, stderr = scan("--iocs", str(folder), "-f", "json", "-o", str(report))
    assert code == EXIT_FINDINGS, stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [s["file"] for s in data["indicator_sources"]] == [str(folder / "sub" / "vendor.stix2")]
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = scan("--iocs", str(empty))
    assert code == EXIT_ERROR
    assert "folder contains no .stix2 or .json indicator files" in " ".join(stderr.replace("│", " ").split())
