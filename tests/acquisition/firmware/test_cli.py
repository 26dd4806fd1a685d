"""`phonehome firmware extract|scan` end to end, on an OTA zip built from real fixture APKs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import APKS, need
from toolkit.acquisition.firmware.vdex import write_vdex027
from toolkit.cli.main import app
from toolkit.models.scan import ApkInput
from toolkit.pipeline import ScanOptions, analyse_inputs

runner = CliRunner()


@pytest.fixture(scope="module")
def ota(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("mke2fs")
    t = tmp_path_factory.mktemp("ota")
    src = t / "src"
    (src / "system" / "priv-app" / "DeviceReport").mkdir(parents=True)
    shutil.copy(APKS / "imei_http_post.apk", src / "system" / "priv-app" / "DeviceReport" / "DeviceReport.apk")
    helper = src / "system" / "app" / "SmsHelper"
    (helper / "oat" / "arm64").mkdir(parents=True)
    dexes = writers.strip_dex(APKS / "imei_sms_binary.apk", helper / "SmsHelper.apk")
    (helper / "oat" / "arm64" / "SmsHelper.vdex").write_bytes(write_vdex027(dexes))
    (src / "system" / "build.prop").write_text("ro.product.system.brand=acme\nro.build.version.release=14\n")
    img = writers.make_ext4(src, t / "system.img", size_mb=6)
    pay = writers.write_payload(t / "payload.bin", [("system", img.read_bytes())])
    return writers.write_ota_zip(t / "ota.zip", pay)


def test_extract_writes_tree_and_summary(ota: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["firmware", "extract", str(ota), "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "firmware.json").read_text())
    assert summary["partitions"] == ["system"]
    assert {a["device_path"] for a in summary["apks"]} == {
        "/system/priv-app/DeviceReport/DeviceReport.apk", "/system/app/SmsHelper/SmsHelper.apk"
    }
    assert (out / "files" / "payload.bin.extracted" / "system" / "system" / "build.prop").is_file()


def test_extract_refuses_a_non_empty_output(ota: Path, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me")
    res = runner.invoke(app, ["firmware", "extract", str(ota), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert (tmp_path / "x").read_text() == "keep me"


def test_extract_of_garbage_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04" + bytes(100))
    res = runner.invoke(app, ["firmware", "extract", str(bad), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "damaged zip" in res.output


@pytest.mark.parametrize(("content", "reason"), [
    (bytes(range(256)) * 64, "not a firmware format phonehome knows"),
    (b"", "empty file (0 bytes)"),
    (b"PK\x03\x04" + bytes(100), "damaged zip archive"),
])
def test_scan_of_an_unusable_firmware_file_is_one_error(tmp_path: Path, content: bytes, reason: str) -> None:
    bad = tmp_path / "bad.img"
    bad.write_bytes(content)
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["firmware", "scan", str(bad), "--format", "json", "--output", str(report), "-j", "1"])
    assert res.exit_code == 2, res.output
    # said once, naming the file and the reason, and recorded in the report as an error (not a warning)
    lines = [line for line in res.output.splitlines() if reason in line]
    assert len(lines) == 1 and lines[0].startswith("error: bad.img: "), res.output
    errors = json.loads(report.read_text())["input_errors"]
    assert [(e["path"], e["level"]) for e in errors] == [("bad.img", "error")] and reason in errors[0]["reason"]


def test_scan_matches_direct_apk_analysis(ota: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["firmware", "scan", str(ota), "--format", "json", "--output", str(report), "-j", "1"])
    r = json.loads(report.read_text())
    # DeviceReport posts the IMEI: a finding, so exit 1 (not 0, and not 2: every APK was analysed)
    assert res.exit_code == 1, res.output
    assert any(f["package"] for a in r["apks"] for f in a["findings"])
    assert r["target"]["kind"] == "firmware"
    assert r["target"]["identity"]["brand"] == "acme"
    assert r["firmware"]["output_dir"] is None  # the temporary folder was removed
    apks = {a["provenance"]["device_path"]: a for a in r["apks"]}
    dev = apks["/system/priv-app/DeviceReport/DeviceReport.apk"]
    assert dev["provenance"]["chain"] == [
        "ota.zip", "payload.bin", "system", "ext4:/system/priv-app/DeviceReport/DeviceReport.apk"
    ]
    assert dev["status"] == "analysed"
    helper = apks["/system/app/SmsHelper/SmsHelper.apk"]
    assert "recovered from oat/arm64/SmsHelper.vdex" in helper["provenance"]["chain"][-1]
    assert helper["status"] == "analysed"
    # The same inventory model as a phone: preinstalled packages with device paths and privileges.
    pkgs = {p["apk_paths"][0]: p for p in r["inventory"]["packages"]}
    assert pkgs["/system/priv-app/DeviceReport/DeviceReport.apk"]["is_privileged"] is True
    assert pkgs["/system/priv-app/DeviceReport/DeviceReport.apk"]["name"] == dev["package"]
    assert r["inventory"]["identity"]["brand"] == "acme"
    # The same analysis as for the APK files themselves: same rules fire on the same code.
    direct = analyse_inputs([ApkInput(path=str(APKS / "imei_http_post.apk")),
                             ApkInput(path=str(APKS / "imei_sms_binary.apk"))], ScanOptions(workers=1, no_cache=True))
    assert sorted(f["rule_id"] for f in dev["findings"]) == sorted(f.rule_id for f in direct[0].findings)
    assert sorted(f["rule_id"] for f in helper["findings"]) == sorted(f.rule_id for f in direct[1].findings)


def test_unrecoverable_stripped_app_is_partial(system_ext4: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["firmware", "scan", str(system_ext4), "--format", "json", "--output", str(report),
                              "-j", "1", "--out", str(tmp_path / "kept")])
    result = json.loads(report.read_text())
    # partial is not an error: the exit code follows the findings alone
    assert res.exit_code == (1 if any(a["findings"] for a in result["apks"]) else 0), res.output
    apks = {a["provenance"]["device_path"]: a for a in result["apks"]}
    old = apks["/system/app/OldOdex/OldOdex.apk"]
    assert old["status"] == "partial"
    assert "code not recoverable offline" in old["reason"]
    assert old["package"]  # the manifest was still read
    assert (tmp_path / "kept" / "files" / "system" / "app" / "OldOdex" / "OldOdex.apk").is_file()
