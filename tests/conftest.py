"""Shared test fixtures: paths into the committed fixture corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE_APKS = REPO / "fixtures" / "apks"


@pytest.fixture(scope="session")
def fixture_apks() -> Path:
    return FIXTURE_APKS
