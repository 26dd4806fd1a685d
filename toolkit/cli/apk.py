"""`phonehome apk ...`: analyse APK files and folders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli.options import BATCH, REPORT, options
from toolkit.cli.output import consoles, finish_scan, require_installed_data

if TYPE_CHECKING:
    from toolkit.pipeline import ScanOptions
    from toolkit.usecases import ReportRequest

app = typer.Typer(help="Analyse APK files and folders for data leaks.", no_args_is_help=True)


@app.command("scan")
@options(REPORT, BATCH)
def scan(
    paths: list[Path] = typer.Argument(..., metavar="APK_OR_DIR", show_default=False,
                                       help="APK files or folders (searched recursively for *.apk)"),
    report: ReportRequest = ...,  # type: ignore[assignment]
    batch: ScanOptions = ...,  # type: ignore[assignment]
) -> None:
    """Analyse APKs. Exit code: 0 nothing found, 1 findings, 2 error."""
    from datetime import UTC, datetime

    from toolkit.acquisition.files import collect_apk_inputs
    from toolkit.cli.progress import analyse_with_progress
    from toolkit.models import Target
    from toolkit.pipeline import build_result
    from toolkit.usecases import relative_to_root

    console, err = consoles()
    require_installed_data(err)
    started = datetime.now(UTC)
    inputs, errors = collect_apk_inputs(paths)
    reports = analyse_with_progress(inputs, batch, err) if inputs else []
    result = build_result(Target(kind="apk_files", inputs=[str(p) for p in paths]), reports, errors, started)
    if len(paths) == 1 and paths[0].is_dir():
        result = relative_to_root(result, paths[0])
    finish_scan(result, report, console, err)
