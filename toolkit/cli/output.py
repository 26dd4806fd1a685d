"""How the CLI shows what the library returns: one-line messages, the terminal summary, exit codes.

The policy (indicators, baseline, exit codes, output paths) is in `toolkit.usecases`; this module only prints
its outcome and turns the code into the process exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from toolkit.models import ScanResult
    from toolkit.usecases import ReportRequest

# The exit codes (the policy and its documentation: toolkit.usecases.exit_code).
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

# `phonehome -v ...` (set by the root callback, toolkit/cli/main.py): the terminal summary adds each flow's rules
# and call path.
SUMMARY = {"verbose": False}


def consoles() -> tuple[Console, Console]:
    """(stdout, stderr) consoles of a command."""
    from rich.console import Console

    return Console(), Console(stderr=True)


def say(console: Console, text: str, style: str | None = None) -> None:
    """One line of text that may come from a phone, an image or an APK: no markup, no control sequences."""
    from toolkit.text import printable

    console.print(printable(text), markup=False, highlight=False, soft_wrap=True, style=style)


def fail(err: Console, text: str) -> NoReturn:
    """`error: text` on one line, exit code 2."""
    say(err, f"error: {text}")
    raise typer.Exit(EXIT_ERROR)


def require_installed_data(err: Console) -> None:
    """Missing rules or data is a broken installation: exit 2 before scanning, never an empty "clean" result."""
    from toolkit.resources import DataMissingError, check_installed_data

    try:
        check_installed_data()
    except DataMissingError as exc:
        fail(err, str(exc))


def finish_scan(result: ScanResult, request: ReportRequest, console: Console, err: Console,
                extra_summary: Callable[[ScanResult, Console], None] | None = None) -> NoReturn:
    """Indicators, baseline, reports (toolkit.usecases.finish), shown on the terminal; exit with its code.

    A run in which nothing at all could be checked prints its error lines and nothing that looks like a result.
    `extra_summary` adds a command's own terminal summary (e.g. the store check's tables) before the common one.
    """
    from toolkit.usecases import finish, nothing_scanned, problem_lines

    if nothing_scanned(result):
        for line in problem_lines(result):
            say(err, line)
        raise typer.Exit(EXIT_ERROR)
    outcome = finish(result, request)
    for line in problem_lines(outcome.result):
        say(err, line)
    if outcome.show_summary:
        from toolkit.report.terminal import render_terminal

        summary_console = err if outcome.summary_to_stderr else console
        if extra_summary is not None:
            extra_summary(outcome.result, summary_console)
        render_terminal(outcome.result, summary_console, verbose=SUMMARY["verbose"])
    for _fmt, text in outcome.stdout:
        console.file.write(text)
        console.file.flush()
    for fmt, path in outcome.written:
        say(err, f"wrote {fmt} report {path}")
    for problem in outcome.problems:
        say(err, f"error: {problem}")
    raise typer.Exit(outcome.code)
