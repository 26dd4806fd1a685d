"""Fixtures of the store tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.support import DEV_SHA256
from toolkit.pipeline import ScanOptions


@pytest.fixture
def scan_options(tmp_path: Path) -> ScanOptions:
    """In-process, no cache: fast and independent of other runs."""
    return ScanOptions(workers=1, no_cache=True, isolate=False)


@pytest.fixture
def dev_pin_file(tmp_path: Path) -> Path:
    """A user pin file: the fixtures' flashlight app is genuinely signed by the "dev" key."""
    path = tmp_path / "pins.yml"
    path.write_text(
        "version: 1\npins:\n  - package: com.brightlight.flashlight\n    name: Bright Flashlight (fixture)\n"
        f"    sha256: [{DEV_SHA256}]\n    source: fixtures/keys/dev.cert.pem (the fixture developer's key)\n",
        encoding="utf-8",
    )
    return path
