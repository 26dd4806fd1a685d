"""`store check` terminal summary: every reference APK is accounted for, used or not."""

from __future__ import annotations

import io

from rich.console import Console, Group

from toolkit.cli.store import render_store_summary
from toolkit.models.store import StoreCheckResult


def test_unused_references_are_listed() -> None:
    store = StoreCheckResult(without_reference=["store/a.apk"], reference_unused=["ref/other.apk", "ref/broken.apk"])
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=False).print(Group(*render_store_summary(store)))
    text = out.getvalue()
    assert "No reference APK for: store/a.apk" in text
    assert "Reference APKs that matched no store APK: ref/other.apk, ref/broken.apk" in text
