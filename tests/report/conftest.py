"""Fixtures of the reporter tests: the fixed scan result and golden-file comparison.

Regenerate the golden files after an intended format change with:
    PHONEHOME_UPDATE_GOLDEN=1 python -m pytest tests/report
then review the diff (git diff tests/report/golden) before committing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from toolkit.models import ScanResult

HERE = Path(__file__).parent
SCAN_RESULT = HERE / "data" / "scan_result.json"
GOLDEN = HERE / "golden"
SARIF_SCHEMA = HERE / "schemas" / "sarif-schema-2.1.0.json"
UPDATE = os.environ.get("PHONEHOME_UPDATE_GOLDEN") == "1"


@pytest.fixture()
def fixed_result() -> ScanResult:
    """The hand-written, realistic scan result every golden file is rendered from."""
    return ScanResult.model_validate_json(SCAN_RESULT.read_text(encoding="utf-8"))


@pytest.fixture()
def golden() -> Callable[[str, str], None]:
    """Compare `text` with tests/report/golden/NAME byte for byte (or rewrite it when regenerating)."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if UPDATE:
            path.write_bytes(text.encode("utf-8"))
            return
        assert path.exists(), f"missing golden file {path}: run with PHONEHOME_UPDATE_GOLDEN=1"
        expected = path.read_bytes().decode("utf-8")
        assert text == expected, f"{name} differs from its golden file; regenerate with PHONEHOME_UPDATE_GOLDEN=1"

    return check
