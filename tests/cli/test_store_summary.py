"""`store check` terminal summary: every reference APK is accounted for, used or not."""

from __future__ import annotations

import io

from rich.console import Console, Group

from toolkit.models.store import StoreCheckResult
from toolkit.report.store_summary import render_store_summary


def test_unused_references_are_listed() -> None:
    store = StoreCheckResult(without_reference=["store/a.apk"], reference_unused=["ref/other.apk", "ref/broken.apk"])
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=False).print(Group(*render_store_summary(store)))
    text = out.getvalue()
    assert "No reference APK for: store/a.apk" in text
    assert "Reference APKs that matched no store APK: ref/other.apk, ref/broken.apk" in text


def test_nothing_cut_with_an_ellipsis_at_80_columns() -> None:
    """Package names and URLs are the evidence: at 80 columns they fold, they are never cut to 'http://api.ve…'."""
    import re

    from toolkit.models import Endpoint
    from toolkit.models.store import AppEndpoints, EndpointUse, SignerCheck, TamperVerdict

    url = "http://api.vendor-market.example/v3/updates/check?device=imei&token=0123456789abcdef"
    store = StoreCheckResult(
        signer_checks=[SignerCheck(apk_path="s/a.apk", package="com.vendor.appstore.with.a.long.name",
                                   schemes=["v1", "v2"], certificates=["7b40f335d0b11ba8839df473af5c943c"],
                                   verdict=TamperVerdict(verdict="unverified", reasons=["no pin to compare with"]))],
        endpoints=[AppEndpoints(apk_path="s/a.apk", package="com.vendor.appstore.with.a.long.name", endpoints=[
            EndpointUse(endpoint=Endpoint(kind="url", value=url, found_in=["dex"]), flow_ids=["27c93b3fe93cde38"])])],
    )
    out = io.StringIO()
    Console(file=out, width=80, force_terminal=False).print(Group(*render_store_summary(store)))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert re.findall(r"(\S+)…", text) == ["7b40f335d0b11ba8"]  # only the shortened signer digest
    assert "com.vendor.appstore.with.a.long.name" in text and "no pin to compare with" in text
    table = text.split("Endpoints")[1]
    cells = "".join(line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│"))
    assert url in cells  # folded over lines, every character kept
