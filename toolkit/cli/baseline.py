"""`phonehome baseline ...`: accept reviewed findings so the next runs only show what is new."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR, load_report
from toolkit.findings import create_baseline, write_baseline

app = typer.Typer(help="Manage baselines of reviewed findings.", no_args_is_help=True)


@app.command("create")
def create(
    report: Path = typer.Argument(..., help="A phonehome JSON report (--format json)"),
    out: Path = typer.Option(..., "--out", "-o", help="Baseline file to write"),
) -> None:
    """Write a baseline accepting every finding of REPORT; pass it later with --baseline to suppress them."""
    err = Console(stderr=True)
    try:
        result = load_report(report)
        baseline = create_baseline(result, source_report=str(report))
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    try:
        write_baseline(baseline, out)
    except OSError as exc:
        err.print(f"error: {out}: cannot write baseline: {exc.strerror or exc}", markup=False, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    err.print(f"wrote baseline {out} ({len(baseline.entries)} findings accepted)", markup=False, highlight=False)
    raise typer.Exit(EXIT_CLEAN)
