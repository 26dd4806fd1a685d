"""`phonehome baseline ...`: accept reviewed findings so the next runs only show what is new."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.output import EXIT_CLEAN, consoles, fail, say

app = typer.Typer(help="Manage baselines of reviewed findings.", no_args_is_help=True)


@app.command("create")
def create(
    saved: Path = typer.Argument(..., metavar="REPORT", show_default=False,
                                 help="A phonehome JSON report (--format json)"),
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE",
                                help="Baseline file to write"),
) -> None:
    """Write a baseline accepting every finding of REPORT; pass it later with --baseline to suppress them."""
    from toolkit.findings import create_baseline, write_baseline
    from toolkit.usecases import load_report

    _, err = consoles()
    try:
        baseline = create_baseline(load_report(saved), source_report=str(saved))
    except ValueError as exc:
        fail(err, str(exc))
    try:
        write_baseline(baseline, output)
    except OSError as exc:
        fail(err, f"{output}: cannot write baseline: {exc.strerror or exc}")
    say(err, f"wrote baseline {output} ({len(baseline.entries)} findings accepted)")
    raise typer.Exit(EXIT_CLEAN)
