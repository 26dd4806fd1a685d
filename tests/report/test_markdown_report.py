"""Markdown reporter: golden file, the same story as the HTML, and evidence text that stays inert."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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


def test_cli_writes_markdown_and_verbose_adds_call_paths(tmp_path: Path) -> None:
    """`report render -f markdown` (the format choice of every command) and `-v` for the terminal summary."""
    from typer.testing import CliRunner

    from tests.report.conftest import SCAN_RESULT
    from toolkit.cli.main import app

    runner = CliRunner()
    out = tmp_path / "r.md"
    done = runner.invoke(app, ["report", "render", str(SCAN_RESULT), "-f", "markdown", "-o", str(out)])
    assert done.exit_code == 1, done.output  # findings
    assert out.read_text(encoding="utf-8").startswith("# phonehome report: Norvo N1 Lite\n\n## What phonehome found")
    folder = runner.invoke(app, ["report", "render", str(SCAN_RESULT), "-f", "json,markdown", "-o", str(tmp_path / "d")])
    assert folder.exit_code == 1 and (tmp_path / "d" / "phonehome-report.md").is_file()
    plain = runner.invoke(app, ["report", "render", str(SCAN_RESULT)]).stdout
    verbose = runner.invoke(app, ["-v", "report", "render", str(SCAN_RESULT)]).stdout
    assert "path: TelephonyManager.getDeviceId() in Collector.collect" in " ".join(verbose.split())
    assert "path:" not in plain and "IMEI -> 203.0.113.45" in " ".join(plain.split())
