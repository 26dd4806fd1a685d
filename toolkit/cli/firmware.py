"""`phonehome firmware ...`: unpack vendor firmware offline, and analyse every preinstalled APK in it."""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from toolkit.acquisition.files import remove_tree
from toolkit.acquisition.firmware import Limits, unpack
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
from toolkit.models import InputError, Severity
from toolkit.models.firmware import FirmwareInfo
from toolkit.scans import scan_unpacked_firmware

app = typer.Typer(help="Unpack and analyse vendor firmware images offline.", no_args_is_help=True)

SUMMARY = "firmware.json"
MAX_OUTPUT_OPTION = typer.Option("64G", "--max-output", help="Most bytes unpacking may write in all (e.g. 20G)")
MAX_EXPANSION_OPTION = typer.Option(
    20.0, "--max-expansion", min=1.0,
    help="Most bytes unpacking may write, as a multiple of the firmware file's size (never below 256M)",
)


def parse_size(text: str) -> int:
    """'64G', '512M', '1000000' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not m:
        raise typer.BadParameter(f"not a size: {text!r} (use e.g. 20G or 512M)")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2).upper()]
    return int(float(m.group(1)) * mult)


def _check_out_folder(out: Path, err: Console) -> None:
    """--out must be an empty folder that can be created: said in one line before any unpacking starts."""
    problem = ""
    if out.exists() and not out.is_dir():
        problem = "is a file, not a folder"
    elif out.is_dir() and any(out.iterdir()):
        problem = "output folder is not empty"
    else:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create the output folder: {exc.strerror or exc}"
    if problem:
        err.print(printable(f"error: {out}: {problem}"), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _summary(info: FirmwareInfo, err: Console, issues: bool = True) -> None:
    # Partition and member names come from the image: shown with control characters escaped.
    err.print(
        printable(f"{info.file}: {info.kind}, partitions: {', '.join(info.partitions) or 'none'}; "
                  f"{_count(len(info.apks), 'APK')}, {_count(len(info.build_props), 'build.prop file')}, "
                  f"{_count(len(info.issues), 'problem')}"),
        highlight=False, markup=False, soft_wrap=True,
    )
    for issue in info.issues if issues else []:
        err.print(printable(f"error: {' > '.join(issue.chain)}: {issue.reason}"), highlight=False, markup=False,
                  soft_wrap=True)


@app.command("extract")
def extract(
    file: Path = typer.Argument(..., exists=True, help="Firmware file (zip, payload.bin, tar.md5, img ...) or folder"),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created; must be empty if it exists)"),
    max_output: str = MAX_OUTPUT_OPTION,
    max_expansion: float = MAX_EXPANSION_OPTION,
) -> None:
    """Unpack a firmware file to every file system, APK and build.prop in it; write firmware.json.

    Exit code: 0 everything read, 2 something could not be read (see the errors and firmware.json).
    """
    err = Console(stderr=True)
    _check_out_folder(out, err)
    info = unpack(file, out, Limits(max_output_bytes=parse_size(max_output), max_expansion=max_expansion))
    (out / SUMMARY).write_text(info.model_dump_json(indent=2) + "\n", encoding="utf-8")
    _summary(info, err)
    raise typer.Exit(EXIT_ERROR if info.issues or not info.partitions and not info.apks else EXIT_CLEAN)


@app.command("scan")
def scan(
    file: Path = typer.Argument(..., exists=True, help="Firmware file (zip, payload.bin, tar.md5, img ...) or folder"),
    keep: Path | None = typer.Option(None, "--out", help="Keep the unpacked files in this folder (default: temporary)"),
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
    max_output: str = MAX_OUTPUT_OPTION,
    max_expansion: float = MAX_EXPANSION_OPTION,
) -> None:
    """Unpack a firmware file and analyse every preinstalled APK. Exit code: 0 nothing found, 1 findings, 2 error."""
    console, err = Console(), Console(stderr=True)
    options = scan_options(workers, cache, no_cache, scheduler, memory_limit)
    started = datetime.now(UTC)
    if keep is not None:
        _check_out_folder(keep, err)
    workdir = keep if keep is not None else Path(tempfile.mkdtemp(prefix="phonehome-fw-"))
    try:
        # Only what the analysis reads is written (APKs, images, build.prop): not every file of every partition.
        info = unpack(file, workdir, Limits(max_output_bytes=parse_size(max_output), max_expansion=max_expansion),
                      only_needed=True)
        _summary(info, err, issues=False)  # the issues are input problems of the result: finish_scan says them
        result = scan_unpacked_firmware(info, workdir, options, keep_files=keep is not None, started=started,
                                        analyse=lambda inputs: analyse_with_progress(inputs, options, err))
    finally:
        if keep is None:
            remove_tree(workdir)  # without recursion: an image may nest thousands of folders
    if not result.apks and all(e.level == "warning" for e in result.input_errors):
        # Damaged parts are warnings only beside good ones: when nothing at all could be taken out of the file,
        # the firmware was not usable and "nothing found" (exit 0) would claim a check that never happened.
        reason = ("no APK could be extracted (every part that was found is damaged): nothing analysed"
                  if result.input_errors else "no APK found in the firmware: nothing analysed")
        result.input_errors.append(InputError(path=str(file), reason=reason))
    finish_scan(result, ReportArgs(formats, output, iocs, baseline, fail_on), console, err)
