"""`phonehome store check` end to end: folders, evidence folders, reference, JSON output and exit codes."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from tests.store.support import STORE_DATA, copy_apks
from toolkit.acquisition.evidence import AcquisitionManifest, EvidenceFolder, PulledFile, apk_local_path, sha256_file
from toolkit.cli.main import app
from toolkit.models import DeviceIdentity, ScanResult
from toolkit.store.data import load_check_rules

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["store", "check", *args, "--no-cache", "-j", "1"])
    return result.exit_code, result.output


def test_check_with_reference_json(tmp_path: Path, fixture_apks: Path) -> None:
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight_tampered.apk", fixture_apks / "cloudmsg_v2.apk")
    reference = copy_apks(tmp_path / "ref", fixture_apks / "flashlight.apk")
    out = tmp_path / "report.json"
    code, output = invoke(str(store), "--reference", str(reference), "--format", "json", "--output", str(out))
    assert code == 1, output
    result = ScanResult.model_validate_json(out.read_text(encoding="utf-8"))
    assert result.target.kind == "store" and result.store is not None
    assert result.store.reference_diffs[0].code_added[0].package == "com.vendor.analytics"
    assert "store-copy-modified" in [r.id for r in result.rules]
    endpoints = {u.endpoint.value: u.endpoint for a in result.store.endpoints for u in a.endpoints}
    assert endpoints["http://47.88.10.20:8080/report"].country == "US"
    assert endpoints["http://47.88.10.20:8080/report"].hard_coded_ip
    assert result.store.geo_database.startswith("iptocc ")
    assert all(a.provenance.origin == "store" for a in result.apks)


def test_terminal_summary_and_clean_exit(tmp_path: Path, fixture_apks: Path) -> None:
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight.apk")
    reference = copy_apks(tmp_path / "ref", fixture_apks / "flashlight.apk")
    code, output = invoke(str(store), "--reference", str(reference))
    assert code == 0, output
    assert "identical to reference" in output and "Signers" in output


def test_test_key_app_exit_code_and_bad_pin_file(tmp_path: Path) -> None:
    store = copy_apks(tmp_path / "store", STORE_DATA / "cloudmsg_aosp_platform.apk")
    code, output = invoke(str(store), "--format", "json")
    assert code == 1
    assert '"signer-test-key"' in output
    bad = tmp_path / "pins.yml"
    bad.write_text("version: 1\npins: [{package: a.b, sha256: [zz], source: x}]\n", encoding="utf-8")
    code, output = invoke(str(store), "--pins", str(bad))
    assert code == 2 and "pins.yml" in output


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    code, output = invoke(str(tmp_path / "nope"))
    assert code == 2 and "no such file" in output


def make_evidence(root: Path, apks: dict[str, Path]) -> Path:
    folder = EvidenceFolder(root)
    folder.create()
    now = datetime.now(UTC)
    files = []
    for device_path, source in apks.items():
        local = apk_local_path(device_path)
        (root / local).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / local)
        files.append(PulledFile(device_path=device_path, status="pulled", local_path=local,
                                size=source.stat().st_size, sha256=sha256_file(root / local)))
    files.append(PulledFile(device_path="/system/priv-app/Hidden/Hidden.apk", status="failed",
                            reason="Permission denied"))
    folder.save_manifest(AcquisitionManifest(
        started_at=now, finished_at=now, transport="tcp", serial="TESTSERIAL",
        device=DeviceIdentity(brand="Vendor", model="Budget 1", serial="TESTSERIAL"), files=files))
    folder.write_hash_list()
    return root


def test_evidence_folder_input(tmp_path: Path, fixture_apks: Path) -> None:
    evidence = make_evidence(tmp_path / "evidence", {
        "/system/framework/framework-res.apk": STORE_DATA / "android_platform_dev.apk",
        "/system/app/CloudMsg/CloudMsg.apk": fixture_apks / "cloudmsg.apk",
        "/system/app/Updater/Updater.apk": STORE_DATA / "cloudmsg_aosp_platform.apk",
    })
    out = tmp_path / "r.json"
    code, output = invoke(str(evidence), "--format", "json", "--output", str(out))
    assert code == 1, output
    result = ScanResult.model_validate_json(out.read_text(encoding="utf-8"))
    assert result.target.kind == "evidence" and result.target.identity and result.target.identity.model == "Budget 1"
    assert result.store is not None and result.store.platform_source
    assert result.inventory is not None  # the phone's inventory travels with the store report (sockets with countries)
    assert result.store.platform_source.endswith("framework-res.apk")
    by_path = {a.provenance.device_path: a for a in result.apks}
    store_rules = load_check_rules()  # the flow engine's findings on these apps are not the subject here
    assert [f.rule_id for f in by_path["/system/app/CloudMsg/CloudMsg.apk"].findings if f.rule_id in store_rules] == []
    assert sorted(f.rule_id for f in by_path["/system/app/Updater/Updater.apk"].findings
                  if f.rule_id in store_rules) == ["platform-key-mismatch", "signer-test-key"]
    # what could not be pulled is reported, not dropped
    assert any(e.path == "/system/priv-app/Hidden/Hidden.apk" and "Permission denied" in e.reason
               for e in result.input_errors)
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["store"]["signer_checks"]


def test_summary_shows_app_strings_verbatim_without_markup_or_escapes() -> None:
    """A URL constant is the app author's text: '[/]' is not rich markup (it raised) and ESC is not passed on."""
    import io

    from rich.console import Console, Group

    from toolkit.models import Endpoint
    from toolkit.models.store import AppEndpoints, EndpointUse, StoreCheckResult
    from toolkit.report.store_summary import render_store_summary

    hostile = "http://evil.example/[/][bold]x\x1b]0;owned\x07"
    store = StoreCheckResult(endpoints=[AppEndpoints(apk_path="a.apk", package="com.x[/]", endpoints=[
        EndpointUse(endpoint=Endpoint(kind="url", value=hostile, found_in=["dex"]))])])
    out = io.StringIO()
    Console(file=out, width=300, force_terminal=False).print(Group(*render_store_summary(store)))
    text = out.getvalue()
    assert "http://evil.example/[/][bold]x\\x1b]0;owned\\x07" in text and "com.x[/]" in text
    assert "\x1b" not in text and "\x07" not in text
