"""`phonehome store check DIR_OR_EVIDENCE [--reference REF_DIR]`: is each app genuine, what was added, where it
talks to. Thin: parses options, calls toolkit.store.run_store_check, shows the store summary
(toolkit.report.store_summary), then the shared report plumbing (formats, IOCs, baseline, exit code)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli.options import BATCH, REPORT, options
from toolkit.cli.output import EXIT_ERROR, consoles, fail, finish_scan, require_installed_data, say

if TYPE_CHECKING:
    from rich.console import Console

    from toolkit.models import ScanResult
    from toolkit.pipeline import ProgressEvent, ScanOptions
    from toolkit.store import StoreCheckOptions
    from toolkit.usecases import ReportRequest

app = typer.Typer(help="Check the APKs of an app store (or a phone/firmware) for tampering and leaks.",
                  no_args_is_help=True)


def run_check(paths: list[Path], options: StoreCheckOptions, err: Console,
              on_progress: Callable[[ProgressEvent], None] | None = None) -> ScanResult:
    """run_store_check with a progress bar on `err` (and `on_progress` told too); a bad data file or Ctrl-C is one
    line and exit code 2."""
    from toolkit.cli.progress import batch_progress, interrupted_message, progress_bar
    from toolkit.store import StoreDataError, run_store_check

    with progress_bar(err) as bar:
        try:
            show = batch_progress(bar)

            def progress(event: ProgressEvent) -> None:
                show(event)
                if on_progress is not None:
                    on_progress(event)

            return run_store_check(paths, options, progress)
        except StoreDataError as exc:
            bar.stop()
            fail(err, str(exc))
        except KeyboardInterrupt:  # Ctrl-C: the same message and exit code as every other scanning command
            bar.stop()
            say(err, interrupted_message(options.scan))
            raise typer.Exit(EXIT_ERROR) from None


@app.command("check")
@options(REPORT, BATCH)
def check(
    paths: list[Path] = typer.Argument(..., metavar="APK_OR_DIR", show_default=False,
                                       help="APK files, folders of APKs, or an evidence folder (acquisition.json)"),
    reference: list[Path] = typer.Option(
        [], "--reference", "-r", metavar="APK_OR_DIR", show_default=False,
        help="Reference APKs (e.g. the developers' originals), file or folder; repeatable"),
    pins: list[Path] = typer.Option([], "--pins", metavar="FILE", show_default=False,
                                    help="Extra signer pin file (apk_rules/signers/pins.yml format); repeatable"),
    trackers: list[Path] = typer.Option([], "--trackers", metavar="FILE", show_default=False,
                                        help="Extra tracker signature file (apk_rules/trackers format); repeatable"),
    report: ReportRequest = ...,  # type: ignore[assignment]
    batch: ScanOptions = ...,  # type: ignore[assignment]
) -> None:
    """Signers, pinning, reference diff, SDKs and endpoints of every APK. Exit 0 clean, 1 findings, 2 error."""
    from toolkit.cli.report import store_summary
    from toolkit.store import StoreCheckOptions
    from toolkit.usecases import relative_to_root

    console, err = consoles()
    require_installed_data(err)
    options = StoreCheckOptions(references=reference, pin_files=pins, tracker_files=trackers, scan=batch)
    result = run_check(paths, options, err)
    if len(paths) == 1 and paths[0].is_dir():
        result = relative_to_root(result, paths[0])
    finish_scan(result, report, console, err, extra_summary=store_summary)
