"""`phonehome firmware ...`: unpack vendor firmware offline, and analyse every preinstalled APK in it."""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from toolkit.acquisition.firmware import Limits, firmware_inputs, unpack
from toolkit.acquisition.firmware.source import annotate_reports, firmware_inventory
from toolkit.cli.apk import progress_bar
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
from toolkit.models import Severity, Target
from toolkit.models.firmware import FirmwareInfo
from toolkit.models.scan import InputError
from toolkit.pipeline import ProgressEvent, ScanOptions, analyse_inputs, build_result

app = typer.Typer(help="Unpack and analyse vendor firmware images offline.", no_args_is_help=True)

SUMMARY = "firmware.json"
MAX_OUTPUT_OPTION = typer.Option("64G", "--max-output", help="Most bytes unpacking may write in all (e.g. 20G)")


def parse_size(text: str) -> int:
    """'64G', '512M', '1000000' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not m:
        raise typer.BadParameter(f"not a size: {text!r} (use e.g. 20G or 512M)")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2).upper()]
    return int(float(m.group(1)) * mult)


def _summary(info: FirmwareInfo, err: Console, issues: bool = True) -> None:
    err.print(
        f"{info.file}: {info.kind}, partitions: {', '.join(info.partitions) or 'none'}; "
        f"{len(info.apks)} APKs, {len(info.build_props)} build.prop files, {len(info.issues)} problems",
        highlight=False, markup=False, soft_wrap=True,
    )
    for issue in info.issues if issues else []:
        err.print(f"error: {' > '.join(issue.chain)}: {issue.reason}", highlight=False, markup=False, soft_wrap=True)


@app.command("extract")
def extract(
    file: Path = typer.Argument(..., exists=True, help="Firmware file (zip, payload.bin, tar.md5, img ...) or folder"),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created; must be empty if it exists)"),
    max_output: str = MAX_OUTPUT_OPTION,
) -> None:
    """Unpack a firmware file to every file system, APK and build.prop in it; write firmware.json.

    Exit code: 0 everything read, 2 something could not be read (see the errors and firmware.json).
    """
    err = Console(stderr=True)
    if out.exists() and any(out.iterdir()):
        err.print(f"error: {out}: output folder is not empty", highlight=False, markup=False)
        raise typer.Exit(EXIT_ERROR)
    info = unpack(file, out, Limits(max_output_bytes=parse_size(max_output)))
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
    workers: int = typer.Option(0, "--workers", "-j", help="Parallel processes (default: number of cores)"),
    max_output: str = MAX_OUTPUT_OPTION,
) -> None:
    """Unpack a firmware file and analyse every preinstalled APK. Exit code: 0 nothing found, 1 findings, 2 error."""
    console, err = Console(), Console(stderr=True)
    started = datetime.now(UTC)
    if keep is not None and keep.exists() and any(keep.iterdir()):
        err.print(f"error: {keep}: output folder is not empty", highlight=False, markup=False)
        raise typer.Exit(EXIT_ERROR)
    workdir = keep if keep is not None else Path(tempfile.mkdtemp(prefix="phonehome-fw-"))
    try:
        info = unpack(file, workdir, Limits(max_output_bytes=parse_size(max_output)))
        _summary(info, err, issues=False)  # the issues are input problems of the result: finish_scan says them
        inputs = firmware_inputs(info, workdir)
        options = ScanOptions() if workers <= 0 else ScanOptions(workers=workers)
        with progress_bar(err) as bar:
            task = bar.add_task("Analysing preinstalled APKs", total=len(inputs))

            def on_progress(event: ProgressEvent) -> None:
                bar.update(task, completed=event.done)

            reports = analyse_inputs(inputs, options, on_progress)
        annotate_reports(reports, info, workdir)
        inventory = firmware_inventory(info, reports, workdir)
        if keep is None:
            # The temporary folder goes away: report paths relative to the firmware instead.
            by_path = {str(workdir / a.analysis_path): a.path for a in info.apks}
            for r in reports:
                r.path = by_path.get(r.path, r.path)
            info.output_dir = None
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    # A damaged member among good ones is recorded but does not make the scan an error; a firmware file that
    # yields no APK at all still exits 2 (nothing analysed).
    # The firmware file itself unusable (chain of one) is an error; a damaged member inside it is a warning.
    errors = [InputError(path=" > ".join(i.chain), reason=i.reason, level="error" if len(i.chain) == 1 else "warning")
              for i in info.issues]
    target = Target(kind="firmware", inputs=[str(file)], identity=info.identity)
    result = build_result(target, reports, errors, started, inventory=inventory, firmware=info)
    finish_scan(result, ReportArgs(formats, output, iocs, baseline, fail_on), console, err)
