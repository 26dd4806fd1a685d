"""Shared test fixtures: paths into the committed fixture corpus, and an isolated result cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE_APKS = REPO / "fixtures" / "apks"


@pytest.fixture(scope="session", autouse=True)
def isolated_result_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Results cached by the user's own runs (or by another checkout) must never leak into a test."""
    cache_home = tmp_path_factory.mktemp("xdg-cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache_home)
    yield cache_home
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def fixture_apks() -> Path:
    return FIXTURE_APKS
