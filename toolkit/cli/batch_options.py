"""Shared batch options of every scanning command: workers, result cache, memory cap, Dask cluster.

A command declares the five options below, builds its `ScanOptions` with `scan_options(...)` and analyses with
`analyse_with_progress(...)`, which shows a progress bar with rate and ETA on stderr, prints a one-line batch
summary, and turns Ctrl-C into a clean stop that says how to resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from toolkit.batch.cache import default_cache_path
from toolkit.batch.cluster import ClusterError
from toolkit.batch.local import PoolError, parse_size
from toolkit.batch.task import format_bytes
from toolkit.cli.output import EXIT_ERROR
from toolkit.models import ApkInput, ApkReport
from toolkit.pipeline import BatchStats, ProgressEvent, ScanOptions, run_batch

WORKERS_OPTION = typer.Option(0, "--workers", "-j", help="Parallel worker processes (default: number of cores)")
CACHE_OPTION = typer.Option(
    None, "--cache", help=f"Result cache file (SQLite; default {default_cache_path()})", show_default=False
)
NO_CACHE_OPTION = typer.Option(False, "--no-cache", help="Do not read or write the result cache")
SCHEDULER_OPTION = typer.Option(
    None, "--scheduler", help="Dask scheduler address (e.g. tcp://10.0.0.5:8786): analyse on that cluster"
)
MEMORY_LIMIT_OPTION = typer.Option(
    "auto", "--memory-limit", help="Memory cap per worker process: e.g. 2G, 512M; 'auto' = RAM / workers; 'none'"
)


def scan_options(
    workers: int = 0,
    cache: Path | None = None,
    no_cache: bool = False,
    scheduler: str | None = None,
    memory_limit: str = "auto",
    base: ScanOptions | None = None,
) -> ScanOptions:
    """ScanOptions from the CLI values (raises typer.BadParameter naming the option on a bad value)."""
    update: dict[str, object] = {"cache_path": cache, "no_cache": no_cache, "scheduler": scheduler or None}
    if workers > 0:
        update["workers"] = workers
    elif workers < 0:
        raise typer.BadParameter("must be 0 (number of cores) or more", param_hint="--workers")
    text = memory_limit.strip().lower()
    if text in ("none", "off", "0", "unlimited"):
        update["memory_limit"] = 0
    elif text != "auto":
        try:
            update["memory_limit"] = parse_size(memory_limit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--memory-limit") from None
        if update["memory_limit"] < 64 << 20:  # type: ignore[operator]
            raise typer.BadParameter("below 64M no analysis can run", param_hint="--memory-limit")
    return (base or ScanOptions()).model_copy(update=update)


def progress_bar(console: Console) -> Progress:
    """Bar with done/total, analysis rate (cache hits excluded), ETA and counts by status."""
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


def analyse_with_progress(inputs: Sequence[ApkInput], options: ScanOptions, err: Console) -> list[ApkReport]:
    """Analyse with a progress bar on `err`; Ctrl-C stops cleanly (exit 2) after saying how to resume."""
    with progress_bar(err) as bar:
        task = bar.add_task("Hashing APKs", total=len(inputs), rate="", eta="", counts="")

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

        try:
            result = run_batch(inputs, options, on_progress)
        except KeyboardInterrupt:
            bar.stop()
            err.print(interrupted_message(options), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
        except (ClusterError, PoolError) as exc:
            bar.stop()
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
    err.print(summary_line(result.stats), markup=False, highlight=False, soft_wrap=True)
    return result.reports


def interrupted_message(options: ScanOptions) -> str:
    """What to tell the user after Ctrl-C: resume only when a result cache kept the finished APKs."""
    if options.no_cache:
        return "interrupted: no results kept (--no-cache); run the command again to start over"
    where = options.cache_path or default_cache_path()
    return f"interrupted: finished results are saved in {where}; run the same command again to resume"


def summary_line(stats: BatchStats) -> str:
    """One line about how the batch went (stderr; the report itself does not depend on it)."""
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
