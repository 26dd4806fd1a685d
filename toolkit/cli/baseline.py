"""`phonehome baseline ...`: accept reviewed findings so the next runs only show what is new."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR
from toolkit.findings import create_baseline, write_baseline
from toolkit.models import ScanResult

app = typer.Typer(help="Manage baselines of reviewed findings.", no_args_is_help=True)


def _read_report(path: Path) -> ScanResult:
    """Read a JSON report; raise ValueError naming the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"{path}: cannot read report: {reason}") from exc
    try:
        return ScanResult.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(
            f"{path}: not a phonehome JSON report ({exc.error_count()} problems; first: {where}: {first['msg']})"
        ) from exc


@app.command("create")
def create(
    report: Path = typer.Argument(..., help="A phonehome JSON report (--format json)"),
    out: Path = typer.Option(..., "--out", "-o", help="Baseline file to write"),
) -> None:
    """Write a baseline accepting every finding of REPORT; pass it later with --baseline to suppress them."""
    err = Console(stderr=True)
    try:
        result = _read_report(report)
        baseline = create_baseline(result, source_report=str(report))
        write_baseline(baseline, out)
    except (ValueError, OSError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from exc
    err.print(f"wrote baseline {out} ({len(baseline.entries)} findings accepted)", markup=False, highlight=False)
    raise typer.Exit(EXIT_CLEAN)
