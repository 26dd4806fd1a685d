"""The `phonehome` command."""

from __future__ import annotations

import importlib
import logging
import signal

import typer
from rich.console import Console
from rich.table import Table

from toolkit import __version__
from toolkit.cli import apk
from toolkit.cli.doctor import run_checks
from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR
from toolkit.report.json_report import result_schema

app = typer.Typer(
    name="phonehome",
    help="Find out whether an Android phone or its preinstalled software sends people's data away, and prove it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(apk.app, name="apk")

# Sub-commands that live in their own modules (phone, firmware, store ...). Each module exposes `app` (a typer
# group) or a command function named after the module.
_GROUPS = {
    "device": "Acquire and analyse a phone over ADB (read-only).",
    "evidence": "Re-analyse an evidence folder offline.",
    "firmware": "Unpack and analyse vendor firmware images offline.",
    "store": "Check the APKs of an app store for tampering and leaks.",
    "baseline": "Manage baselines of reviewed findings.",
    "report": "Render a saved JSON report again.",
}
_COMMANDS = {"demo": "demo"}


def _register() -> None:
    for name in _GROUPS:
        try:
            module = importlib.import_module(f"toolkit.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"toolkit.cli.{name}":
                raise
            continue
        app.add_typer(module.app, name=name)
    for module_name, function in _COMMANDS.items():
        try:
            module = importlib.import_module(f"toolkit.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"toolkit.cli.{module_name}":
                raise
            continue
        app.command(module_name)(getattr(module, function))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"phonehome {__version__}")
        raise typer.Exit(EXIT_CLEAN)


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version"),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output on stderr (-v, -vv)"),
) -> None:
    """phonehome: Android data-leak forensics."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def doctor() -> None:
    """Show versions and which optional tools are present. Exit 0 when the core works."""
    checks = run_checks()
    table = Table(title="phonehome doctor")
    for column in ("check", "status", "detail"):
        table.add_column(column)
    for check in checks:
        status = "ok" if check.ok else ("MISSING" if check.required else "optional, missing")
        table.add_row(check.name, status, check.detail)
    Console().print(table)
    raise typer.Exit(EXIT_CLEAN if all(c.ok for c in checks if c.required) else EXIT_ERROR)


@app.command()
def schema() -> None:
    """Print the JSON schema of the scan result (the JSON report format)."""
    typer.echo(result_schema(), nl=False)


_register()


def _stop_like_ctrl_c(signum: int, _frame: object) -> None:
    """SIGTERM or SIGHUP (a closed terminal, `kill`, a service manager) stop a scan the way Ctrl-C does: the worker
    pool is stopped, finished results stay in the cache and an acquisition keeps what it pulled, for the resume.
    A second signal of the same kind ends the process at once."""
    signal.signal(signum, signal.SIG_DFL)
    raise KeyboardInterrupt


def install_stop_signals() -> None:
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop_like_ctrl_c)


def run() -> None:
    """Console-script entry point: usage errors exit 2 (click's convention, kept)."""
    install_stop_signals()
    app()
