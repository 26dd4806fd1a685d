"""`phonehome device list|acquire|scan`: read-only acquisition of a phone over ADB, then analysis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from toolkit.cli.options import ADB, BATCH, REPORT, SERVER_PORT, AdbArgs, options
from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR, consoles, fail, finish_scan, require_installed_data, say

if TYPE_CHECKING:
    from rich.console import Console

    from toolkit.acquisition import adb
    from toolkit.acquisition.device import AcquireOptions, AcquisitionResult
    from toolkit.models import DeviceInventory
    from toolkit.pipeline import ScanOptions
    from toolkit.scans import EvidenceScan
    from toolkit.usecases import ReportRequest

app = typer.Typer(help="Acquire and analyse a phone over ADB (read-only).", no_args_is_help=True)

MAX_PROBLEMS_SHOWN = 5  # parse problems shown per raw output on the terminal; the report has them all


def run_acquisition(out: Path, connect: Callable[[], adb.AdbConnection], options: AcquireOptions,
                    err: Console) -> AcquisitionResult:
    """Acquire with progress bars on `err`; AdbError/EvidenceError become one sentence and exit code 2."""
    from rich.progress import BarColumn, Progress, TaskID, TextColumn

    from toolkit.acquisition import adb
    from toolkit.acquisition.device import AcquisitionProgress, acquire
    from toolkit.acquisition.evidence import EvidenceError

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[amount]}"), console=err,
                  transient=True) as bar:
        tasks: dict[str, TaskID] = {}
        sizes: dict[str, int] = {}

        def on_progress(event: AcquisitionProgress) -> None:
            if event.stage == "bytes":  # one DATA chunk of the file being pulled
                if "bytes" not in tasks:
                    tasks["bytes"] = bar.add_task("", total=None, amount="")
                item = event.item or ""
                sizes[item] = sizes.get(item, 0) + event.done
                total = f" / {_mib(event.total)}" if event.total else ""
                bar.update(tasks["bytes"], completed=sizes[item], total=event.total,
                           description=f"  {item.rsplit('/', 1)[-1]}", amount=f"{_mib(sizes[item])}{total}")
                return
            label = {"collect": "Collecting device state", "pull": "Pulling APKs"}.get(event.stage, event.stage)
            if event.stage not in tasks:
                tasks[event.stage] = bar.add_task(label, total=event.total, amount="")
            bar.update(tasks[event.stage], completed=event.done, total=event.total,
                       amount=f"{event.done}/{event.total}" if event.total is not None else str(event.done))

        try:
            result = acquire(out, connect, options, on_progress)
        except adb.AdbError as exc:
            bar.stop()
            fail(err, exc.message)
        except EvidenceError as exc:
            bar.stop()
            fail(err, str(exc))
        except OSError as exc:
            if exc.filename is None:  # not a file-system problem (e.g. a socket): not ours to explain
                raise
            bar.stop()  # e.g. --out under a file, or on a read-only or pseudo file system
            fail(err, f"{exc.filename}: cannot write the evidence folder {out}: {exc.strerror or exc}")
        except KeyboardInterrupt:
            bar.stop()
            say(err, f"interrupted: what was complete is kept in {out}; run the same command again to resume")
            raise typer.Exit(EXIT_ERROR) from None
    print_acquisition_summary(result, err)
    return result


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def print_acquisition_summary(result: AcquisitionResult, err: Console) -> None:
    m = result.manifest
    run = m.runs[-1]
    ident = m.device
    say(err, f"device: {ident.brand or '?'} {ident.model or '?'} (serial {ident.serial or m.serial}, Android "
             f"{ident.android_version or '?'}, patch {ident.security_patch or '?'}) via {m.transport}")
    say(err, f"acquired into {result.folder}: {len(m.commands)} commands, {run.pulled} APKs pulled, "
             f"{run.reused} already complete, {run.failed} not readable")
    for f in m.unreadable:
        say(err, f"  not pulled: {f.device_path}: {f.reason}")
    for c in m.commands:
        if c.error:
            say(err, f"  command failed: {c.command}: {c.error}")
    if not m.complete:
        say(err, "acquisition incomplete: run the same command again to resume (complete files are kept)")


def print_device_facts(inventory: DeviceInventory | None, console: Console) -> None:
    from toolkit.findings.facts import device_facts

    facts = device_facts(inventory)
    if facts:
        say(console, "what the phone showed at acquisition:")
        for fact in facts:
            say(console, f"  - {fact}")


def print_parse_problems(inventory: DeviceInventory | None, err: Console) -> None:
    """The first few parse problems of each raw output (the report lists them all)."""
    by_source: dict[str, int] = {}
    for p in inventory.parse_problems if inventory else []:
        by_source[p.source] = by_source.get(p.source, 0) + 1
        if by_source[p.source] <= MAX_PROBLEMS_SHOWN:
            say(err, f"warning: {p}")
    for source, count in by_source.items():
        if count > MAX_PROBLEMS_SHOWN:
            say(err, f"warning: {source}: {count - MAX_PROBLEMS_SHOWN} more problem(s), listed in the report's "
                     "inventory.parse_problems")


def scan_evidence(folder: Path, target_kind: Literal["device", "evidence"], options: ScanOptions,
                  err: Console) -> EvidenceScan:
    """Analyse an evidence folder offline with progress on `err` (used by `device scan` and `evidence scan`)."""
    from toolkit.acquisition.evidence import EvidenceError
    from toolkit.cli.progress import analyse_with_progress
    from toolkit.scans import scan_evidence_folder

    try:
        scan = scan_evidence_folder(folder, target_kind, options,
                                    analyse=lambda inputs: analyse_with_progress(inputs, options, err))
    except EvidenceError as exc:
        fail(err, str(exc))
    # Integrity problems are error-level input errors of the result: finish_scan reports them with the rest.
    print_parse_problems(scan.result.inventory, err)
    return scan


@app.command("list")
def list_devices(server_port: int | None = SERVER_PORT.info) -> None:
    """List phones seen over USB and by a running adb server."""
    from rich.table import Table
    from rich.text import Text

    from toolkit.acquisition import adb
    from toolkit.text import printable

    console, err = consoles()
    entries = adb.list_devices(server_port)
    if not entries:
        say(err, "no device found: plug the phone in and enable USB debugging "
                 "(or use --tcp HOST:PORT with `device scan` or `device acquire`)")
        raise typer.Exit(EXIT_CLEAN)
    table = Table(title="devices")
    for column in ("serial", "state", "path", "model"):
        table.add_column(column)
    for e in entries:
        # What the phone reports (serial, model) as text: not rich markup, no control sequences.
        table.add_row(*(Text(printable(v)) for v in (e.serial, e.state, e.transport, e.model or "")))
    console.print(table)


@app.command("acquire")
@options(ADB)
def acquire_cmd(
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Evidence folder (created; an existing one is resumed)"),
    phone: AdbArgs = ...,  # type: ignore[assignment]
) -> None:
    """Collect device state and APKs into an evidence folder. Never changes the phone. Exit 0 complete, 2 error."""
    _, err = consoles()
    result = run_acquisition(out, phone.connector(), phone.acquire_options(), err)
    raise typer.Exit(EXIT_CLEAN if result.manifest.complete else EXIT_ERROR)


@app.command("scan")
@options(ADB, REPORT, BATCH)
def scan_cmd(
    out: Path | None = typer.Option(None, "--out", metavar="DIR", show_default=False,
                                    help="Evidence folder; when not given: ./phonehome-evidence-<UTC time>"),
    phone: AdbArgs = ...,  # type: ignore[assignment]
    report: ReportRequest = ...,  # type: ignore[assignment]
    batch: ScanOptions = ...,  # type: ignore[assignment]
) -> None:
    """Acquire the phone, then analyse the evidence. Exit code: 0 nothing found, 1 findings, 2 error."""
    from datetime import UTC, datetime

    from toolkit.usecases import relative_to_root

    console, err = consoles()
    require_installed_data(err)
    out = out or Path(f"phonehome-evidence-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    run_acquisition(out, phone.connector(), phone.acquire_options(), err)
    result = scan_evidence(out, "device", batch, err).result
    print_device_facts(result.inventory, err)
    finish_scan(relative_to_root(result, out), report, console, err)
