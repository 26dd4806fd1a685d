"""Progress on stderr while a batch of APKs is analysed: bar with rate and ETA, a one-line batch summary, and
Ctrl-C turned into a clean stop that says how to resume."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import typer

from toolkit.cli.output import EXIT_ERROR, say

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from toolkit.models import ApkInput, ApkReport
    from toolkit.pipeline import BatchStats, ProgressEvent, ScanOptions


def progress_bar(console: Console) -> Progress:
    """Bar with done/total, analysis rate (cache hits excluded), ETA and counts by status."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.fields[counts]}", style="dim"),
        console=console,
        transient=True,
    )


def batch_progress(bar: Progress) -> Callable[[ProgressEvent], None]:
    """A progress callback that drives `bar` (hashing first, then analysis with rate, ETA and cache hits)."""
    task = bar.add_task("Hashing APKs", total=None, rate="", eta="", counts="")

    def on_progress(event: ProgressEvent) -> None:
        if event.stage != "analyse":
            bar.update(task, completed=event.done, total=event.total)
            return
        counts = ", ".join(f"{n} {s}" for s, n in sorted(event.counts.items()))
        if event.cached:
            counts += f" ({event.cached} from cache)"
        bar.update(
            task,
            description="Analysing APKs",
            completed=event.done,
            total=event.total,
            rate=f"{event.rate:.1f} APK/s" if event.rate else "",
            eta=f"ETA {_duration(event.eta_seconds)}" if event.eta_seconds is not None else "",
            counts=counts,
        )

    return on_progress


def analyse_with_progress(inputs: Sequence[ApkInput], options: ScanOptions, err: Console) -> list[ApkReport]:
    """Analyse with a progress bar on `err`; Ctrl-C stops cleanly (exit 2) after saying how to resume."""
    from toolkit.batch.cluster import ClusterError
    from toolkit.batch.local import PoolError
    from toolkit.pipeline import run_batch

    with progress_bar(err) as bar:
        try:
            result = run_batch(inputs, options, batch_progress(bar))
        except KeyboardInterrupt:
            bar.stop()
            say(err, interrupted_message(options))
            raise typer.Exit(EXIT_ERROR) from None
        except (ClusterError, PoolError) as exc:
            bar.stop()
            say(err, f"error: {exc}")
            raise typer.Exit(EXIT_ERROR) from None
    say(err, summary_line(result.stats))
    return result.reports


def interrupted_message(options: ScanOptions) -> str:
    """What to tell the user after Ctrl-C: resume only when a result cache kept the finished APKs."""
    from toolkit.batch.cache import default_cache_path

    if options.no_cache:
        return "interrupted: no results kept (--no-cache); run the command again to start over"
    where = options.cache_path or default_cache_path()
    return f"interrupted: finished results are saved in {where}; run the same command again to resume"


def summary_line(stats: BatchStats) -> str:
    """One line about how the batch went (stderr; the report itself does not depend on it)."""
    from toolkit.batch.task import format_bytes

    rate = f" ({stats.analysed / stats.seconds:.1f}/s)" if stats.analysed and stats.seconds else ""
    counts = ", ".join(f"{n} {s}" for s, n in sorted(stats.counts.items())) or "nothing"
    parts = [f"batch: {stats.inputs} APKs in {stats.seconds:.1f} s: {counts}"]
    parts.append(f"{stats.analysed} analysed now{rate}, {stats.from_cache} from cache")
    if stats.duplicates:
        parts.append(f"{stats.duplicates} duplicate contents")
    if stats.failures:
        parts.append("worker failures: " + ", ".join(f"{n} {k}" for k, n in sorted(stats.failures.items())))
    if stats.worker_peak_rss:
        parts.append(f"peak worker memory {format_bytes(max(stats.worker_peak_rss.values()))}")
    if stats.cache_problem:
        parts.append(f"cache not used: {stats.cache_problem}")
    return "; ".join(parts)


def _duration(seconds: float) -> str:
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
