"""SARIF 2.1.0 reporter: golden file, validation against the official OASIS schema, structure of results."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from toolkit.analysis import analyse_apk
from toolkit.findings import apply_baseline, apply_indicators, create_baseline, load_indicator_file
from toolkit.models import ScanResult, Target
from toolkit.pipeline import build_result
from toolkit.report.sarif import render_sarif

BUNDLE = Path(__file__).parent.parent / "findings" / "data" / "vendor_cloud.stix2"
SARIF_SCHEMA = Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json"

# jsonschema checks "uri"/"uri-reference" only with optional packages: check them here (RFC 3986 characters,
# valid percent-escapes, a scheme for absolute URIs) so a path with spaces or a bare drive letter cannot pass.
_URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")
_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or (bool(re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", value)) and bool(_URI_CHARS.match(value)))


@_FORMATS.checks("uri-reference")
def _is_uri_reference(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI_CHARS.match(value))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=_FORMATS)


def _valid(validator: jsonschema.Draft4Validator, text: str) -> dict[str, Any]:
    log = json.loads(text)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors[:10])
    return log


def test_schema_is_the_official_oasis_file() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert len(schema["definitions"]) == 52
    # Pinned: the file is kept byte for byte as published (112768 characters).
    digest = hashlib.sha256(SARIF_SCHEMA.read_bytes()).hexdigest()
    assert digest == "ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949"


def test_validator_rejects_broken_logs(validator: jsonschema.Draft4Validator, fixed_result: ScanResult) -> None:
    log = json.loads(render_sarif(fixed_result))
    log["runs"][0]["results"][0]["level"] = "critical"  # not a SARIF level
    assert list(validator.iter_errors(log))
    log = json.loads(render_sarif(fixed_result))
    log["runs"][0]["artifacts"][0]["location"]["uri"] = "C:\\phone dump\\a b.apk"
    assert list(validator.iter_errors(log))


def test_golden(fixed_result: ScanResult, golden: Callable[[str, str], None], validator: jsonschema.Draft4Validator) -> None:
    text = render_sarif(fixed_result)
    _valid(validator, text)
    golden("report.sarif", text)


def test_structure(fixed_result: ScanResult, validator: jsonschema.Draft4Validator) -> None:
    log = _valid(validator, render_sarif(fixed_result))
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r.id for r in fixed_result.rules)
    imei = next(r for r in rules if r["id"] == "imei-to-network")
    assert imei["name"] == "ImeiToNetwork"
    assert imei["defaultConfiguration"]["level"] == "error"
    assert imei["shortDescription"]["text"] == "IMEI sent over the network"
    assert "factory resets" in imei["help"]["text"]
    assert "external/cwe/cwe-359" in imei["properties"]["tags"]
    assert imei["relationships"][0]["target"]["id"] == "359"
    assert {r["id"]: r["properties"]["problem.severity"] for r in rules if r["id"] in ("install-packages", "periodic-upload", "cleartext-endpoint")} == {
        "install-packages": "recommendation", "periodic-upload": "recommendation", "cleartext-endpoint": "warning"}
    assert imei["properties"]["security-severity"] == "9.5" and imei["properties"]["precision"] == "high"
    assert imei["helpUri"] == "https://developer.android.com/training/articles/user-data-ids"
    assert {t["id"] for t in run["taxonomies"][0]["taxa"]} == {"359", "319", "345", "284"}

    results = run["results"]
    assert len(results) == len(fixed_result.all_findings()) == 9
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels["cleartext-endpoint"] == "warning" and levels["install-packages"] == "note"
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    flash = next(r for r in results if r["ruleId"] == "imei-to-network" and "Flashlight" in r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
    artifact = run["artifacts"][flash["locations"][0]["physicalLocation"]["artifactLocation"]["index"]]
    assert artifact["hashes"]["sha-256"] == fixed_result.apks[1].sha256
    assert artifact["properties"]["devicePath"] == "/system/app/Flashlight/Flashlight.apk"
    logical = flash["locations"][0]["logicalLocations"]
    assert logical[0]["fullyQualifiedName"] == "com.brightlight.flashlight.stats.Uploader.send"
    assert logical[1] == {"name": "Uploader", "fullyQualifiedName": "com.brightlight.flashlight.stats.Uploader", "kind": "type"}
    steps = flash["codeFlows"][0]["threadFlows"][0]["locations"]
    names = [s["location"]["logicalLocations"][0]["fullyQualifiedName"] for s in steps]
    assert names == [
        "com.brightlight.flashlight.stats.Collector.collect",
        "com.brightlight.flashlight.stats.Crypto.seal",
        "com.brightlight.flashlight.stats.Uploader.send",
    ]
    assert steps[0]["kinds"] == ["acquire", "taint"] and steps[-1]["kinds"] == ["release", "taint"]
    assert "203.0.113.45:8443" in steps[-1]["location"]["message"]["text"]
    assert flash["partialFingerprints"]["phonehome/v1"] == "e1d2c3b4a5968778695a4b3c2d1e0f10"
    assert flash["properties"]["endpoints"] == ["203.0.113.45:8443"]
    # a multi-flow finding carries one code flow per flow
    clear = next(r for r in results if r["ruleId"] == "cleartext-endpoint")
    assert len(clear["codeFlows"]) == 3
    # device finding: no artifact location, still a result
    selinux = next(r for r in results if r["ruleId"] == "selinux-permissive")
    assert selinux["locations"] == [{"logicalLocations": [{
        "name": "Norvo N1 Lite", "kind": "module",
        "fullyQualifiedName": "Norvo/n1lite/n1lite:4.4.2/KOT49H/1403150932:user/release-keys"}]}]
    assert run["automationDetails"]["id"] == "phonehome/device/NV0N1L0042"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["apk-partial", "apk-not-analysed", "evidence-not-collected"]
    assert run["invocations"][0]["executionSuccessful"] is True
    assert run["invocations"][0]["startTimeUtc"] == "2026-11-21T09:14:03Z"


def test_inventory_parse_problems_become_notifications(fixed_result: ScanResult, validator: jsonschema.Draft4Validator) -> None:
    from toolkit.models.device import ParseProblem

    result = fixed_result.model_copy(deep=True)
    assert result.inventory is not None
    result.inventory.parse_problems.append(ParseProblem(source="dumpsys_package", line=812, reason="truncated block"))
    log = _valid(validator, render_sarif(result))
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    texts = [n["message"]["text"] for n in notes if n["descriptor"]["id"] == "inventory-parse-problem"]
    assert len(texts) == 1 and "truncated block" in texts[0] and "812" in texts[0]


def test_notification_level_follows_the_problem_level(fixed_result: ScanResult, validator: jsonschema.Draft4Validator) -> None:
    for level, descriptor in (("warning", "evidence-not-collected"), ("error", "input-error")):
        result = fixed_result.model_copy(deep=True)
        result.input_errors = [e.model_copy(update={"level": level}) for e in result.input_errors]
        notes = _valid(validator, render_sarif(result))["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        pulled = [n for n in notes if "pull failed" in n["message"]["text"]]
        assert [(n["level"], n["descriptor"]["id"]) for n in pulled] == [(level, descriptor)]


def test_iocs_and_suppressed_results(fixed_result: ScanResult, validator: jsonschema.Draft4Validator, tmp_path: Path) -> None:
    matched = apply_indicators(fixed_result, [load_indicator_file(BUNDLE)])
    baseline = create_baseline(matched)
    baseline.entries = [e for e in baseline.entries if e.rule_id == "install-packages"]
    baseline.entries[0].note = "expected for the store"
    out = apply_baseline(matched, baseline, tmp_path / "baseline.json")
    log = _valid(validator, render_sarif(out))
    run = log["runs"][0]
    assert "ioc-match" in {r["id"] for r in run["tool"]["driver"]["rules"]}
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert [(r["ruleId"], r["suppressions"][0]["justification"]) for r in suppressed] == [
        ("install-packages", "expected for the store")
    ]
    assert len(run["results"]) == len(out.all_findings()) + 1
    skipped = [n for n in run["invocations"][0]["toolExecutionNotifications"] if n["descriptor"]["id"] == "indicator-skipped"]
    assert len(skipped) == 1 and "process:name" in skipped[0]["message"]["text"]
    assert run["properties"]["iocMatches"] == len(out.ioc_matches)


def test_real_scan_and_empty_result_validate(fixture_apks: Path, validator: jsonschema.Draft4Validator, tmp_path: Path) -> None:
    broken = tmp_path / "broken name.apk"
    broken.write_bytes(b"PK\x03\x04 this is not a zip")
    reports = [analyse_apk(fixture_apks / "cloudmsg.apk"), analyse_apk(fixture_apks / "appmarket.apk"), analyse_apk(broken)]
    result = build_result(Target(kind="apk_files", inputs=[str(fixture_apks)]), reports)
    log = _valid(validator, render_sarif(result))
    uris = [a["location"]["uri"] for a in log["runs"][0]["artifacts"]]
    assert uris[2].startswith("file:///") and uris[2].endswith("broken%20name.apk")
    assert any(n["level"] == "error" for n in log["runs"][0]["invocations"][0]["toolExecutionNotifications"])
    empty = build_result(Target(kind="apk_files"), [])
    log = _valid(validator, render_sarif(empty))
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_code_flows_from_the_real_engine(fixture_apks: Path, validator: jsonschema.Draft4Validator) -> None:
    """An indicator finding resting on flows the engine found in cloudmsg.apk becomes SARIF code flows."""
    report = analyse_apk(fixture_apks / "cloudmsg.apk")
    if not report.flows:
        pytest.skip("the analysis engine found no flows in cloudmsg.apk")
    result = apply_indicators(build_result(Target(kind="apk_files"), [report]), [load_indicator_file(BUNDLE)])
    log = _valid(validator, render_sarif(result))
    flowing = [r for r in log["runs"][0]["results"] if r.get("codeFlows")]
    assert flowing
    steps = flowing[0]["codeFlows"][0]["threadFlows"][0]["locations"]
    names = [s["location"]["logicalLocations"][0]["fullyQualifiedName"] for s in steps]
    assert all(n.startswith("com.vendor.cloudmsg.") for n in names)
    assert names[-1] == "com.vendor.cloudmsg.PushClient.post"
