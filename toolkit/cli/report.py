"""`phonehome report ...`: work on a saved JSON report without scanning again."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console, Group

from toolkit.cli.device import print_device_facts
from toolkit.cli.output import (
    BASELINE_OPTION,
    EXIT_ERROR,
    FAIL_ON_OPTION,
    FORMAT_OPTION,
    IOCS_OPTION,
    OUTPUT_OPTION,
    OutputFormat,
    ReportArgs,
    finish_scan,
    load_report,
)
from toolkit.cli.store import render_store_summary
from toolkit.models import Severity
from toolkit.text import printable

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
    console, err = Console(), Console(stderr=True)
    try:
        result = load_report(report)
    except ValueError as exc:
        err.print(printable(f"error: {exc}"), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    # What the scanning command showed beside the summary is in the report too: show it again the same way.
    print_device_facts(result.inventory, err)
    if result.store is not None and OutputFormat.terminal.value in formats and output is None:
        console.print(Group(*render_store_summary(result.store)))
    finish_scan(result, ReportArgs(formats, output, iocs, baseline, fail_on), console, err)
