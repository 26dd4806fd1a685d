"""What every front end does after (and around) a scan: the policy library callers get too.

A command line, a script or a service that calls `scan_evidence_folder`, `run_store_check` ... then calls
`finish(result, ReportRequest(...))` gets the same indicator (IOC) matching, baseline suppression, exit-code
policy and output-path policy as `phonehome`:

    outcome = finish(result, ReportRequest(formats=["json", "html"], output=Path("out"), iocs=[Path("mvt.stix2")]))
    outcome.code      # 0 clean, 1 findings, 2 error (see exit_code)
    outcome.written   # the report files

The library never prints: problems come back as text lines for the caller to show.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from toolkit import __version__
from toolkit.findings import (
    BaselineError,
    IndicatorFileError,
    apply_baseline,
    apply_indicators,
    expand_indicator_paths,
    load_baseline,
    load_indicator_file,
)
from toolkit.models import ScanResult, Severity, Status
from toolkit.report import FORMATS
from toolkit.resources import DataMissingError, check_installed_data

log = logging.getLogger(__name__)

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
TERMINAL = "terminal"

__all__ = [
    "EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "DataMissingError", "Outcome", "OutputError", "ReportRequest",
    "check_installed_data", "exit_code", "finish", "load_report", "output_targets", "post_process", "problem_lines",
    "relative_to_root", "write_reports",
]


@dataclass
class ReportRequest:
    """What the user asked for the result: formats, where to write them, indicators, baseline, exit threshold."""

    formats: list[str] = field(default_factory=lambda: [TERMINAL])
    output: Path | None = None
    iocs: list[Path] = field(default_factory=list)
    baseline: Path | None = None
    fail_on: Severity = Severity.info


class OutputError(Exception):
    """The report could not be written as asked (bad format list, unwritable path ...)."""


@dataclass
class Outcome:
    """The finished result and what became of it."""

    result: ScanResult
    code: int
    problems: list[str] = field(default_factory=list)  # error lines (bad indicator/baseline file, unwritable report)
    written: list[tuple[str, Path]] = field(default_factory=list)  # (format, file)
    stdout: list[tuple[str, str]] = field(default_factory=list)  # (format, text) for standard output
    show_summary: bool = False  # the terminal summary goes to the console (stdout, or stderr when stdout is taken)
    summary_to_stderr: bool = False


def parse_formats(values: Sequence[str]) -> list[str]:
    """'json,html' / ['json', 'html'] -> ['json', 'html'] (order kept, duplicates dropped). ValueError on a typo."""
    names = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad:
        raise ValueError(f"unknown format {', '.join(bad)} (choose from {', '.join(FORMATS)})")
    return list(dict.fromkeys(names)) or [TERMINAL]


def post_process(result: ScanResult, request: ReportRequest) -> tuple[ScanResult, list[str]]:
    """Apply the indicators, then the baseline (so reviewed IOC matches can be baselined too). Returns problems.

    One bad indicator file or empty folder does not stop the others from being matched; a bad baseline
    suppresses nothing. Either is a problem line, and makes the exit code 2.
    """
    problems: list[str] = []
    if request.iocs:
        sets = []
        for given in request.iocs:
            try:
                for path in expand_indicator_paths([given]):
                    try:
                        sets.append(load_indicator_file(path))
                    except IndicatorFileError as exc:
                        problems.append(f"{exc} (its indicators were not matched)")
            except IndicatorFileError as exc:
                problems.append(f"{exc} (no indicators matched from it)")
        result = apply_indicators(result, sets)
    if request.baseline is not None:
        try:
            result = apply_baseline(result, load_baseline(request.baseline), request.baseline)
        except BaselineError as exc:
            problems.append(f"{exc} (nothing suppressed)")
    return result, problems


def output_targets(formats: Sequence[str], output: Path | None) -> dict[str, Path | None]:
    """Where each file format goes: None for stdout, a file, or a file inside the output folder.

    The terminal summary goes to the console, unless it is the only format and --output is given: then it is
    written as plain text to that file (nothing asked for is dropped).
    """
    files = [f for f in formats if f != TERMINAL]
    if output is not None and not files and TERMINAL in formats:
        as_folder = output.is_dir() or str(output).endswith(("/", "\\"))
        return {TERMINAL: output / FORMATS[TERMINAL].file_name if as_folder else output}
    if output is None:
        if len(files) > 1:
            raise OutputError(f"{len(files)} formats ({', '.join(files)}) need an output folder: add --output DIR")
        return dict.fromkeys(files)
    as_folder = len(files) > 1 or output.is_dir() or str(output).endswith(("/", "\\"))
    if as_folder and output.is_file():
        raise OutputError(f"{output} is a file: {len(files)} formats are written into a folder; give --output a folder")
    if as_folder:
        return {f: output / FORMATS[f].file_name for f in files}
    return {f: output for f in files}


def write_reports(result: ScanResult, targets: dict[str, Path | None], outcome: Outcome) -> None:
    """Render each target; files are written, stdout texts are collected in `outcome`. A target that cannot be
    written is a problem line; the other formats are still written (one bad target must not lose them all)."""
    for fmt, path in targets.items():
        text = FORMATS[fmt].render(result)
        if path is None:
            outcome.stdout.append((fmt, text))
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            outcome.problems.append(f"{path}: cannot write {fmt} report: {exc.strerror or exc}")
            continue
        outcome.written.append((fmt, path))


def finish(result: ScanResult, request: ReportRequest) -> Outcome:
    """Indicators, baseline, reports and exit code: the end of every scan."""
    result, problems = post_process(result, request)
    outcome = Outcome(result=result, code=exit_code(result, request.fail_on), problems=problems)
    try:
        formats = parse_formats(request.formats)
        targets = output_targets(formats, request.output)
    except (ValueError, OutputError) as exc:
        outcome.problems.append(str(exc))
        outcome.code = EXIT_ERROR
        return outcome
    stdout_taken = any(path is None for path in targets.values())
    # The summary never mixes with a machine-readable format on stdout.
    outcome.show_summary = (TERMINAL in formats and TERMINAL not in targets) or not targets
    outcome.summary_to_stderr = stdout_taken
    write_reports(result, targets, outcome)
    if outcome.problems:
        outcome.code = EXIT_ERROR
    return outcome


def relative_to_root(result: ScanResult, root: Path) -> ScanResult:
    """The result with every path under `root` (the scanned folder, the evidence folder) written relative to it.

    The root itself stays once, in the report's target: reports of the same evidence come out the same wherever
    the folder lies, and no path of the analyst's machine (a temporary folder, a home folder) leaks into the
    findings' text. Both the absolute form and the form the user typed are rewritten.
    """
    text = result.model_dump_json()
    forms = {str(root.resolve()), str(root.absolute()), str(root)} - {"", "."}
    changed = text
    for form in sorted(forms, key=len, reverse=True):  # the longest first: /tmp/x/evidence before evidence
        prefix = json.dumps(form.rstrip(os.sep) + os.sep)[1:-1]
        changed = changed.replace(f'"{prefix}', '"').replace(f" {prefix}", " ").replace(f"({prefix}", "(")
    if changed == text:
        return result
    relative = ScanResult.model_validate_json(changed)
    relative.target = result.target  # the root, once, as the user named it
    return relative


def problem_lines(result: ScanResult) -> list[str]:
    """One line per input that could not be (fully) analysed, and per indicator that could not be used."""
    lines = [f"{error.level}: {error.path}: {error.reason}" for error in result.input_errors]
    for apk in result.apks:
        if apk.status is not Status.analysed and apk.reason:
            label = "error" if apk.status is Status.not_analysed else "warning"
            lines.append(f"{label}: {apk.path}: {apk.reason}")
    for source in result.indicator_sources:
        for skipped in source.skipped:
            lines.append(f"warning: {source.file}: indicator {skipped.id} not used: {skipped.reason}")
    return lines


def nothing_scanned(result: ScanResult) -> bool:
    """True when the run checked nothing at all (no APK, no device state) and only has errors to tell."""
    return not result.apks and result.inventory is None and any(e.level == "error" for e in result.input_errors)


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
