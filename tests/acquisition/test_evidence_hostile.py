"""An evidence folder someone tampered with, or a phone that lied (issue 12, "Evidence folder"): a symlink to a
directory inside the folder, and a pulled APK whose manifest names another package than `pm list` recorded for
its path. Both are reported."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from toolkit.acquisition.evidence import (
    AcquisitionManifest,
    CommandRecord,
    EvidenceFolder,
    PulledFile,
    apk_local_path,
    sha256_file,
)
from toolkit.scans import scan_evidence_folder

REPO = Path(__file__).resolve().parents[2]
APK = REPO / "fixtures" / "apks" / "imei_http_post.apk"  # its manifest says com.phonehome.fx.imei_http_post
DEVICE_PATH = "/data/app/com.example.weather-1/base.apk"


def _folder(tmp_path: Path, listed_package: str) -> EvidenceFolder:
    """An evidence folder with one pulled APK and the `pm list packages -f` line the phone gave for its path."""
    folder = EvidenceFolder(tmp_path / "ev")
    folder.create()
    now = datetime.now(UTC)
    raw = folder.write_raw("pm_list_packages", f"package:{DEVICE_PATH}={listed_package}\n".encode())
    local = folder.root / apk_local_path(DEVICE_PATH)
    local.parent.mkdir(parents=True)
    shutil.copy(APK, local)
    manifest = AcquisitionManifest(started_at=now, transport="tcp", serial="127.0.0.1:5555", commands=[
        CommandRecord(key="pm_list_packages", command="pm list packages -f", exit_code=0,
                      output_file="raw/pm_list_packages.txt", sha256=sha256_file(raw), started_at=now,
                      finished_at=now)],
        files=[PulledFile(device_path=DEVICE_PATH, status="pulled", local_path=apk_local_path(DEVICE_PATH),
                          size=local.stat().st_size, sha256=sha256_file(local))])
    folder.save_manifest(manifest)
    folder.write_hash_list()
    return folder


def test_symlink_to_a_directory_is_reported(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "com.phonehome.fx.imei_http_post")
    assert folder.verify() == []
    (folder.root / "apks" / "rootdir").symlink_to("/")
    problems = folder.verify()
    assert any(p.startswith("apks/rootdir: symbolic link to '/'") for p in problems), problems
    scan = scan_evidence_folder(folder.root)
    assert not scan.intact
    assert any("apks/rootdir" in e.reason for e in scan.result.input_errors)


def test_package_differing_from_pm_list_is_reported(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "com.example.weather")
    scan = scan_evidence_folder(folder.root)
    [report] = scan.result.apks
    assert report.package == "com.phonehome.fx.imei_http_post"
    mismatches = [e for e in scan.result.input_errors if "package mismatch" in e.reason]
    assert len(mismatches) == 1
    assert mismatches[0].path == DEVICE_PATH
    assert "'com.example.weather'" in mismatches[0].reason and "'com.phonehome.fx.imei_http_post'" in mismatches[0].reason


def test_matching_package_is_not_reported(tmp_path: Path) -> None:
    scan = scan_evidence_folder(_folder(tmp_path, "com.phonehome.fx.imei_http_post").root)
    assert not [e for e in scan.result.input_errors if "package mismatch" in e.reason]
    assert scan.intact
