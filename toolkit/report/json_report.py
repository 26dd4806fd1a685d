"""JSON reporter: the ScanResult model as published by `phonehome schema`."""

from __future__ import annotations

import json

from toolkit.models import ScanResult


def render_json(result: ScanResult) -> str:
    """Serialise a scan result to stable, indented JSON."""
    return result.model_dump_json(indent=2) + "\n"


def result_schema() -> str:
    """The JSON schema of the scan result."""
    return json.dumps(ScanResult.model_json_schema(), indent=2, sort_keys=True) + "\n"
