"""`phonehome report ...`: work on a saved JSON report without scanning again."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from toolkit.cli.output import (
    BASELINE_OPTION,
    FAIL_ON_OPTION,
    FORMAT_OPTION,
    IOCS_OPTION,
    OUTPUT_OPTION,
    ReportArgs,
    rerender_report,
)
from toolkit.models import Severity

app = typer.Typer(help="Render a saved JSON report again (other formats, new indicators, a baseline).",
                  no_args_is_help=True)


@app.command("render")
def render(
    report: Path = typer.Argument(..., help="A phonehome JSON report (--format json)"),
    formats: list[str] = FORMAT_OPTION,
    output: Path | None = OUTPUT_OPTION,
    iocs: list[Path] = IOCS_OPTION,
    baseline: Path | None = BASELINE_OPTION,
    fail_on: Severity = FAIL_ON_OPTION,
) -> None:
    """Re-render REPORT; indicators and baselines are applied again. Same exit codes as a scan."""
    rerender_report(report, ReportArgs(formats, output, iocs, baseline, fail_on), Console(), Console(stderr=True))
