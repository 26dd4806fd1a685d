"""`phonehome evidence scan DIR`: re-run inventory and analysis offline from an evidence folder alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli.options import BATCH, REPORT, options
from toolkit.cli.output import EXIT_ERROR, consoles, fail, finish_scan, require_installed_data

if TYPE_CHECKING:
    from toolkit.pipeline import ScanOptions
    from toolkit.usecases import ReportRequest

app = typer.Typer(help="Re-analyse an evidence folder offline.", no_args_is_help=True)


@app.command("scan")
@options(REPORT, BATCH)
def scan(
    folder: Path = typer.Argument(..., metavar="DIR", show_default=False,
                                  help="Evidence folder written by `device acquire` / `device scan` / `demo`"),
    report: ReportRequest = ...,  # type: ignore[assignment]
    batch: ScanOptions = ...,  # type: ignore[assignment]
) -> None:
    """Analyse an evidence folder (no phone needed). Exit 0 nothing found, 1 findings, 2 error or tampered folder."""
    from toolkit.cli.device import print_device_facts, scan_evidence
    from toolkit.usecases import relative_to_root

    console, err = consoles()
    if not folder.is_dir():  # say what is wrong with the path itself before talking about acquisition.json
        fail(err, f"{folder}: not an evidence folder: {'a file' if folder.exists() else 'no such folder'}")
    require_installed_data(err)
    scan = scan_evidence(folder, "evidence", batch, err)
    print_device_facts(scan.result.inventory, err)
    try:
        finish_scan(relative_to_root(scan.result, folder), report, console, err)
    except typer.Exit as done:
        # A folder that does not match its hash list is an error whatever was found in it.
        raise typer.Exit(done.exit_code if scan.intact else EXIT_ERROR) from None
