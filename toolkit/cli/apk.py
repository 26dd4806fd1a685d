"""`phonehome apk ...`: analyse APK files and folders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from toolkit.acquisition.files import collect_apk_inputs
from toolkit.cli.batch_options import (
    CACHE_OPTION,
    MEMORY_LIMIT_OPTION,
    NO_CACHE_OPTION,
    SCHEDULER_OPTION,
    WORKERS_OPTION,
    analyse_with_progress,
    scan_options,
)
from toolkit.cli.output import (
    BASELINE_OPTION,
    FAIL_ON_OPTION,
    FORMAT_OPTION,
    IOCS_OPTION,
    OUTPUT_OPTION,
    ReportArgs,
    finish_scan,
)
from toolkit.models import Severity, Target
from toolkit.pipeline import build_result

app = typer.Typer(help="Analyse APK files and folders for data leaks.", no_args_is_help=True)


def progress_bar(console: Console) -> Progress:
    """The progress bar every long CLI step uses (on stderr)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@app.command("scan")
def scan(
    paths: list[Path] = typer.Argument(..., help="APK files or folders (searched recursively for *.apk)"),
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
    """Analyse APKs. Exit code: 0 nothing found, 1 findings, 2 error."""
    console, err = Console(), Console(stderr=True)
    started = datetime.now(UTC)
    inputs, errors = collect_apk_inputs(paths)
    options = scan_options(workers, cache, no_cache, scheduler, memory_limit)
    reports = analyse_with_progress(inputs, options, err)
    result = build_result(Target(kind="apk_files", inputs=[str(p) for p in paths]), reports, errors, started)
    finish_scan(result, ReportArgs(formats, output, iocs, baseline, fail_on), console, err)
