"""The `phonehome` command.

Start-up is kept short (`phonehome --help` in well under a second, figures in bench/startup.py): command modules
import only typer and toolkit.cli.options at module level; the library (pydantic models, androguard, rich
reporters) is imported inside the command that runs.
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from typing import Any

import typer

from toolkit import __version__, safelog
from toolkit.cli import CommandImportError
from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR, SUMMARY

app = typer.Typer(
    name="phonehome",
    help="Find out whether an Android phone or its preinstalled software sends people's data away, and prove it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Sub-command groups, each in its own module exposing `app` (a typer group), and single commands (a function
# named after the module). Every one is imported at start-up: a module that fails to import is an error of the
# installation, reported as such, never a command silently missing from --help.
GROUPS = ("apk", "device", "evidence", "firmware", "store", "baseline", "report", "traffic")
OPTIONAL_GROUPS: tuple[str, ...] = ()  # groups registered only when their module exists
COMMANDS = ("demo", "doctor")


def _import(name: str) -> Any:
    try:
        return importlib.import_module(f"toolkit.cli.{name}")
    except Exception as exc:
        raise CommandImportError(f"command {name!r} is broken in this installation: {type(exc).__name__}: {exc}") from exc


def _register() -> None:
    for name in GROUPS:
        app.add_typer(_import(name).app, name=name)
    for name in OPTIONAL_GROUPS:
        if importlib.util.find_spec(f"toolkit.cli.{name}") is not None:
            app.add_typer(_import(name).app, name=name)
    for name in COMMANDS:
        app.command(name)(getattr(_import(name), name))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"phonehome {__version__}")
        raise typer.Exit(EXIT_CLEAN)


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, metavar="",
                                 help="Show the version and exit"),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, metavar="", show_default=False,
                                help="More log output on stderr (-v, -vv); -v also adds call paths to the summary"),
) -> None:
    """phonehome: Android data-leak forensics."""
    SUMMARY["verbose"] = verbose > 0
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    safelog.install(level)  # control characters in log lines are escaped; library warnings become one line


@app.command()
def schema() -> None:
    """Print the JSON schema of the scan result (the JSON report format)."""
    from toolkit.report.json_report import result_schema

    typer.echo(result_schema(), nl=False)


_register()


def _tidy_help(command: Any) -> None:
    """Placeholders a person reads: an option or argument with a metavar shows only that (typer would add the
    Python type, e.g. `<list[Path]>`, beside it), and flags such as --help show none.

    Help is click's plain layout: typer's rich panels would import rich's markdown, syntax and traceback modules
    (about 0.5 s) before printing a line of help.
    """
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for param in getattr(command, "params", []):
        if param.metavar is not None or getattr(param, "is_flag", False):
            # An argument's name is its metavar already: no type beside it.
            shown = None if param.param_type_name == "argument" else param.metavar or None
            param.display_type_rich = lambda ctx, shown=shown: shown
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


def command() -> Any:
    """The click command behind `app`, with the help placeholders tidied."""
    cmd = typer.main.get_command(app)
    _tidy_help(cmd)
    return cmd


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


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point. A usage error (unknown option, missing argument, bad value) is one line in
    phonehome's style, `error: ...`, with exit code 2 like every other error."""
    install_stop_signals()
    cmd = command()
    try:
        code = cmd.main(args=argv, prog_name="phonehome", standalone_mode=False)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as exc:  # click's usage errors, under typer's name
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"error: {where}{message}{hint}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", EXIT_ERROR) or EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_CLEAN)


if __name__ == "__main__":
    run()
