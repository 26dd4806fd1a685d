"""Raw outputs written in Android's real formats, one folder per Android version (file stem = evidence key)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
VERSIONS = ("android7", "android10", "android12", "android14")


def raw(version: str, stem: str) -> str:
    return (DATA / version / f"{stem}.txt").read_text(encoding="utf-8")


def outputs(version: str) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((DATA / version).glob("*.txt"))}


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)
