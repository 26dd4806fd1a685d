"""`phonehome apk scan`: input walking, bad input, output plumbing and exit codes, through the real CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_APKS

GOOD_APK = FIXTURE_APKS / "flashlight.apk"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture()
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    not_apk = tmp_path / "notes.apk"
    not_apk.write_text("this is not a zip\n")
    truncated = tmp_path / "truncated.apk"
    truncated.write_bytes(GOOD_APK.read_bytes()[: GOOD_APK.stat().st_size // 2])
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    (empty_dir / "readme.txt").write_text("no apks here")
    good = tmp_path / "good.apk"
    shutil.copy(GOOD_APK, good)
    return {"not_apk": not_apk, "truncated": truncated, "empty_dir": empty_dir, "good": good}


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("phonehome ")


def test_doctor_reports_core_versions() -> None:
    result = run_cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("python", "androguard", "adb-shell", "debugfs"):
        assert name in result.stdout


def test_bad_inputs_get_one_line_each_and_good_ones_still_scan(bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist.apk"
    out = tmp_path / "report.json"
    result = run_cli(
        "apk", "scan", str(missing), str(bad_inputs["empty_dir"]), str(bad_inputs["not_apk"]),
        str(bad_inputs["truncated"]), str(bad_inputs["good"]), "--format", "json", "--output", str(out),
        "--workers", "1",
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any(str(missing) in line and "no such file" in line for line in errors)
    assert any(str(bad_inputs["empty_dir"]) in line and "no .apk files" in line for line in errors)
    assert any(str(bad_inputs["not_apk"]) in line and "not an APK" in line for line in errors)
    assert any(str(bad_inputs["truncated"]) in line and ("truncated" in line or "zip" in line) for line in errors)
    # A missing path is a usage error: exit 2 even though the good APK was analysed.
    assert result.returncode == 2
    report = json.loads(out.read_text())
    by_path = {apk["path"]: apk for apk in report["apks"]}
    good = by_path[str(bad_inputs["good"])]
    assert good["status"] == "analysed"
    assert good["package"] == "com.brightlight.flashlight"
    assert len(good["sha256"]) == 64
    assert by_path[str(bad_inputs["truncated"])]["status"] == "not_analysed"
    assert by_path[str(bad_inputs["not_apk"])]["reason"].startswith("not an APK")
    assert {e["path"] for e in report["input_errors"]} == {str(missing), str(bad_inputs["empty_dir"])}


def test_only_unusable_inputs_exit_2(bad_inputs: dict[str, Path]) -> None:
    result = run_cli("apk", "scan", str(bad_inputs["not_apk"]), "--workers", "1")
    assert result.returncode == 2
    assert "not an APK" in result.stderr


def test_folder_is_walked_recursively(tmp_path: Path) -> None:
    nested = tmp_path / "store" / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(GOOD_APK, nested / "x.apk")
    shutil.copy(FIXTURE_APKS / "flashlight_tampered.apk", tmp_path / "store" / "y.APK")
    out = tmp_path / "r.json"
    result = run_cli("apk", "scan", str(tmp_path / "store"), "-f", "json", "-o", str(out), "-j", "2")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(out.read_text())
    assert sorted(Path(a["path"]).name for a in report["apks"]) == ["x.apk", "y.APK"]
    assert report["apks"][0]["provenance"]["chain"] == ["a/b/x.apk"]


def test_unknown_option_is_a_usage_error() -> None:
    result = run_cli("apk", "scan", "--no-such-option")
    assert result.returncode == 2


def test_schema_command_prints_the_scan_result_schema() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "ScanResult"
    assert "apks" in schema["properties"]
