"""`phonehome device list|acquire|scan`: read-only acquisition of a phone over ADB, then analysis."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from toolkit.acquisition import adb
from toolkit.acquisition.device import AcquireOptions, AcquisitionProgress, AcquisitionResult, acquire
from toolkit.acquisition.evidence import EvidenceError
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
    EXIT_CLEAN,
    EXIT_ERROR,
    FAIL_ON_OPTION,
    FORMAT_OPTION,
    IOCS_OPTION,
    OUTPUT_OPTION,
    ReportArgs,
    finish_scan,
)
from toolkit.inventory import printable
from toolkit.models import DeviceInventory, Severity
from toolkit.pipeline import ScanOptions
from toolkit.scans import EvidenceScan, scan_evidence_folder

app = typer.Typer(help="Acquire and analyse a phone over ADB (read-only).", no_args_is_help=True)

MAX_PROBLEMS_SHOWN = 5  # parse problems shown per raw output on the terminal; the report has them all


class ApkChoice(str, Enum):
    system = "system"
    user = "user"
    all = "all"
    none = "none"


SERIAL_OPTION = typer.Option(None, "--serial", "-s", help="Device serial (needed when several are connected)")
TCP_OPTION = typer.Option(None, "--tcp", help="Connect over TCP to HOST:PORT (adb tcpip) instead of USB")
SERVER_OPTION = typer.Option(
    None, "--adb-server/--no-adb-server",
    help="Force (or forbid) going through a running adb server; default: only when USB is busy/unavailable")
SERVER_PORT_OPTION = typer.Option(None, "--adb-server-port", help="adb server port; when not given: $ANDROID_ADB_SERVER_PORT, else 5037")
AUTH_TIMEOUT_OPTION = typer.Option(30.0, "--auth-timeout", help="Seconds to wait for the user to tap Allow")
KEY_OPTION = typer.Option(None, "--key", help="adb private key; when not given: ~/.android/adbkey, created if missing")
APKS_OPTION = typer.Option(ApkChoice.all, "--apks", help="Which APKs to pull: system, user, all or none")
RETRIES_OPTION = typer.Option(3, "--retries", help="Extra attempts after a transient failure (disconnect, timeout)")
MAX_PACKAGES_OPTION = typer.Option(20_000, "--max-packages", min=0,
                                   help="Most APK files pulled in one run (a phone listing more is acquired partially)")
DEVICE_HASH_OPTION = typer.Option(False, "--device-hash",
                                  help="Also hash each APK on the phone (sha256sum) and check the copy against it")


def _say(err: Console, text: str) -> None:
    # Package names, settings and reasons come from the phone: no control sequence reaches the terminal.
    err.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def connector(serial: str | None, tcp: str | None, use_server: bool | None, server_port: int | None,
              auth_timeout: float, key: Path | None) -> Callable[[], adb.AdbConnection]:
    """A function that (re)connects the way the user asked; the acquisition calls it again after a disconnect."""

    def connect() -> adb.AdbConnection:
        return adb.connect(serial=serial, tcp=tcp, use_server=use_server, key_path=key, auth_timeout=auth_timeout,
                           server_port_=server_port)

    return connect


def run_acquisition(out: Path, connect: Callable[[], adb.AdbConnection], options: AcquireOptions,
                    err: Console) -> AcquisitionResult:
    """Acquire with progress bars on `err`; AdbError/EvidenceError become one sentence and exit code 2."""
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
            _say(err, f"error: {exc.message}")
            raise typer.Exit(EXIT_ERROR) from None
        except EvidenceError as exc:
            bar.stop()
            _say(err, f"error: {exc}")
            raise typer.Exit(EXIT_ERROR) from None
        except OSError as exc:
            if exc.filename is None:  # not a file-system problem (e.g. a socket): not ours to explain
                raise
            bar.stop()  # e.g. --out under a file, or on a read-only or pseudo file system
            _say(err, f"error: {exc.filename}: cannot write the evidence folder {out}: {exc.strerror or exc}")
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            bar.stop()
            _say(err, f"interrupted: what was complete is kept in {out}; run the same command again to resume")
            raise typer.Exit(EXIT_ERROR) from None
    print_acquisition_summary(result, err)
    return result


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def print_acquisition_summary(result: AcquisitionResult, err: Console) -> None:
    m = result.manifest
    run = m.runs[-1]
    ident = m.device
    _say(err, f"device: {ident.brand or '?'} {ident.model or '?'} (serial {ident.serial or m.serial}, Android "
              f"{ident.android_version or '?'}, patch {ident.security_patch or '?'}) via {m.transport}")
    _say(err, f"acquired into {result.folder}: {len(m.commands)} commands, {run.pulled} APKs pulled, "
              f"{run.reused} already complete, {run.failed} not readable")
    for f in m.unreadable:
        _say(err, f"  not pulled: {f.device_path}: {f.reason}")
    bad = [c for c in m.commands if c.error]
    for c in bad:
        _say(err, f"  command failed: {c.command}: {c.error}")
    if not m.complete:
        _say(err, "acquisition incomplete: run the same command again to resume (complete files are kept)")


def device_facts(inv: DeviceInventory) -> list[str]:
    """What the phone itself shows, beside the APK analysis: sockets, alarms, opt-in settings."""
    facts = []
    for s in inv.sockets:
        if s.is_remote and s.state == "ESTABLISHED":
            owners = ", ".join(s.packages) or f"uid {s.uid}"
            country = f", address registered in {s.remote_country}" if s.remote_country else ""
            facts.append(f"live {s.protocol} connection {s.local_address}:{s.local_port} -> "
                         f"{s.remote_address}:{s.remote_port} owned by {owners} (uid {s.uid}){country}")
    for a in inv.alarms:
        if a.interval_seconds:
            facts.append(f"alarm of {a.package} repeats every {a.interval_seconds:g} s ({a.type}, {a.tag or ''})")
    for j in inv.jobs:
        if j.periodic and j.interval_seconds:
            facts.append(f"job {j.service} runs every {j.interval_seconds:g} s")
    for st in inv.settings:
        if "optin" in st.key.lower() or "opt_in" in st.key.lower():
            facts.append(f"setting {st.namespace} {st.key}={st.value}")
    for p in inv.packages:
        if p.is_updated_system:
            facts.append(f"{p.name} is an updated system app: factory copy in {p.factory_code_path}, "
                         f"update in {', '.join(p.apk_paths)}")
    return facts


def print_device_facts(inventory: DeviceInventory | None, console: Console) -> None:
    facts = device_facts(inventory or DeviceInventory())
    if facts:
        _say(console, "what the phone showed at acquisition:")
        for fact in facts:
            _say(console, f"  - {fact}")


def scan_evidence(folder: Path, target_kind: Literal["device", "evidence"], options: ScanOptions,
                  err: Console) -> EvidenceScan:
    """Analyse an evidence folder offline with progress on `err` (used by `device scan`, `evidence scan`, `demo`)."""
    try:
        scan = scan_evidence_folder(folder, target_kind, options,
                                    analyse=lambda inputs: analyse_with_progress(inputs, options, err))
    except EvidenceError as exc:
        _say(err, f"error: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    # Integrity problems are error-level input errors of the result: finish_scan reports them with the rest.
    inventory = scan.result.inventory or DeviceInventory()
    by_source: dict[str, int] = {}
    for p in inventory.parse_problems:
        by_source[p.source] = by_source.get(p.source, 0) + 1
        if by_source[p.source] <= MAX_PROBLEMS_SHOWN:
            _say(err, f"warning: {p}")
    for source, count in by_source.items():
        if count > MAX_PROBLEMS_SHOWN:
            _say(err, f"warning: {source}: {count - MAX_PROBLEMS_SHOWN} more problem(s), listed in the report's "
                      "inventory.parse_problems")
    return scan


@app.command("list")
def list_devices(server_port: int | None = SERVER_PORT_OPTION) -> None:
    """List phones seen over USB and by a running adb server."""
    console = Console()
    entries = adb.list_devices(server_port)
    if not entries:
        _say(Console(stderr=True), "no device found: plug the phone in and enable USB debugging "
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
def acquire_cmd(
    out: Path = typer.Option(..., "--out", help="Evidence folder (created; an existing one is resumed)"),
    serial: str | None = SERIAL_OPTION,
    tcp: str | None = TCP_OPTION,
    apks: ApkChoice = APKS_OPTION,
    use_server: bool | None = SERVER_OPTION,
    server_port: int | None = SERVER_PORT_OPTION,
    auth_timeout: float = AUTH_TIMEOUT_OPTION,
    key: Path | None = KEY_OPTION,
    retries: int = RETRIES_OPTION,
    device_hash: bool = DEVICE_HASH_OPTION,
    max_packages: int = MAX_PACKAGES_OPTION,
) -> None:
    """Collect device state and APKs into an evidence folder. Never changes the phone. Exit 0 complete, 2 error."""
    err = Console(stderr=True)
    result = run_acquisition(out, connector(serial, tcp, use_server, server_port, auth_timeout, key),
                             AcquireOptions(apks=apks.value, retries=retries, device_hash=device_hash, max_packages=max_packages), err)
    raise typer.Exit(EXIT_CLEAN if result.manifest.complete else EXIT_ERROR)


@app.command("scan")
def scan_cmd(
    out: Path | None = typer.Option(None, "--out", help="Evidence folder; when not given: ./phonehome-evidence-<UTC time>"),
    serial: str | None = SERIAL_OPTION,
    tcp: str | None = TCP_OPTION,
    apks: ApkChoice = APKS_OPTION,
    use_server: bool | None = SERVER_OPTION,
    server_port: int | None = SERVER_PORT_OPTION,
    auth_timeout: float = AUTH_TIMEOUT_OPTION,
    key: Path | None = KEY_OPTION,
    retries: int = RETRIES_OPTION,
    device_hash: bool = DEVICE_HASH_OPTION,
    max_packages: int = MAX_PACKAGES_OPTION,
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
    """Acquire the phone, then analyse the evidence. Exit code: 0 nothing found, 1 findings, 2 error."""
    console, err = Console(), Console(stderr=True)
    options = scan_options(workers, cache, no_cache, scheduler, memory_limit)
    out = out or Path(f"phonehome-evidence-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    run_acquisition(out, connector(serial, tcp, use_server, server_port, auth_timeout, key),
                    AcquireOptions(apks=apks.value, retries=retries, device_hash=device_hash, max_packages=max_packages), err)
    result = scan_evidence(out, "device", options, err).result
    print_device_facts(result.inventory, err)
    finish_scan(result, ReportArgs(formats, output, iocs, baseline, fail_on), console, err)
