"""Options shared by several commands, declared once.

A command takes a group with a decorator and receives one object instead of ten parameters:

    @app.command("scan")
    @options(REPORT, BATCH)
    def scan(paths: list[Path] = ..., report: ReportRequest = ..., batch: ScanOptions = ...) -> None:

The decorator adds the group's options to the signature typer reads, and builds the object (ReportRequest,
ScanOptions, AdbArgs) from them when the command runs. This module is imported by `phonehome --help`: it imports
nothing heavy (the library is imported inside the builders and callbacks).
"""

from __future__ import annotations

import functools
import inspect
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from toolkit.report import FORMATS

if TYPE_CHECKING:
    from toolkit.acquisition import adb
    from toolkit.acquisition.device import AcquireOptions
    from toolkit.pipeline import ScanOptions
    from toolkit.usecases import ReportRequest


class SeverityChoice(str, Enum):
    """The severities of toolkit.models.Severity (kept here so --help does not import the models)."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ApkChoice(str, Enum):
    system = "system"
    user = "user"
    all = "all"
    none = "none"


@dataclass(frozen=True)
class Opt:
    """One option of a group: parameter name, Python type, typer declaration."""

    name: str
    annotation: Any
    info: Any


@dataclass(frozen=True)
class OptionGroup:
    """Options that always travel together, and the function that turns their values into one object."""

    param: str  # name of the command's parameter that receives the object
    opts: tuple[Opt, ...]
    build: Callable[..., Any]


def options(*groups: OptionGroup) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: add the groups' options to a command; it receives one built object per group."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        own = [p for name, p in signature.parameters.items() if name not in {g.param for g in groups}]
        added = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.info, annotation=o.annotation)
                 for g in groups for o in g.opts]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            for g in groups:
                kwargs[g.param] = g.build(**{o.name: kwargs.pop(o.name) for o in g.opts})
            return func(**kwargs)

        command.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        # typer resolves the command's own annotations; the added ones are real types already.
        command.__annotations__ = {k: v for k, v in func.__annotations__.items() if k not in {g.param for g in groups}}
        return command

    return decorate


# ---- report options: --format, --output, --iocs, --baseline, --fail-on --------------------------------------------

def check_formats(values: list[str]) -> list[str]:
    names = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad:
        raise typer.BadParameter(f"unknown format {', '.join(bad)} (choose from {', '.join(FORMATS)})")
    return names


def _check_iocs(values: list[Path]) -> list[Path]:
    if values:
        from toolkit.findings import IndicatorFileError, load_indicator_files

        try:
            load_indicator_files(values)
        except IndicatorFileError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return values


def _check_baseline(value: Path | None) -> Path | None:
    if value is not None:
        from toolkit.findings import BaselineError, load_baseline

        try:
            load_baseline(value)
        except BaselineError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


def check_writable(value: Path | None) -> Path | None:
    """Refuse an output path that cannot be written before a long scan starts, not after it (the result would be
    lost)."""
    if value is None or value.is_file():
        return value  # a file: one format overwrites it; several are refused with the reason when writing
    ancestor = value
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise typer.BadParameter(f"{value}: cannot be created: {ancestor} is a file, not a folder")
    try:  # the real test of writability (permissions, read-only mounts, /proc ...): create and remove a probe
        with tempfile.TemporaryFile(dir=ancestor, prefix=".phonehome-probe-"):
            pass
    except OSError as exc:
        raise typer.BadParameter(f"{value}: cannot write in {ancestor}: {exc.strerror or exc}") from exc
    return value


def _report_request(formats: list[str], output: Path | None, iocs: list[Path], baseline: Path | None,
                    fail_on: SeverityChoice) -> ReportRequest:
    from toolkit.models import Severity
    from toolkit.usecases import ReportRequest

    files = [f for f in dict.fromkeys(check_formats(formats)) if f != "terminal"]
    if output is None and len(files) > 1:  # said before the scan, not after it
        raise typer.BadParameter(f"{len(files)} formats ({', '.join(files)}) need an output folder: add --output DIR",
                                 param_hint="'--format'")
    return ReportRequest(formats=formats, output=output, iocs=iocs, baseline=baseline, fail_on=Severity(fail_on.value))


REPORT = OptionGroup("report", (
    Opt("formats", list[str], typer.Option(
        ["terminal"], "--format", "-f", callback=check_formats, metavar="FORMAT",
        help=f"Report format: {', '.join(f'{name} ({f.blurb})' for name, f in FORMATS.items())}; repeat or "
             "comma-separate for several (written into the --output folder)")),
    Opt("output", Path | None, typer.Option(
        None, "--output", "-o", callback=check_writable, metavar="PATH", show_default=False,
        help="Report file (one format) or folder (several formats); default: the terminal")),
    Opt("iocs", list[Path], typer.Option(
        [], "--iocs", callback=_check_iocs, metavar="FILE|DIR", show_default=False,
        help="STIX 2.1 indicator file, or folder of .stix2/.json files, to match (e.g. MVT's); repeatable")),
    Opt("baseline", Path | None, typer.Option(
        None, "--baseline", callback=_check_baseline, metavar="FILE", show_default=False,
        help="Baseline file of reviewed findings to suppress (from `phonehome baseline create`)")),
    Opt("fail_on", SeverityChoice, typer.Option(
        SeverityChoice.info, "--fail-on", metavar="SEVERITY",
        help="Lowest severity that makes the exit code 1: info, low, medium, high or critical")),
), _report_request)


# ---- batch options: --workers, --cache, --no-cache, --scheduler, --memory-limit --------------------------------

def scan_options(workers: int = 0, cache: Path | None = None, no_cache: bool = False, scheduler: str | None = None,
                 memory_limit: str = "auto", base: ScanOptions | None = None) -> ScanOptions:
    """ScanOptions from the CLI values (raises typer.BadParameter naming the option on a bad value)."""
    from toolkit.batch.local import parse_size
    from toolkit.pipeline import ScanOptions

    update: dict[str, object] = {"cache_path": cache, "no_cache": no_cache, "scheduler": scheduler or None}
    if workers > 0:
        update["workers"] = workers
    elif workers < 0:
        raise typer.BadParameter("must be 0 (one per core) or more", param_hint="--workers")
    text = memory_limit.strip().lower()
    if text in ("none", "off", "0", "unlimited"):
        update["memory_limit"] = 0
    elif text != "auto":
        try:
            limit = parse_size(memory_limit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--memory-limit") from None
        if limit < 64 << 20:
            raise typer.BadParameter("below 64M no analysis can run", param_hint="--memory-limit")
        update["memory_limit"] = limit
    return (base or ScanOptions()).model_copy(update=update)


WORKERS = Opt("workers", int, typer.Option(0, "--workers", "-j", metavar="N", show_default=False,
                                           help="Parallel worker processes (default: one per core)"))
BATCH = OptionGroup("batch", (
    WORKERS,
    Opt("cache", Path | None, typer.Option(
        None, "--cache", metavar="FILE", show_default=False,
        help="Result cache (SQLite; default $XDG_CACHE_HOME/phonehome/results.sqlite3, else ~/.cache/...)")),
    Opt("no_cache", bool, typer.Option(False, "--no-cache", metavar="", show_default=False,
                                       help="Do not read or write the result cache")),
    Opt("scheduler", str | None, typer.Option(
        None, "--scheduler", metavar="ADDRESS", show_default=False,
        help="Dask scheduler address (e.g. tcp://10.0.0.5:8786): analyse on that cluster")),
    Opt("memory_limit", str, typer.Option(
        "auto", "--memory-limit", metavar="SIZE",
        help="Memory cap per worker process: e.g. 2G, 512M; 'auto' = RAM / workers; 'none'")),
), scan_options)


# ---- ADB options: how to reach the phone and what to acquire -------------------------------------------------

@dataclass(frozen=True)
class AdbArgs:
    serial: str | None
    tcp: str | None
    use_server: bool | None
    server_port: int | None
    auth_timeout: float
    key: Path | None
    retries: int
    device_hash: bool
    apks: ApkChoice
    max_packages: int

    def connector(self) -> Callable[[], adb.AdbConnection]:
        """A function that (re)connects the way the user asked; the acquisition calls it again after a disconnect."""
        from toolkit.acquisition import adb

        def connect() -> adb.AdbConnection:
            return adb.connect(serial=self.serial, tcp=self.tcp, use_server=self.use_server, key_path=self.key,
                               auth_timeout=self.auth_timeout, server_port_=self.server_port)

        return connect

    def acquire_options(self) -> AcquireOptions:
        from toolkit.acquisition.device import AcquireOptions

        return AcquireOptions(apks=self.apks.value, retries=self.retries, device_hash=self.device_hash,
                              max_packages=self.max_packages)


SERVER_PORT = Opt("server_port", int | None, typer.Option(
    None, "--adb-server-port", metavar="PORT", show_default=False,
    help="adb server port; when not given: $ANDROID_ADB_SERVER_PORT, else 5037"))
ADB = OptionGroup("phone", (
    Opt("serial", str | None, typer.Option(None, "--serial", "-s", metavar="SERIAL", show_default=False,
                                           help="Device serial (needed when several are connected)")),
    Opt("tcp", str | None, typer.Option(None, "--tcp", metavar="HOST:PORT", show_default=False,
                                        help="Connect over TCP (adb tcpip) instead of USB")),
    Opt("apks", ApkChoice, typer.Option(ApkChoice.all, "--apks", metavar="WHICH",
                                        help="Which APKs to pull: system, user, all or none")),
    Opt("use_server", bool | None, typer.Option(
        None, "--adb-server/--no-adb-server", show_default=False,
        help="Force (or forbid) going through a running adb server; default: only when USB is busy/unavailable")),
    SERVER_PORT,
    Opt("auth_timeout", float, typer.Option(30.0, "--auth-timeout", metavar="SECONDS",
                                            help="Seconds to wait for the user to tap Allow")),
    Opt("key", Path | None, typer.Option(None, "--key", metavar="FILE", show_default=False,
                                         help="adb private key; when not given: ~/.android/adbkey, created if missing")),
    Opt("retries", int, typer.Option(3, "--retries", metavar="N",
                                     help="Extra attempts after a transient failure (disconnect, timeout)")),
    Opt("device_hash", bool, typer.Option(False, "--device-hash", metavar="", show_default=False,
                                          help="Also hash each APK on the phone (sha256sum) and check the copy")),
    Opt("max_packages", int, typer.Option(20_000, "--max-packages", min=0, metavar="N",
                                          help="Most APK files pulled in one run (a phone listing more is acquired "
                                               "partially)")),
), AdbArgs)
