"""JSON reporter: golden file, lossless round trip, published schema."""

from __future__ import annotations

import json
from collections.abc import Callable

import jsonschema

from toolkit.models import ScanResult
from toolkit.report.json_report import render_json, result_schema


def test_golden(fixed_result: ScanResult, golden: Callable[[str, str], None]) -> None:
    golden("report.json", render_json(fixed_result))


def test_round_trip_is_lossless(fixed_result: ScanResult) -> None:
    text = render_json(fixed_result)
    again = ScanResult.model_validate_json(text)
    assert again == fixed_result
    assert render_json(again) == text


def test_evidence_is_in_the_json(fixed_result: ScanResult) -> None:
    data = json.loads(render_json(fixed_result))
    flow = data["apks"][1]["flows"][0]
    assert flow["source"]["location"]["class_name"] == "com.brightlight.flashlight.stats.Collector"
    assert [p["method"] for p in flow["path"]] == ["collect", "seal", "send"]
    assert flow["endpoints"][0]["value"] == "203.0.113.45:8443"
    assert flow["triggers"][0]["period_seconds"] == 1800
    assert data["apks"][0]["provenance"]["device_path"] == "/system/priv-app/CloudMsg/CloudMsg.apk"
    assert data["apks"][3]["status"] == "not_analysed" and data["apks"][3]["reason"]


def test_report_validates_against_published_schema(fixed_result: ScanResult) -> None:
    schema = json.loads(result_schema())
    for field in ("ioc_matches", "indicator_sources", "suppressed", "baseline_file"):
        assert field in schema["properties"]
    jsonschema.Draft202012Validator(schema).validate(json.loads(render_json(fixed_result)))
    broken = json.loads(render_json(fixed_result))
    broken["apks"][0]["status"] = "maybe"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(broken))
