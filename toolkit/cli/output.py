"""Shared output plumbing of every scanning command: reporter choice, output files, indicators, baselines, exit codes.

Every command that produces a ScanResult declares the REPORT options below and ends with `finish_scan`, so the
formats, indicator matching, baselines and exit codes behave the same for files, phones, firmware and stores.

The --format, --iocs and --baseline options are checked when the command line is parsed (option callbacks), so a
typo or a malformed indicator/baseline file stops the command with exit code 2 before a long scan starts.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from toolkit import __version__
from toolkit.findings import (
    BaselineError,
    IndicatorFileError,
    apply_baseline,
    apply_indicators,
    expand_indicator_paths,
    load_baseline,
    load_indicator_file,
    load_indicator_files,
)
from toolkit.models import ScanResult, Severity, Status
from toolkit.report.csv_report import render_csv
from toolkit.report.html import render_html
from toolkit.report.json_report import render_json
from toolkit.report.markdown import render_markdown
from toolkit.report.sarif import render_sarif
from toolkit.report.terminal import render_terminal, render_text
from toolkit.text import printable

log = logging.getLogger(__name__)

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class OutputFormat(str, Enum):
    terminal = "terminal"
    json = "json"
    sarif = "sarif"
    html = "html"
    csv = "csv"
    markdown = "markdown"


# File name of each format when several are written into an output folder.
FILE_NAMES = {
    OutputFormat.terminal: "phonehome-report.txt",
    OutputFormat.json: "phonehome-report.json",
    OutputFormat.sarif: "phonehome-report.sarif",
    OutputFormat.html: "phonehome-report.html",
    OutputFormat.csv: "phonehome-timeline.csv",
    OutputFormat.markdown: "phonehome-report.md",
}
RENDERERS: dict[OutputFormat, Callable[[ScanResult], str]] = {
    OutputFormat.terminal: render_text,
    OutputFormat.json: render_json,
    OutputFormat.sarif: render_sarif,
    OutputFormat.html: render_html,
    OutputFormat.csv: render_csv,
    OutputFormat.markdown: render_markdown,
}


def _check_formats(values: list[str]) -> list[str]:
    names = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in OutputFormat.__members__]
    if bad:
        raise typer.BadParameter(
            f"unknown format {', '.join(bad)} (choose from {', '.join(f.value for f in OutputFormat)})"
        )
    return names


def _check_iocs(values: list[Path]) -> list[Path]:
    try:
        load_indicator_files(values)
    except IndicatorFileError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return values


def _check_baseline(value: Path | None) -> Path | None:
    if value is not None:
        try:
            load_baseline(value)
        except BaselineError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


def _check_output(value: Path | None) -> Path | None:
    """Refuse an --output that cannot be written before a long scan starts, not after it (the result would be lost)."""
    if value is None:
        return None
    if value.is_file():
        return value  # one format overwrites it; several are refused by output_targets with the reason
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


FORMAT_OPTION = typer.Option(
    [OutputFormat.terminal.value],
    "--format",
    "-f",
    callback=_check_formats,
    help="Report format: terminal, json, sarif, html, csv (timeline), markdown; repeat or comma-separate for several "
    "(written into the --output folder)",
)
OUTPUT_OPTION = typer.Option(
    None, "--output", "-o", callback=_check_output, help="Output file (one format) or folder (several formats); default: terminal/stdout"
)
IOCS_OPTION = typer.Option(
    [], "--iocs", callback=_check_iocs,
    help="STIX 2.1 indicator file, or folder of .stix2/.json files, to match (e.g. MVT's); repeatable",
)
BASELINE_OPTION = typer.Option(
    None, "--baseline", callback=_check_baseline, help="Baseline file of reviewed findings to suppress"
)
FAIL_ON_OPTION = typer.Option(Severity.info, "--fail-on", help="Lowest severity that makes the exit code 1")


@dataclass
class ReportArgs:
    """The report options every scanning command takes."""

    formats: list[str] = field(default_factory=lambda: [OutputFormat.terminal.value])
    output: Path | None = None
    iocs: list[Path] = field(default_factory=list)
    baseline: Path | None = None
    fail_on: Severity = Severity.info


class OutputError(Exception):
    """The report could not be written as asked (bad format list, unwritable path ...)."""


def finish_scan(result: ScanResult, args: ReportArgs, console: Console, err: Console) -> None:
    """Match indicators, apply the baseline, report problems, render every format and exit with the right code.

    A malformed indicator or baseline file (normally caught when the options are parsed) is reported with its
    name and the problem; the report is still written without it and the exit code is 2.
    """
    result, problems = post_process(result, args)
    for problem in problems:
        _line(err, f"error: {problem}")
    report_problems(result, err)
    try:
        emit(result, args.formats, args.output, console, err)
    except OutputError as exc:
        _line(err, f"error: {exc}")
        raise typer.Exit(EXIT_ERROR) from exc
    code = exit_code(result, args.fail_on)
    raise typer.Exit(EXIT_ERROR if problems else code)


def post_process(result: ScanResult, args: ReportArgs) -> tuple[ScanResult, list[str]]:
    """Apply --iocs then --baseline (so reviewed IOC matches can be baselined too). Returns problems as text."""
    problems: list[str] = []
    if args.iocs:
        sets = []
        for given in args.iocs:  # one bad file or empty folder does not stop the others from being matched
            try:
                for path in expand_indicator_paths([given]):
                    try:
                        sets.append(load_indicator_file(path))
                    except IndicatorFileError as exc:
                        problems.append(f"{exc} (its indicators were not matched)")
            except IndicatorFileError as exc:
                problems.append(f"{exc} (no indicators matched from it)")
        result = apply_indicators(result, sets)
    if args.baseline is not None:
        try:
            result = apply_baseline(result, load_baseline(args.baseline), args.baseline)
        except BaselineError as exc:
            problems.append(f"{exc} (nothing suppressed)")
    return result, problems


def _line(err: Console, text: str) -> None:
    err.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def output_targets(formats: list[OutputFormat], output: Path | None) -> dict[OutputFormat, Path | None]:
    """Where each file format goes: None for stdout, a file, or a file inside the output folder.

    The terminal summary goes to the console, unless it is the only format and --output is given: then it is
    written as plain text to that file (nothing asked for is dropped).
    """
    files = [f for f in formats if f is not OutputFormat.terminal]
    if output is not None and not files and OutputFormat.terminal in formats:
        as_folder = output.is_dir() or str(output).endswith(("/", "\\"))
        return {OutputFormat.terminal: output / FILE_NAMES[OutputFormat.terminal] if as_folder else output}
    if output is None:
        if len(files) > 1:
            raise OutputError(
                f"{len(files)} formats ({', '.join(f.value for f in files)}) need an output folder: add --output DIR"
            )
        return dict.fromkeys(files)
    as_folder = len(files) > 1 or output.is_dir() or str(output).endswith(("/", "\\"))
    if as_folder and output.is_file():
        raise OutputError(f"{output} is a file: {len(files)} formats are written into a folder; give --output a folder")
    if as_folder:
        return {f: output / FILE_NAMES[f] for f in files}
    return {f: output for f in files}


def emit(result: ScanResult, formats: list[str], output: Path | None, console: Console, err: Console) -> None:
    """Render `result` in each requested format: to the console, a file, or files in a folder."""
    try:
        chosen = list(dict.fromkeys(OutputFormat(f) for f in _check_formats(formats))) or [OutputFormat.terminal]
    except typer.BadParameter as exc:
        raise OutputError(str(exc)) from exc
    targets = output_targets(chosen, output)
    stdout_taken = any(path is None for path in targets.values())
    if (OutputFormat.terminal in chosen and OutputFormat.terminal not in targets) or not targets:
        # The summary never mixes with a machine-readable format on stdout.
        render_terminal(result, err if stdout_taken else console, verbose=_verbose())
    failed: list[str] = []
    for fmt, path in targets.items():
        text = RENDERERS[fmt](result)
        if path is None:
            console.file.write(text)
            console.file.flush()
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:  # the other formats are still written: one bad target must not lose them all
            failed.append(f"{path}: cannot write {fmt.value} report: {exc.strerror or exc}")
            continue
        _line(err, f"wrote {fmt.value} report {path}")
    if failed:
        raise OutputError("; ".join(failed))


# `phonehome -v ...` (set by the root callback, toolkit/cli/main.py): the terminal summary adds each flow's rules
# and call path.
SUMMARY = {"verbose": False}


def _verbose() -> bool:
    return SUMMARY["verbose"]


def report_problems(result: ScanResult, err: Console) -> None:
    """One clear line per input that could not be (fully) analysed, and per indicator that could not be used."""
    for error in result.input_errors:
        _line(err, f"{error.level}: {error.path}: {error.reason}")
    for apk in result.apks:
        if apk.status is not Status.analysed and apk.reason:
            label = "error" if apk.status is Status.not_analysed else "warning"
            _line(err, f"{label}: {apk.path}: {apk.reason}")
    for source in result.indicator_sources:
        for skipped in source.skipped:
            _line(err, f"warning: {source.file}: indicator {skipped.id} not used: {skipped.reason}")


def exit_code(result: ScanResult, fail_on: Severity = Severity.info) -> int:
    """The meaning of phonehome's exit codes, in order:

    2 when an input the user named is unusable (missing path, folder without APKs, garbage firmware file, evidence
      that fails its hash list);
    1 when there are findings at or above `fail_on` (baseline-suppressed findings do not count);
    2 when some APK could not be analysed at all: "clean" is only claimed for what was checked;
    0 otherwise. Warning-level problems (an APK the phone would not hand over, a damaged partition among good ones)
      and `partial` APKs are reported but do not change the code.
    """
    if any(e.level == "error" for e in result.input_errors):
        return EXIT_ERROR
    if any(f.severity.rank >= fail_on.rank for f in result.all_findings()):
        return EXIT_FINDINGS
    if any(a.status is Status.not_analysed for a in result.apks):
        return EXIT_ERROR
    return EXIT_CLEAN


def load_report(path: Path) -> ScanResult:
    """Read a phonehome JSON report back; raise ValueError naming the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a phonehome JSON report: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ValueError(f"{path}: cannot read report: {exc.strerror or exc}") from exc
    try:
        return ScanResult.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        count = exc.error_count()
        hint = ""
        if first["type"] == "extra_forbidden":  # a field this version does not know: likely a newer phonehome
            hint = f"; written by another phonehome version? this is {__version__}"
        raise ValueError(
            f"{path}: not a phonehome JSON report ({count} problem{'' if count == 1 else 's'}; first: {where}: "
            f"{first['msg']}{hint})"
        ) from exc


def rerender_report(path: Path, args: ReportArgs, console: Console, err: Console) -> None:
    """Render a saved JSON report again, e.g. in other formats or against new indicators (no rescan).

    For a `phonehome report PATH` command: the same options and exit codes as a scan.
    """
    try:
        result = load_report(path)
    except ValueError as exc:
        _line(err, f"error: {exc}")
        raise typer.Exit(EXIT_ERROR) from exc
    finish_scan(result, args, console, err)
