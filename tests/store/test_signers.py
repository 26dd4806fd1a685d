"""Signer checks on real APKs through the whole store check: pinning, AOSP test keys, platform key, debug
certificates, scheme mismatches and malformed signature blocks (each reported per app, the check goes on)."""

from __future__ import annotations

from pathlib import Path

from tests.store.support import (
    AOSP_PLATFORM_SHA256,
    DEV_SHA256,
    OTHER_SHA256,
    STORE_DATA,
    copy_apks,
    corrupt_v1_certificate,
    corrupt_v2_block_size,
    corrupt_v2_certificate,
    splice_v2_block,
)
from toolkit.models import ScanResult
from toolkit.models.store import SignerCheck
from toolkit.pipeline import ScanOptions
from toolkit.store import StoreCheckOptions, run_store_check
from toolkit.store.data import load_check_rules


def checks_by_name(result: ScanResult) -> dict[str, SignerCheck]:
    assert result.store is not None
    return {Path(c.apk_path).name: c for c in result.store.signer_checks}


def rule_ids(result: ScanResult, name: str) -> list[str]:
    """The store-check findings of one APK (the flow engine's own findings on it are not the subject here)."""
    apk = next(a for a in result.apks if Path(a.path).name == name)
    store_rules = load_check_rules()
    return sorted(f.rule_id for f in apk.findings if f.rule_id in store_rules)


def test_tampered_copy_caught_by_pinning(tmp_path: Path, fixture_apks: Path, dev_pin_file: Path,
                                         scan_options: ScanOptions) -> None:
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight_tampered.apk", fixture_apks / "flashlight.apk",
                      names=["flashlight-from-store.apk", "flashlight-genuine.apk"])
    result = run_store_check([store], StoreCheckOptions(pin_files=[dev_pin_file], scan=scan_options))
    checks = checks_by_name(result)
    tampered = checks["flashlight-from-store.apk"]
    assert tampered.pin == "mismatch" and tampered.certificates == [OTHER_SHA256]
    assert tampered.pinned_certificates == [DEV_SHA256]
    assert tampered.verdict.verdict == "tampered"
    assert rule_ids(result, "flashlight-from-store.apk") == ["signer-pinning-mismatch"]
    finding = next(f for a in result.apks for f in a.findings if f.rule_id == "signer-pinning-mismatch")
    assert finding.severity.value == "high" and "tampered or repackaged" in finding.message
    assert "fixtures/keys/dev.cert.pem" in " ".join(finding.evidence)
    genuine = checks["flashlight-genuine.apk"]
    assert genuine.pin == "match" and genuine.verdict.verdict == "genuine"
    assert rule_ids(result, "flashlight-genuine.apk") == []
    assert [r.id for r in result.rules if r.id in load_check_rules()] == ["signer-pinning-mismatch"]
    # every finding in the result, the engine's included, has its rule metadata beside it
    assert {f.rule_id for f in result.all_findings()} <= {r.id for r in result.rules}


def test_test_key_signed_system_app_flagged_and_compared_with_platform_key(
    tmp_path: Path, fixture_apks: Path, scan_options: ScanOptions
) -> None:
    store = copy_apks(tmp_path / "image", STORE_DATA / "android_platform_dev.apk",
                      STORE_DATA / "cloudmsg_aosp_platform.apk", fixture_apks / "cloudmsg.apk")
    result = run_store_check([store], StoreCheckOptions(scan=scan_options))
    assert result.store is not None
    assert result.store.platform_certificates == [DEV_SHA256]
    assert result.store.platform_source and result.store.platform_source.endswith("android_platform_dev.apk")
    checks = checks_by_name(result)
    aosp = checks["cloudmsg_aosp_platform.apk"]
    assert aosp.certificates == [AOSP_PLATFORM_SHA256] and aosp.test_keys == ["platform"]
    assert aosp.shared_user_id == "android.uid.system" and aosp.platform_key == "mismatch"
    assert aosp.verdict.verdict == "tampered"
    assert rule_ids(result, "cloudmsg_aosp_platform.apk") == ["platform-key-mismatch", "signer-test-key"]
    test_key = next(f for a in result.apks for f in a.findings if f.rule_id == "signer-test-key")
    assert "android.uid.system" in test_key.message and "platform" in test_key.message
    # The genuine system app carries the image's platform key: nothing to report.
    genuine = checks["cloudmsg.apk"]
    assert genuine.platform_key == "match" and genuine.verdict.verdict == "genuine"
    assert rule_ids(result, "cloudmsg.apk") == []


