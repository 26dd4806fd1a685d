"""`phonehome evidence scan DIR`: re-run inventory and analysis offline from an evidence folder alone."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from toolkit.cli.batch_options import (
    CACHE_OPTION,
    MEMORY_LIMIT_OPTION,
    NO_CACHE_OPTION,
    SCHEDULER_OPTION,
    WORKERS_OPTION,
    scan_options,
)
from toolkit.cli.device import print_device_facts, scan_evidence
from toolkit.cli.output import (
    BASELINE_OPTION,
    EXIT_ERROR,
    FAIL_ON_OPTION,
    FORMAT_OPTION,
    IOCS_OPTION,
    OUTPUT_OPTION,
    ReportArgs,
    finish_scan,
)
from toolkit.models import Severity
from toolkit.text import printable

app = typer.Typer(help="Re-analyse an evidence folder offline.", no_args_is_help=True)


@app.command("scan")
def scan(
    folder: Path = typer.Argument(..., help="Evidence folder written by `device acquire` / `device scan`"),
    formats: list[str] = FORMAT_OPTION,
    output: Path | None = OUTPUT_OPTION,
    iocs: list[Path] = IOCS_OPTION,
    baseline: Path | None = BASELINE_OPTION,
    fail_on: Severity = FAIL_ON_OPTION,
    workers: int = WORKERS_OPTION,
    cache: Path | None = CACHE_OPTION,
    no_cache: bool = NO_CACHE_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    memory_limit: str = MEMORY_LIMIT_OPTION,
) -> None:
    """Analyse an evidence folder (no phone needed). Exit 0 nothing found, 1 findings, 2 error or tampered folder."""
    console, err = Console(), Console(stderr=True)
    if not folder.is_dir():  # say what is wrong with the path itself before talking about acquisition.json
        what = "a file" if folder.exists() else "no such folder"
        err.print(printable(f"error: {folder}: not an evidence folder: {what}"), markup=False, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(EXIT_ERROR)
    options = scan_options(workers, cache, no_cache, scheduler, memory_limit)
    scan = scan_evidence(folder, "evidence", options, err)
    print_device_facts(scan.result.inventory, err)
    try:
        finish_scan(scan.result, ReportArgs(formats, output, iocs, baseline, fail_on), console, err)
    except typer.Exit as done:
        # A folder that does not match its hash list is an error whatever was found in it.
        raise typer.Exit(done.exit_code if scan.intact else EXIT_ERROR) from None
