"""Markdown reporter: golden file, the same story as the HTML, and evidence text that stays inert."""

from __future__ import annotations

from collections.abc import Callable

from toolkit.models import ScanResult
from toolkit.report.markdown import code, md, render_markdown


def test_golden(fixed_result: ScanResult, golden: Callable[[str, str], None]) -> None:
    golden("report.md", render_markdown(fixed_result))


def test_summary_first_then_one_table_row_per_flow(fixed_result: ScanResult) -> None:
    text = render_markdown(fixed_result)
    assert text.index("## What phonehome found") < text.index("## Apps and their data flows")
    assert ("- com.brightlight.flashlight is a preinstalled system app. Every 30 minutes, it reads the IMEI and sends "
            "it encrypted to 203.0.113.45 (a hard-coded IP address, registered in SG). (flows `f-a07c93e1`)") in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and line.endswith("` |")
            and "`f-" in line.rsplit("|", 2)[-2]]
    assert sorted(r.rsplit("`", 2)[-2] for r in rows) == ["f-3c1e0b7a", "f-51a9e6d3", "f-8d22f4c0", "f-a07c93e1"]
    imei = next(r for r in rows if "f-a07c93e1" in r)
    assert ("| critical | IMEI | 203.0.113.45 (hard-coded IP, SG) | every 30 minutes | encrypted | "
            "`TelephonyManager.getDeviceId()` | `Socket.getOutputStream()` | `imei-to-network`, `periodic-upload` |") in imei
    assert "- **high** `signer-mismatch`: com.brightlight.flashlight is signed by" in text
    assert "## Problems: not (fully) analysed, not collected" in text


def test_evidence_text_cannot_become_markdown() -> None:
    assert md("[click](javascript:alert(1)) <img src=x> *bold* a|b &amp; # x") == (
        "\\[click\\](javascript:alert(1)) \\<img src=x\\> \\*bold\\* a\\|b \\&amp; \\# x")
    assert md("line\nbreak \x1b[31m") == "line break \\\\x1b\\[31m"
    assert code("a`b|c") == "``a`b\\|c``" and code("`x`") == "`` `x` ``"


def test_hostile_package_stays_in_its_cell(fixed_result: ScanResult) -> None:
    evil = fixed_result.model_copy(deep=True)
    evil.apks[1].flows[0].endpoints[0].host = "x.example | injected | [a](http://b)"
    text = render_markdown(evil)
    row = next(line for line in text.splitlines() if "f-a07c93e1` |" in line)
    assert row.count(" | ") == 8  # nine cells, none added by the host name
    assert "\\[a\\](http://b)" in row and "[a](" not in row
