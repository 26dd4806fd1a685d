"""Reference comparison with the fixture story: the store's flashlight copy against the developer's original."""

from __future__ import annotations

from pathlib import Path

from tests.store.support import DEV_SHA256, OTHER_SHA256, copy_apks
from toolkit.pipeline import ScanOptions
from toolkit.store import StoreCheckOptions, run_store_check
from toolkit.store.data import load_trackers
from toolkit.store.reference import read_class_list, summarise_added_code


def test_tampered_copy_diff_names_sdk_permissions_endpoints_and_new_flow(
    tmp_path: Path, fixture_apks: Path, scan_options: ScanOptions
) -> None:
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight_tampered.apk", fixture_apks / "appmarket.apk",
                      names=["com.brightlight.flashlight.apk", "appmarket.apk"])
    reference = copy_apks(tmp_path / "reference", fixture_apks / "flashlight.apk")
    result = run_store_check([store], StoreCheckOptions(references=[reference], scan=scan_options))
    assert result.store is not None
    [diff] = result.store.reference_diffs
    assert diff.package == "com.brightlight.flashlight"
    assert not diff.identical and not diff.same_signer
    assert diff.store_signers == [OTHER_SHA256] and diff.reference_signers == [DEV_SHA256]
    assert diff.store_version == diff.reference_version == "4.1 (41)"
    assert diff.permissions_added == ["android.permission.READ_PHONE_STATE", "android.permission.RECEIVE_BOOT_COMPLETED"]
    assert diff.permissions_removed == []
    assert {c.name for c in diff.components_added} == {
        "com.vendor.analytics.AnalyticsBootReceiver", "com.vendor.analytics.AnalyticsService"}
    assert diff.boot_triggers_added == ["com.vendor.analytics.AnalyticsBootReceiver"]
    [added] = diff.code_added
    assert added.package == "com.vendor.analytics" and added.classes == 3 == diff.classes_added
    assert diff.classes_removed == 0
    assert [e.value for e in diff.endpoints_added] == ["http://stat.vendor-analytics.example/v2/collect"]
    new_flows = {(f.source, f.sink, f.sink_method) for f in diff.flows_added}
    assert ("imei", "network", "com.vendor.analytics.StatUploader.upload") in new_flows
    assert ("installed_apps", "network", "com.vendor.analytics.StatUploader.upload") in new_flows
    assert all(f.source_method == "com.vendor.analytics.AnalyticsService.onHandleIntent" for f in diff.flows_added)
    assert all("http://stat.vendor-analytics.example/v2/collect" in f.endpoints for f in diff.flows_added)
    # the app's own ads-config fetch is in both copies: not new
    assert not any("AdsConfig" in f.sink_method for f in diff.flows_added)
    # the finding carries the story and points at the new flows
    apk = next(a for a in result.apks if a.package == "com.brightlight.flashlight")
    finding = next(f for f in apk.findings if f.rule_id == "store-copy-modified")
    assert finding.severity.value == "high"
    for fact in ("different signer", "READ_PHONE_STATE", "com.vendor.analytics", "stat.vendor-analytics.example",
                 "imei->network"):
        assert fact in finding.message, fact
    assert set(finding.flow_ids) == {f.flow_id for f in diff.flows_added}
    check = next(c for c in result.store.signer_checks if c.package == "com.brightlight.flashlight")
    assert check.verdict.verdict == "tampered" and "differs from reference" in check.verdict.reasons[0]
    # appmarket has no reference: listed, not compared
    assert [Path(p).name for p in result.store.without_reference] == ["appmarket.apk"]
    # the endpoint of the new flow is marked as used by it
    uses = next(a for a in result.store.endpoints if a.package == "com.brightlight.flashlight").endpoints
    stat = next(u for u in uses if u.endpoint.value == "http://stat.vendor-analytics.example/v2/collect")
    assert set(stat.flow_ids) == {f.flow_id for f in diff.flows_added}


def test_identical_copy_is_genuine(tmp_path: Path, fixture_apks: Path, scan_options: ScanOptions) -> None:
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight.apk")
    reference = copy_apks(tmp_path / "reference", fixture_apks / "flashlight.apk", fixture_apks / "cloudmsg.apk")
    result = run_store_check([store], StoreCheckOptions(references=[reference], scan=scan_options))
    assert result.store is not None
    [diff] = result.store.reference_diffs
    assert diff.identical and diff.same_signer and not diff.changed
    assert result.store.signer_checks[0].verdict.verdict == "genuine"
    assert [Path(p).name for p in result.store.reference_unused] == ["cloudmsg.apk"]
    assert result.all_findings() == []


def test_added_code_named_by_tracker_signatures(fixture_apks: Path, tmp_path: Path) -> None:
    extra = tmp_path / "vendor.yml"
    extra.write_text(
        "version: test\ntrackers:\n  - id: vendor-analytics\n    name: Vendor Analytics SDK\n"
        "    categories: [analytics]\n    code: [com.vendor.analytics]\n    hosts: [vendor-analytics.example]\n"
        "    website: https://vendor-analytics.example/\n", encoding="utf-8")
    signatures, _ = load_trackers([extra])
    store = read_class_list(fixture_apks / "android_id_okhttp.apk").classes
    [okhttp] = [c for c in summarise_added_code({c for c in store if c.startswith("okhttp3")}, signatures)]
    assert okhttp.sdk == "OkHttp" and okhttp.package == "okhttp3"
    tampered = read_class_list(fixture_apks / "flashlight_tampered.apk").classes
    genuine = read_class_list(fixture_apks / "flashlight.apk").classes
    [vendor] = summarise_added_code(tampered - genuine, signatures)
    assert vendor.sdk == "Vendor Analytics SDK" and vendor.tracker_id == "vendor-analytics"


def test_unreadable_dex_is_a_listed_problem(tmp_path: Path) -> None:
    import zipfile

    bad = tmp_path / "bad.apk"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("classes.dex", b"dex\n035\x00" + b"\x00" * 10)
    listing = read_class_list(bad)
    assert not listing.classes and listing.problems and "classes.dex" in listing.problems[0]
    assert read_class_list(tmp_path / "missing.apk").problems
