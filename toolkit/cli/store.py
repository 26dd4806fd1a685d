"""`phonehome store check DIR_OR_EVIDENCE [--reference REF_DIR]`: is each app genuine, what was added, where it
talks to. Thin: parses options, calls toolkit.store.run_store_check, shows the store summary, then the shared
report plumbing (formats, IOCs, baseline, exit code)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from toolkit.cli.batch_options import (
    CACHE_OPTION,
    MEMORY_LIMIT_OPTION,
    NO_CACHE_OPTION,
    SCHEDULER_OPTION,
    WORKERS_OPTION,
    interrupted_message,
    progress_bar,
    scan_options,
)
from toolkit.cli.output import (
    BASELINE_OPTION,
    EXIT_ERROR,
    FAIL_ON_OPTION,
    FORMAT_OPTION,
    IOCS_OPTION,
    OUTPUT_OPTION,
    OutputFormat,
    ReportArgs,
    finish_scan,
)
from toolkit.inventory import printable
from toolkit.models import Severity
from toolkit.models.store import StoreCheckResult
from toolkit.pipeline import ProgressEvent
from toolkit.store import StoreCheckOptions, StoreDataError, run_store_check

app = typer.Typer(help="Check the APKs of an app store (or a phone/firmware) for tampering and leaks.",
                  no_args_is_help=True)

_VERDICT_STYLE = {"tampered": "bold red", "suspicious": "yellow", "unreadable": "red", "genuine": "green",
                  "unverified": "dim"}


@app.command("check")
def check(
    paths: list[Path] = typer.Argument(..., help="APK files, folders of APKs, or an evidence folder (acquisition.json)"),
    reference: list[Path] = typer.Option(
        [], "--reference", "-r", help="Reference APKs (e.g. the developers' originals), file or folder; repeatable"
    ),
    pins: list[Path] = typer.Option([], "--pins", help="Extra signer pin file (apk_rules/signers/pins.yml format)"),
    trackers: list[Path] = typer.Option([], "--trackers", help="Extra tracker signature file (apk_rules/trackers format)"),
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
    """Signers, pinning, reference diff, SDKs and endpoints of every APK. Exit 0 clean, 1 findings, 2 error."""
    console, err = Console(), Console(stderr=True)
    options = StoreCheckOptions(
        references=reference, pin_files=pins, tracker_files=trackers,
        scan=scan_options(workers, cache, no_cache, scheduler, memory_limit),
    )
    with progress_bar(err) as bar:
        task = bar.add_task("Analysing APKs", total=None, rate="", eta="", counts="")

        def on_progress(event: ProgressEvent) -> None:
            bar.update(task, completed=event.done, total=event.total)

        try:
            result = run_store_check(paths, options, on_progress)
        except StoreDataError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:  # Ctrl-C: the same message and exit code as every other scanning command
            bar.stop()
            err.print(interrupted_message(options.scan), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
    if result.store is not None and OutputFormat.terminal.value in formats and output is None:
        console.print(Group(*render_store_summary(result.store)))
    finish_scan(result, ReportArgs(formats, output, iocs, baseline, fail_on), console, err)


def render_store_summary(store: StoreCheckResult) -> list[RenderableType]:
    """Tables of verdicts, reference differences, SDKs and endpoints (terminal only; JSON carries everything)."""
    parts: list[RenderableType] = []
    # Every column folds: an ellipsis would cut package names and URLs, the very evidence this table is for.
    verdicts = Table(title="Signers", title_justify="left")
    verdicts.add_column("package / why", overflow="fold")
    verdicts.add_column("verdict", no_wrap=True)
    verdicts.add_column("schemes", no_wrap=True)
    verdicts.add_column("signer (SHA-256)", no_wrap=True)
    for c in store.signer_checks:
        verdicts.add_row(
            _stacked(c.package or Path(c.apk_path).name, "; ".join(c.verdict.reasons + c.problems)),
            Text(c.verdict.verdict, style=_VERDICT_STYLE[c.verdict.verdict]),
            _cell(",".join(c.schemes) or "-"), _cell("\n".join(d[:16] + "…" for d in c.certificates) or "-"),
        )
    parts.append(verdicts)
    if store.platform_source:
        parts.append(_cell(f"Platform key from {store.platform_source}: {', '.join(store.platform_certificates)}"))
    for diff in store.reference_diffs:
        if diff.identical:
            parts.append(_cell(f"{diff.package}: identical to reference {diff.reference_apk}", style="green"))
            continue
        table = Table(title=_cell(f"{diff.package}: store copy vs reference {Path(diff.reference_apk).name}"),
                      title_justify="left")
        table.add_column("what", overflow="fold")
        table.add_column("difference", overflow="fold")
        table.add_row("signer", _cell("same" if diff.same_signer else
                      f"store {', '.join(diff.store_signers)}\nreference {', '.join(diff.reference_signers)}"))
        table.add_row("version", _cell(f"{diff.store_version} / reference {diff.reference_version}"))
        for name, values in (
            ("permissions added", diff.permissions_added),
            ("components added", [f"{c.kind} {c.name}" for c in diff.components_added]),
            ("boot triggers added", diff.boot_triggers_added),
            ("code added", [f"{c.package}: {c.classes} classes" + (f" ({c.sdk})" if c.sdk else "") for c in diff.code_added]),
            ("endpoints added", [e.value for e in diff.endpoints_added]),
            ("flows only in store copy", [f"{f.source} -> {f.sink} ({f.sink_method})" for f in diff.flows_added]),
            ("problems", diff.problems),
        ):
            if values:
                table.add_row(name, _cell("\n".join(values)))
        parts.append(table)
    if store.without_reference:
        parts.append(_cell(f"No reference APK for: {', '.join(store.without_reference)}", style="dim"))
    if store.reference_unused:  # a reference that matched nothing (other package, or unreadable) compared nothing
        parts.append(_cell(f"Reference APKs that matched no store APK: {', '.join(store.reference_unused)}",
                           style="yellow"))
    if store.trackers:
        table = Table(title=f"SDKs and trackers ({store.trackers_version})", title_justify="left")
        for column in ("package", "SDK", "categories", "classes", "hosts", "on a leak flow"):
            table.add_column(column, overflow="fold")
        for hit in store.trackers:
            table.add_row(_cell(hit.package or "-"), _cell(hit.name), _cell(", ".join(hit.categories)),
                          str(hit.matched_classes), _cell(", ".join(hit.matched_hosts) or "-"),
                          _cell("yes: " + ", ".join(hit.flow_ids), style="red") if hit.on_leak_flow else Text("no"))
        parts.append(table)
    endpoints = Table(title=f"Endpoints (countries: {store.geo_database})", title_justify="left")
    endpoints.add_column("endpoint / package: kind, country, found in", overflow="fold")
    endpoints.add_column("used by flows", overflow="fold")
    for app_endpoints in store.endpoints:
        for use in app_endpoints.endpoints:
            e = use.endpoint
            kind = e.kind + (" (hard-coded IP)" if e.hard_coded_ip and e.kind != "ip" else "")
            where = f"{app_endpoints.package or '-'}: {kind}, {e.country or 'country unknown'}, {', '.join(e.found_in) or '-'}"
            endpoints.add_row(_stacked(e.value, where), _cell("\n".join(use.flow_ids) or "-"))
    parts.append(endpoints)
    return parts


def _stacked(first: str, second: str) -> Text:
    """Two app strings in one cell, the second dimmed below: readable at 80 columns without cutting either."""
    text = _cell(first)
    if second:
        text.append("\n").append_text(_cell(second, style="dim"))
    return text


def _cell(text: str, style: str = "") -> Text:
    """Text from an APK (package names, URL constants, reasons) as it is: no rich markup ('[/]' in a URL would
    raise), no control sequences reaching the terminal."""
    return Text("\n".join(printable(line) for line in text.split("\n")), style=style)
