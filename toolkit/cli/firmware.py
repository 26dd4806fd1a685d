"""`phonehome firmware ...`: unpack vendor firmware offline, and analyse every preinstalled APK in it.

Options mean one thing across commands: `--out DIR` is the folder the files are unpacked into (extract: required;
scan: kept there instead of a temporary folder), `--output/-o` is where the report goes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli.options import BATCH, REPORT, options
from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR, consoles, fail, finish_scan, require_installed_data, say

if TYPE_CHECKING:
    from rich.console import Console

    from toolkit.models.firmware import FirmwareInfo
    from toolkit.pipeline import ScanOptions
    from toolkit.usecases import ReportRequest

app = typer.Typer(help="Unpack and analyse vendor firmware images offline.", no_args_is_help=True)

SUMMARY = "firmware.json"
FIRMWARE_ARG = typer.Argument(..., metavar="FIRMWARE...", show_default=False,
                              help="Firmware file (zip, payload.bin, tar.md5, img ...) or folder; several files are "
                                   "one firmware (e.g. Samsung's AP_ BL_ CP_ CSC_ HOME_CSC_ tar.md5, or system.img "
                                   "vendor.img product.img)")
MAX_OUTPUT_OPTION = typer.Option("64G", "--max-output", metavar="SIZE", help="Most bytes unpacking may write in all (e.g. 20G)")
MAX_EXPANSION_OPTION = typer.Option(
    20.0, "--max-expansion", min=1.0, metavar="FACTOR",
    help="Most bytes unpacking may write, as a multiple of the firmware file's size (never below 256M)",
)


def _size(text: str, err: Console) -> int:
    from toolkit.batch.local import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        fail(err, f"--max-output: {exc}")


def _check_input(files: list[Path], err: Console) -> Path | list[Path]:
    """One path is checked here; of several, each unusable one is an issue of the run and the others are read."""
    if len(files) > 1:
        return files
    if not files[0].exists():
        fail(err, f"{files[0]}: no such file or directory")
    return files[0]


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
        fail(err, f"{out}: {problem}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _summary(info: FirmwareInfo, err: Console, issues: bool = True) -> None:
    # Partition and member names come from the image: `say` shows control characters escaped.
    say(err, f"{info.file}: {info.kind}, partitions: {', '.join(info.partitions) or 'none'}; "
             f"{_count(len(info.apks), 'APK')}, {_count(len(info.build_props), 'build.prop file')}, "
             f"{_count(len(info.issues), 'problem')}")
    for issue in info.issues if issues else []:
        say(err, f"error: {' > '.join(issue.chain)}: {issue.reason}")


@app.command("extract")
def extract(
    files: list[Path] = FIRMWARE_ARG,
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Folder to unpack into (created; must be empty if it exists)"),
    max_output: str = MAX_OUTPUT_OPTION,
    max_expansion: float = MAX_EXPANSION_OPTION,
) -> None:
    """Unpack a firmware (a file, a folder, or several files) to every file system, APK and build.prop in it;
    write firmware.json.

    Exit code: 0 everything read, 2 something could not be read (see the errors and firmware.json).
    """
    from toolkit.acquisition.firmware import Limits, unpack

    _, err = consoles()
    firmware = _check_input(files, err)
    limit = _size(max_output, err)
    _check_out_folder(out, err)
    info = unpack(firmware, out, Limits(max_output_bytes=limit, max_expansion=max_expansion))
    (out / SUMMARY).write_text(info.model_dump_json(indent=2) + "\n", encoding="utf-8")
    _summary(info, err)
    raise typer.Exit(EXIT_ERROR if info.issues or not info.partitions and not info.apks else EXIT_CLEAN)


@app.command("scan")
@options(REPORT, BATCH)
def scan(
    files: list[Path] = FIRMWARE_ARG,
    keep: Path | None = typer.Option(None, "--out", metavar="DIR", show_default=False,
                                     help="Keep the unpacked files in this folder (default: a temporary folder)"),
    max_output: str = MAX_OUTPUT_OPTION,
    max_expansion: float = MAX_EXPANSION_OPTION,
    report: ReportRequest = ...,  # type: ignore[assignment]
    batch: ScanOptions = ...,  # type: ignore[assignment]
) -> None:
    """Unpack a firmware (a file, a folder, or several files) and analyse every preinstalled APK.

    Exit code: 0 nothing found, 1 findings, 2 error."""
    import tempfile
    from datetime import UTC, datetime

    from toolkit.acquisition.files import remove_tree
    from toolkit.acquisition.firmware import Limits, unpack
    from toolkit.cli.progress import analyse_with_progress
    from toolkit.models import InputError
    from toolkit.scans import scan_unpacked_firmware
    from toolkit.usecases import relative_to_root

    console, err = consoles()
    firmware = _check_input(files, err)
    limit = _size(max_output, err)
    require_installed_data(err)
    started = datetime.now(UTC)
    if keep is not None:
        _check_out_folder(keep, err)
    workdir = keep if keep is not None else Path(tempfile.mkdtemp(prefix="phonehome-fw-"))
    try:
        # Only what the analysis reads is written (APKs, images, build.prop): not every file of every partition.
        # In a temporary folder, a stripped app's own files go once its rebuilt copy holds the recovered code.
        info = unpack(firmware, workdir, Limits(max_output_bytes=limit, max_expansion=max_expansion), only_needed=True,
                      transient=keep is None)
        _summary(info, err, issues=False)  # the issues are input problems of the result: finish_scan says them
        result = scan_unpacked_firmware(info, workdir, batch, keep_files=keep is not None, started=started,
                                        analyse=lambda inputs: analyse_with_progress(inputs, batch, err))
    finally:
        if keep is None:
            remove_tree(workdir)  # without recursion: an image may nest thousands of folders
    if not result.apks and all(e.level == "warning" for e in result.input_errors):
        # Damaged parts are warnings only beside good ones: when nothing at all could be taken out of the file,
        # the firmware was not usable and "nothing found" (exit 0) would claim a check that never happened.
        reason = ("no APK could be extracted (every part that was found is damaged): nothing analysed"
                  if result.input_errors else "no APK found in the firmware: nothing analysed")
        result.input_errors.append(InputError(path=info.file, reason=reason))
    finish_scan(relative_to_root(result, keep) if keep is not None else result, report, console, err)
