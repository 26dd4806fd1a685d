"""Tracker/SDK detection: presence from class and host signatures, and whether a leak flow runs in the SDK."""

from __future__ import annotations

from pathlib import Path

from tests.store.support import copy_apks
from toolkit.pipeline import ScanOptions
from toolkit.store import StoreCheckOptions, run_store_check


def write_vendor_signature(path: Path) -> Path:
    path.write_text(
        "version: test\ntrackers:\n  - id: vendor-analytics\n    name: Vendor Analytics SDK\n"
        "    categories: [analytics]\n    code: [com.vendor.analytics]\n    hosts: [vendor-analytics.example]\n"
        "    website: https://vendor-analytics.example/\n", encoding="utf-8")
    return path


def test_sdk_on_a_leak_flow_and_sdk_merely_present(tmp_path: Path, fixture_apks: Path, scan_options: ScanOptions) -> None:
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight_tampered.apk", fixture_apks / "flashlight.apk",
                      fixture_apks / "android_id_okhttp.apk")
    result = run_store_check([store], StoreCheckOptions(
        tracker_files=[write_vendor_signature(tmp_path / "vendor.yml")], scan=scan_options))
    assert result.store is not None
    hits = {(Path(h.apk_path).name, h.tracker_id): h for h in result.store.trackers}
    vendor = hits[("flashlight_tampered.apk", "vendor-analytics")]
    assert vendor.matched_classes == 3 and vendor.matched_hosts == ["stat.vendor-analytics.example"]
    assert vendor.on_leak_flow
    tampered = next(a for a in result.apks if Path(a.path).name == "flashlight_tampered.apk")
    assert set(vendor.flow_ids) == {f.id for f in tampered.flows if f.sink.location.class_name.startswith("com.vendor")}
    okhttp = hits[("android_id_okhttp.apk", "okhttp")]
    assert okhttp.categories == ["library"] and okhttp.matched_classes > 5
    assert okhttp.on_leak_flow, "the android_id flow sends through OkHttp's Call"
    # the genuine flashlight carries neither
    assert not any(name == "flashlight.apk" for name, _ in hits)
    assert "trackers@" in result.store.trackers_version and "vendor@test" in result.store.trackers_version


def test_sdk_present_without_flow_is_not_on_a_leak_flow(tmp_path: Path, fixture_apks: Path,
                                                          scan_options: ScanOptions) -> None:
    signature = tmp_path / "ads.yml"
    signature.write_text(
        "version: test\ntrackers:\n  - id: brightlight-ads\n    name: Brightlight ads config\n"
        "    categories: [advertising]\n    code: [com.brightlight.flashlight.AdsConfig]\n    hosts: []\n"
        "    website: https://brightlight-cdn.example/\n", encoding="utf-8")
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight.apk")
    result = run_store_check([store], StoreCheckOptions(tracker_files=[signature], scan=scan_options))
    assert result.store is not None
    [hit] = result.store.trackers
    assert hit.matched_classes == 2  # AdsConfig and AdsConfig$1
    assert not hit.on_leak_flow and hit.flow_ids == []
