"""Shared output plumbing of every scanning command: reporter choice, output files, exit codes.

Every command that produces a ScanResult declares the REPORT options below and ends with `finish_scan`, so the
formats, indicator matching, baselines and exit codes behave the same for files, phones, firmware and stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from toolkit.models import ScanResult, Severity, Status
from toolkit.report.json_report import render_json
from toolkit.report.terminal import render_terminal

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class OutputFormat(str, Enum):
    terminal = "terminal"
    json = "json"


FORMAT_OPTION = typer.Option(
    [OutputFormat.terminal.value], "--format", "-f", help="Report format; repeat for several (written to --output)"
)
OUTPUT_OPTION = typer.Option(
    None, "--output", "-o", help="Output file (one format) or folder (several formats); default: terminal/stdout"
)
IOCS_OPTION = typer.Option([], "--iocs", help="STIX 2.1 indicator file to match (repeatable)")
BASELINE_OPTION = typer.Option(None, "--baseline", help="Baseline file of reviewed findings to suppress")
FAIL_ON_OPTION = typer.Option(Severity.info, "--fail-on", help="Lowest severity that makes the exit code 1")

_SUFFIX = {OutputFormat.json: "json"}


@dataclass
class ReportArgs:
    """The report options every scanning command takes."""

    formats: list[str] = field(default_factory=lambda: [OutputFormat.terminal.value])
    output: Path | None = None
    iocs: list[Path] = field(default_factory=list)
    baseline: Path | None = None
    fail_on: Severity = Severity.info


def finish_scan(result: ScanResult, args: ReportArgs, console: Console, err: Console) -> None:
    """Report problems, render every requested format and exit with the meaningful code."""
    report_problems(result, err)
    emit(result, args.formats, args.output, console, err)
    raise typer.Exit(exit_code(result, args.fail_on))


def emit(result: ScanResult, formats: list[str], output: Path | None, console: Console, err: Console) -> None:
    """Render `result` in each requested format: to the console, a file, or files in a folder."""
    chosen = [OutputFormat(f) for f in formats] or [OutputFormat.terminal]
    files = [f for f in chosen if f is not OutputFormat.terminal]
    if OutputFormat.terminal in chosen or not files:
        render_terminal(result, console if output is None or files else err)
    for fmt in files:
        text = render_json(result)
        if output is None:
            console.file.write(text)
        else:
            target = output / f"phonehome-report.{_SUFFIX[fmt]}" if (len(files) > 1 or output.is_dir()) else output
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            err.print(f"wrote {target}", markup=False, highlight=False, soft_wrap=True)


def report_problems(result: ScanResult, err: Console) -> None:
    """One clear line per input that could not be (fully) analysed."""
    for error in result.input_errors:
        err.print(f"error: {error.path}: {error.reason}", markup=False, highlight=False, soft_wrap=True)
    for apk in result.apks:
        if apk.status is not Status.analysed and apk.reason:
            label = "error" if apk.status is Status.not_analysed else "warning"
            err.print(f"{label}: {apk.path}: {apk.reason}", markup=False, highlight=False, soft_wrap=True)


def exit_code(result: ScanResult, fail_on: Severity = Severity.info) -> int:
    """0 nothing found, 1 findings at or above `fail_on`, 2 when an input was unusable or nothing was analysed."""
    analysed = [a for a in result.apks if a.status is not Status.not_analysed]
    if result.apks and not analysed:
        return EXIT_ERROR
    if any(f.severity.rank >= fail_on.rank for f in result.all_findings()):
        return EXIT_FINDINGS
    if result.input_errors:
        return EXIT_ERROR
    return EXIT_CLEAN
