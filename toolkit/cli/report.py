"""`phonehome report ...`: work on a saved JSON report without scanning again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli.options import REPORT, options
from toolkit.cli.output import consoles, fail, finish_scan

if TYPE_CHECKING:
    from rich.console import Console

    from toolkit.models import ScanResult
    from toolkit.usecases import ReportRequest

app = typer.Typer(help="Render a saved JSON report again (other formats, new indicators, a baseline).",
                  no_args_is_help=True)


def store_summary(result: ScanResult, console: Console) -> None:
    """The store check's tables (terminal only), when the result is a store check's."""
    if result.store is not None:
        from rich.console import Group

        from toolkit.report.store_summary import render_store_summary

        console.print(Group(*render_store_summary(result.store)))


@app.command("render")
@options(REPORT)
def render(
    saved: Path = typer.Argument(..., metavar="REPORT", show_default=False,
                                 help="A phonehome JSON report (--format json)"),
    report: ReportRequest = ...,  # type: ignore[assignment]
) -> None:
    """Re-render REPORT; indicators and baselines are applied again. Same exit codes as a scan."""
    from toolkit.cli.device import print_device_facts
    from toolkit.usecases import load_report

    console, err = consoles()
    try:
        result = load_report(saved)
    except ValueError as exc:
        fail(err, str(exc))
    # What the scanning command showed beside the summary is in the report too: show it again the same way.
    print_device_facts(result.inventory, err)
    finish_scan(result, report, console, err, extra_summary=store_summary)