def test_test_key_without_platform_package(tmp_path: Path, scan_options: ScanOptions) -> None:
    store = copy_apks(tmp_path / "store", STORE_DATA / "cloudmsg_aosp_platform.apk")
    result = run_store_check([store], StoreCheckOptions(scan=scan_options))
    check = checks_by_name(result)["cloudmsg_aosp_platform.apk"]
    assert check.platform_key == "unknown"
    assert check.verdict.verdict == "suspicious"
    assert rule_ids(result, "cloudmsg_aosp_platform.apk") == ["signer-test-key"]


def test_debug_certificate(tmp_path: Path, scan_options: ScanOptions) -> None:
    store = copy_apks(tmp_path / "store", STORE_DATA / "flashlight_debug.apk")
    result = run_store_check([store], StoreCheckOptions(scan=scan_options))
    check = checks_by_name(result)["flashlight_debug.apk"]
    assert check.debug_certificate and "Android Debug" in check.subjects[0]
    assert rule_ids(result, "flashlight_debug.apk") == ["signer-debug-cert"]


def test_scheme_mismatch(tmp_path: Path, fixture_apks: Path, scan_options: ScanOptions) -> None:
    store = tmp_path / "store"
    store.mkdir()
    splice_v2_block(fixture_apks / "flashlight_tampered.apk", fixture_apks / "flashlight.apk", store / "janus.apk")
    result = run_store_check([store], StoreCheckOptions(scan=scan_options))
    check = checks_by_name(result)["janus.apk"]
    assert check.scheme_mismatch and set(check.certificates) == {OTHER_SHA256, DEV_SHA256}
    assert check.verdict.verdict == "tampered"
    assert rule_ids(result, "janus.apk") == ["signer-scheme-mismatch"]
    finding = next(f for f in result.apks[0].findings if f.rule_id == "signer-scheme-mismatch")
    assert OTHER_SHA256 in finding.message and DEV_SHA256 in finding.message


def test_malformed_signatures_reported_per_app_and_check_goes_on(
    tmp_path: Path, fixture_apks: Path, dev_pin_file: Path, scan_options: ScanOptions
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    corrupt_v1_certificate(fixture_apks / "flashlight.apk", store / "a_v1_cert_corrupt.apk")
    corrupt_v2_certificate(fixture_apks / "flashlight.apk", store / "b_v2_cert_corrupt.apk")
    corrupt_v2_block_size(fixture_apks / "flashlight.apk", store / "c_v2_block_corrupt.apk")
    copy_apks(store, fixture_apks / "flashlight_tampered.apk")
    result = run_store_check([store], StoreCheckOptions(pin_files=[dev_pin_file], scan=scan_options))
    checks = checks_by_name(result)
    assert len(checks) == 4
    a = checks["a_v1_cert_corrupt.apk"]
    assert a.verdict.verdict == "unreadable" and not a.certificates
    assert any(p.startswith("v1") for p in a.problems)
    b = checks["b_v2_cert_corrupt.apk"]
    assert any("v2 certificate malformed" in p for p in b.problems)
    assert b.certificates == [DEV_SHA256] and b.pin == "match"  # v1 still names the genuine signer
    c = checks["c_v2_block_corrupt.apk"]
    assert any("v2 signature block unreadable" in p for p in c.problems)
    for name in ("a_v1_cert_corrupt.apk", "b_v2_cert_corrupt.apk", "c_v2_block_corrupt.apk"):
        assert "signer-malformed" in rule_ids(result, name), name
        finding = next(f for a_ in result.apks if Path(a_.path).name == name for f in a_.findings
                       if f.rule_id == "signer-malformed")
        assert finding.evidence and finding.package == "com.brightlight.flashlight"
    # ... and the APK after them was still checked.
    assert rule_ids(result, "flashlight_tampered.apk") == ["signer-pinning-mismatch"]
    assert all(a_.status.value == "analysed" for a_ in result.apks)
