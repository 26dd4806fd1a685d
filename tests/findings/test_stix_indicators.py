"""STIX 2.1 indicator files: loading, matching against a fixed scan result and real APKs, malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.analysis import analyse_apk
from toolkit.findings import IOC_RULE, IndicatorFileError, apply_indicators, load_indicator_file
from toolkit.models import ScanResult, Severity, Target
from toolkit.pipeline import build_result

DATA = Path(__file__).parent / "data"
BUNDLE = DATA / "vendor_cloud.stix2"
SCAN = Path(__file__).parent.parent / "report" / "data" / "scan_result.json"
DEV_CERT = "7b40f335d0b11ba8839df473af5c943c5c1762f7864448ffc293730e33ebe9ff"  # fixtures/keys/dev.p12


@pytest.fixture(scope="module")
def fixed() -> ScanResult:
    return ScanResult.model_validate_json(SCAN.read_text(encoding="utf-8"))


def test_load_bundle_campaigns_kinds_and_skips() -> None:
    loaded = load_indicator_file(BUNDLE)
    kinds = {(i.kind, i.value) for i in loaded.indicators}
    assert ("domain", "vendor-cloud.example") in kinds
    assert ("app_id", "com.vendor.cloudmsg") in kinds
    assert ("cert_sha256", DEV_CERT) in kinds  # colons and upper case normalised
    assert ("ipv4", "203.0.113.0/24") in kinds
    assert ("url", "http://push.vendor-cloud.example/pns/contacts") in kinds  # trailing slash normalised
    assert loaded.source.campaigns == ["BrightStats", "VendorCloud"]
    assert loaded.source.indicators == 7
    # process:name is valid STIX but not observable by phonehome: recorded, not silently dropped.
    assert [(s.id, "process:name" in s.reason) for s in loaded.source.skipped] == [
        ("indicator--a1b2c3d4-0007-4a00-8000-000000000007", True)
    ]
    campaign = {i.value: i.campaign for i in loaded.indicators}
    assert campaign["com.vendor.cloudmsg"] == "VendorCloud"
    assert campaign["203.0.113.0/24"] == "BrightStats"
    assert campaign["cdn.unrelated.example"] is None  # no relationship: still loaded, no campaign
    assert len(loaded.source.sha256) == 64


def test_matches_on_fixed_scan_result(fixed: ScanResult) -> None:
    out = apply_indicators(fixed, [load_indicator_file(BUNDLE)])
    got = {(m.target, m.kind, m.package, m.observed) for m in out.ioc_matches}
    cm, fl, am = "com.vendor.cloudmsg", "com.brightlight.flashlight", "com.vendor.appmarket"
    register = "http://push.vendor-cloud.example/pns/register"
    contacts = "http://push.vendor-cloud.example/pns/contacts"
    assert ("package", "app_id", cm, cm) in got
    assert ("cert_sha256", "cert_sha256", cm, DEV_CERT) in got
    assert ("cert_sha256", "cert_sha256", am, DEV_CERT) in got  # same platform key signs the store
    assert ("endpoint", "domain", cm, register) in got  # subdomain push. of vendor-cloud.example
    assert ("flow_endpoint", "domain", cm, contacts) in got
    assert ("endpoint", "domain", am, "store.vendor-cloud.example") in got  # host endpoint
    assert ("endpoint", "url", cm, contacts) in got
    assert ("endpoint", "url", cm, register) not in got  # URL indicators are exact, not prefixes
    assert ("endpoint", "ipv4", fl, "203.0.113.45:8443") in got  # IP inside the /24
    assert ("apk_sha256", "file_sha256", fl, fixed.apks[1].sha256) in got
    assert not any(m.indicator_value == "cdn.unrelated.example" for m in out.ioc_matches)
    # live socket from the inventory: IPv4-mapped IPv6 peer inside the /24, owned by one package
    sockets = [m for m in out.ioc_matches if m.target == "socket"]
    assert [(m.observed, m.package, m.campaign) for m in sockets] == [("::ffff:203.0.113.45", fl, "BrightStats")]
    assert sockets[0].location == "tcp6 ::ffff:203.0.113.45:8443 uid 10061 (ESTABLISHED)"
    device = [f for f in out.device_findings if f.rule_id == "ioc-match"]
    assert [(f.package, f.apk_sha256) for f in device] == [(fl, None)]
    # one ioc-match finding per (indicator, APK), high severity, with flow ids from flow endpoints
    ioc = [f for f in out.all_findings() if f.rule_id == "ioc-match"]
    assert all(f.severity is Severity.high for f in ioc)
    by_key = {(f.package, f.title) for f in ioc}
    assert (cm, "Known indicator of VendorCloud: domain vendor-cloud.example") in by_key
    domain_cm = next(f for f in ioc if f.package == cm and "domain vendor-cloud.example" in f.title)
    assert domain_cm.flow_ids == ["f-3c1e0b7a", "f-51a9e6d3", "f-8d22f4c0"]
    assert len({f.fingerprint for f in ioc}) == len(ioc)
    assert IOC_RULE.id in {r.id for r in out.rules}
    # The input is untouched: a new result is returned.
    assert not fixed.ioc_matches and all(f.rule_id != "ioc-match" for f in fixed.all_findings())
    assert out.indicator_sources[0].file == str(BUNDLE)


def test_applying_the_same_file_twice_changes_nothing(fixed: ScanResult) -> None:
    bundle = [load_indicator_file(BUNDLE)]
    once = apply_indicators(fixed, bundle)
    twice = apply_indicators(once, [load_indicator_file(BUNDLE)])
    assert twice == once


def test_fingerprints_are_stable_across_runs(fixed: ScanResult) -> None:
    bundle = [load_indicator_file(BUNDLE)]
    first = sorted(f.fingerprint for f in apply_indicators(fixed, bundle).all_findings())
    second = sorted(f.fingerprint for f in apply_indicators(fixed, bundle).all_findings())
    assert first == second


def test_no_match_leaves_findings_alone(fixed: ScanResult, tmp_path: Path) -> None:
    bundle = tmp_path / "other.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value = 'nothing.example']",
         "pattern_type": "stix"},
    ]}), encoding="utf-8")
    out = apply_indicators(fixed, [load_indicator_file(bundle)])
    assert out.ioc_matches == []
    assert len(out.all_findings()) == len(fixed.all_findings())
    assert [s.file for s in out.indicator_sources] == [str(bundle)]


def test_real_apks_match_package_signer_and_hash(fixture_apks: Path, tmp_path: Path) -> None:
    cloudmsg = analyse_apk(fixture_apks / "cloudmsg.apk")
    flashlight = analyse_apk(fixture_apks / "flashlight_tampered.apk")
    assert cloudmsg.sha256 and flashlight.sha256
    result = build_result(Target(kind="apk_files"), [cloudmsg, flashlight])
    bundle = tmp_path / "real.stix2"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--2", "objects": [
        {"type": "malware", "id": "malware--x", "name": "Tampered", "is_family": True},
        {"type": "indicator", "id": "indicator--hash", "pattern_type": "stix",
         "pattern": f"[file:hashes.'SHA-256' = '{flashlight.sha256.upper()}']"},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates",
         "source_ref": "indicator--hash", "target_ref": "malware--x"},
    ]}), encoding="utf-8")
    out = apply_indicators(result, [load_indicator_file(BUNDLE), load_indicator_file(bundle)])
    got = {(m.target, m.package, m.campaign) for m in out.ioc_matches}
    assert ("package", "com.vendor.cloudmsg", "VendorCloud") in got
    assert ("cert_sha256", "com.vendor.cloudmsg", "VendorCloud") in got  # signed with fixtures/keys/dev
    assert ("apk_sha256", "com.brightlight.flashlight", "Tampered") in got
    # flashlight_tampered is signed by the "other" key: the platform-key indicator must not match it
    assert ("cert_sha256", "com.brightlight.flashlight", "VendorCloud") not in got


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{\"type\": \"bundle\",", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ("{\"type\": \"indicator\"}", "expected 'bundle'"),
        ("{\"type\": \"bundle\", \"id\": \"bundle--1\"}", "no \"objects\" list"),
        ("{\"type\": \"bundle\", \"objects\": [{\"type\": \"malware\", \"id\": \"malware--1\", \"name\": \"x\"}]}",
         "contains no indicator objects"),
        ("{\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"id\": \"indicator--1\"}]}",
         "has no 'pattern' string"),
        ("{\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"id\": \"indicator--1\", "
         "\"pattern\": \"domain-name:value = 'x.example'\"}]}", "is not a STIX pattern"),
        ("{\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"id\": \"indicator--1\", "
         "\"pattern\": \"[file:hashes.sha256 = 'abc']\"}]}", "not a SHA-256 hex digest"),
        ("{\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"id\": \"indicator--1\", "
         "\"pattern\": \"[ipv4-addr:value = '300.1.1.1']\"}]}", "not an IP address"),
        ("{\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"id\": \"indicator--1\", "
         "\"pattern\": \"[x]\", \"pattern_type\": \"yara\"}]}", "pattern_type 'yara' is not supported"),
        ("{\"type\": \"bundle\", \"objects\": [42]}", "objects[0] is not a STIX object"),
    ],
)
def test_malformed_files_name_file_and_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "broken.stix2"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IndicatorFileError) as info:
        load_indicator_file(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(IndicatorFileError, match="cannot read indicator file"):
        load_indicator_file(tmp_path / "absent.stix2")
    binary = tmp_path / "bin.stix2"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(IndicatorFileError, match="not UTF-8"):
        load_indicator_file(binary)


def test_and_patterns_are_skipped_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "and.stix2"
    path.write_text(json.dumps({"type": "bundle", "objects": [
        {"type": "indicator", "id": "indicator--and", "pattern_type": "stix",
         "pattern": "[app:id = 'a.b' AND file:hashes.sha256 = '" + "0" * 64 + "']"},
        {"type": "indicator", "id": "indicator--or", "pattern_type": "stix",
         "pattern": "[domain-name:value = 'a.example' OR domain-name:value = 'B.example']"},
    ]}), encoding="utf-8")
    loaded = load_indicator_file(path)
    assert [s.id for s in loaded.source.skipped] == ["indicator--and"]
    assert "AND" in loaded.source.skipped[0].reason
    assert sorted(i.value for i in loaded.indicators) == ["a.example", "b.example"]


def test_inventory_packages_without_apk(fixed: ScanResult, tmp_path: Path) -> None:
    """An installed package whose APK was not pulled still matches app:id and signer indicators."""
    result = fixed.model_copy(deep=True)
    assert result.inventory is not None
    notes = result.inventory.package("com.example.notes")
    assert notes is not None
    notes.signing_cert_sha256 = ["AB" * 32]
    bundle = tmp_path / "notes.stix2"
    bundle.write_text(json.dumps({"type": "bundle", "objects": [
        {"type": "indicator", "id": "indicator--app", "pattern_type": "stix", "pattern": "[app:id = 'com.example.notes']"},
        {"type": "indicator", "id": "indicator--cert", "pattern_type": "stix", "pattern": f"[app:cert.sha256 = '{'ab' * 32}']"},
        {"type": "indicator", "id": "indicator--cm", "pattern_type": "stix", "pattern": "[app:id = 'com.vendor.cloudmsg']"},
    ]}), encoding="utf-8")
    out = apply_indicators(result, [load_indicator_file(bundle)])
    device = sorted((m.target, m.package) for m in out.ioc_matches if m.location and m.location.startswith("inventory"))
    assert device == [("cert_sha256", "com.example.notes"), ("package", "com.example.notes")]
    # the analysed APK of com.vendor.cloudmsg is matched once, as an APK, not again from the inventory
    assert [m.target for m in out.ioc_matches if m.package == "com.vendor.cloudmsg"] == ["package"]
    assert len([f for f in out.device_findings if f.rule_id == "ioc-match"]) == 2


def test_real_engine_endpoints_and_flows_match_domain(fixture_apks: Path) -> None:
    """Endpoints and flows found by the real engine in cloudmsg.apk match the campaign's domain indicator."""
    report = analyse_apk(fixture_apks / "cloudmsg.apk")
    if not report.flows:
        pytest.skip("the analysis engine found no flows in cloudmsg.apk")
    out = apply_indicators(build_result(Target(kind="apk_files"), [report]), [load_indicator_file(BUNDLE)])
    domain = [m for m in out.ioc_matches if m.kind == "domain"]
    assert {m.target for m in domain} == {"endpoint", "flow_endpoint"}
    assert all("vendor-cloud.example" in m.observed for m in domain)
    finding = next(f for f in out.apks[0].findings if f.rule_id == "ioc-match" and "domain" in f.title)
    flow_ids = {f.id for f in out.apks[0].flows if any("vendor-cloud.example" in e.value for e in f.endpoints)}
    assert flow_ids and set(finding.flow_ids) == flow_ids
