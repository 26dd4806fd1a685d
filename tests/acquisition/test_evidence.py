"""The evidence folder: manifest round trip, hash list, tamper detection, safe paths."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from toolkit.acquisition.evidence import (
    AcquisitionManifest,
    CommandRecord,
    EvidenceError,
    EvidenceFolder,
    PulledFile,
    apk_local_path,
    sha256_file,
)


def _folder(tmp_path: Path) -> EvidenceFolder:
    folder = EvidenceFolder(tmp_path / "ev")
    folder.create()
    now = datetime.now(UTC)
    raw = folder.write_raw("getprop", b"[ro.product.model]: [K7 Lite]\n")
    apk = folder.root / apk_local_path("/system/app/A/A.apk")
    apk.parent.mkdir(parents=True)
    apk.write_bytes(b"PK\x05\x06" + bytes(18))
    manifest = AcquisitionManifest(started_at=now, transport="tcp", serial="127.0.0.1:5555", commands=[
        CommandRecord(key="getprop", command="getprop", exit_code=0, output_file="raw/getprop.txt",
                      sha256=sha256_file(raw), started_at=now, finished_at=now)],
        files=[PulledFile(device_path="/system/app/A/A.apk", status="pulled", local_path=apk_local_path(
            "/system/app/A/A.apk"), size=22, sha256=sha256_file(apk)),
            PulledFile(device_path="/system/priv-app/B/B.apk", status="failed", reason="Permission denied")])
    folder.save_manifest(manifest)
    folder.write_hash_list()
    return folder


def test_manifest_round_trip_and_hash_list(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    loaded = folder.load_manifest()
    assert loaded.files[1].reason == "Permission denied"
    assert [f.device_path for f in loaded.unreadable] == ["/system/priv-app/B/B.apk"]
    assert folder.read_raw_outputs() == {"getprop": "[ro.product.model]: [K7 Lite]\n"}
    lines = (folder.root / "sha256sums.txt").read_text().splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [
        "README.txt", "acquisition.json", "apks/system/app/A/A.apk", "raw/getprop.txt"]
    assert "sha256sum -c sha256sums.txt" in (folder.root / "README.txt").read_text()
    assert folder.verify() == []


def test_hash_list_checks_with_coreutils_sha256sum(tmp_path: Path) -> None:
    import shutil
    import subprocess

    folder = _folder(tmp_path)
    exe = shutil.which("sha256sum")
    assert exe, "coreutils sha256sum is part of every Debian system"
    ok = subprocess.run([exe, "-c", "sha256sums.txt"], cwd=folder.root, capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (folder.root / "raw/getprop.txt").write_text("changed")
    bad = subprocess.run([exe, "-c", "sha256sums.txt"], cwd=folder.root, capture_output=True, timeout=30)
    assert bad.returncode == 1 and b"raw/getprop.txt: FAILED" in bad.stdout


def test_verify_reports_tampering_missing_and_extra_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder.root / "apks/system/app/A/A.apk").write_bytes(b"changed")
    (folder.root / "raw/getprop.txt").unlink()
    (folder.root / "raw/extra.txt").write_text("x")
    problems = folder.verify()
    assert "apks/system/app/A/A.apk: SHA-256 differs from sha256sums.txt" in problems
    assert "apks/system/app/A/A.apk: SHA-256 differs from acquisition.json" in problems
    assert "raw/getprop.txt: listed in sha256sums.txt but missing" in problems
    assert "raw/extra.txt: not in sha256sums.txt" in problems


def test_bad_folders_and_paths_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="not an evidence folder"):
        EvidenceFolder(tmp_path).load_manifest()
    (tmp_path / "acquisition.json").write_text("{not json")
    with pytest.raises(EvidenceError, match="acquisition.json: unreadable"):
        EvidenceFolder(tmp_path).load_manifest()
    with pytest.raises(EvidenceError, match="leave the evidence folder"):
        apk_local_path("/data/app/../../etc/passwd")
    assert apk_local_path("/data/app/~~x==/com.a-b==/base.apk") == "apks/data/app/~~x==/com.a-b==/base.apk"


def test_a_manifest_pointing_outside_the_folder_is_refused_and_said(tmp_path: Path) -> None:
    """A crafted or damaged acquisition.json must not make phonehome read files from elsewhere as evidence."""
    from toolkit.acquisition.device import evidence_inputs

    folder = _folder(tmp_path)
    outside = tmp_path / "elsewhere.apk"
    outside.write_bytes(b"PK\x05\x06" + bytes(18))
    (tmp_path / "secret.txt").write_text("[ro.product.model]: [Not This Phone]\n")
    manifest = folder.load_manifest()
    manifest.files[0].local_path = str(outside)  # absolute
    manifest.commands[0].output_file = "../secret.txt"
    folder.save_manifest(manifest)
    folder.write_hash_list()
    (folder.root / "apks" / "link.apk").symlink_to(outside)
    assert folder.read_raw_outputs() == {}
    with pytest.raises(EvidenceError, match="leads out of the evidence folder"):
        folder.member("apks/link.apk")
    problems = folder.verify()
    assert "acquisition.json: output of `getprop`: '../secret.txt' is not a path inside the evidence folder" in problems
    assert any(p.startswith("acquisition.json: /system/app/A/A.apk: ") for p in problems)
    loaded = evidence_inputs(folder.root)
    assert loaded.inputs == [] and loaded.inventory.identity.model is None
    [error] = [e for e in loaded.errors if e.path == "/system/app/A/A.apk"]
    assert error.level == "error" and "outside the evidence folder" in error.reason


def test_an_unreadable_manifest_is_one_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    folder.manifest_path.write_text('{"schema_version": "1", "started_at": 5}')
    with pytest.raises(EvidenceError) as info:
        folder.load_manifest()
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{folder.manifest_path}: unreadable")
