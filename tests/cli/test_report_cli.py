"""`phonehome report render`: a saved JSON report renders again in other formats, with the scan's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAVED = REPO / "tests" / "report" / "data" / "scan_result.json"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=120)


def test_render_saved_report_as_sarif_and_csv(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("report", "render", str(SAVED), "-f", "sarif", "-f", "csv", "-o", str(out))
    saved = json.loads(SAVED.read_text())
    has_findings = any(apk["findings"] for apk in saved["apks"])
    assert result.returncode == (1 if has_findings else 0), result.stderr
    sarif = json.loads((out / "phonehome-report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"][0]["results"]) >= sum(len(a["findings"]) for a in saved["apks"])
    assert (out / "phonehome-timeline.csv").read_text().startswith("timestamp,")


def test_render_names_a_broken_report(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    result = run_cli("report", "render", str(broken))
    assert result.returncode == 2
    assert str(broken) in result.stderr


def test_a_report_with_an_unknown_field_names_the_version(tmp_path: Path) -> None:
    report = json.loads(SAVED.read_text())
    report["tool"]["field_from_the_future"] = 1
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(report))
    result = run_cli("report", "render", str(newer))
    assert result.returncode == 2
    assert "(1 problem; first: tool.field_from_the_future: Extra inputs are not permitted; written by another " \
           "phonehome version? this is " in " ".join(result.stderr.split())


def test_render_shows_store_tables_and_device_facts_again(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from toolkit.cli.main import app
    from toolkit.models import ScanResult
    from toolkit.models.store import SignerCheck, StoreCheckResult, TamperVerdict

    result = ScanResult.model_validate_json(SAVED.read_text())
    result.store = StoreCheckResult(signer_checks=[SignerCheck(
        apk_path="s/a.apk", package="com.vendor.appmarket", schemes=["v2"], certificates=["ab" * 32],
        verdict=TamperVerdict(verdict="tampered", reasons=["signed with an AOSP test key"]))])
    saved = tmp_path / "store.json"
    saved.write_text(result.model_dump_json())
    done = CliRunner().invoke(app, ["report", "render", str(saved)])
    assert done.exit_code == 1, done.output
    assert "Signers" in done.stdout and "signed with an AOSP test key" in done.stdout  # as `store check` showed it
    assert "what the phone showed at acquisition:" in done.stderr  # as `evidence scan` showed it
