"""The command itself: start-up imports, usage errors in phonehome's one-line style, help placeholders, a command
module that fails to import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.cli.options import SeverityChoice
from toolkit.models import Severity
from toolkit.report import FORMATS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "androguard", "rich", "toolkit.models", "toolkit.analysis", "yaml")


def phonehome(*args: str, code: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "toolkit", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False)


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    """What keeps `phonehome --help` fast (the figures are in bench/startup.py): no models, engine or rich."""
    done = subprocess.run([sys.executable, "-c", "import sys; sys.argv = ['phonehome'] + sys.argv[1:]\n"
                           "from toolkit.cli import run\ntry:\n    run()\nexcept SystemExit:\n    pass\n"
                           "print(' '.join(sorted(sys.modules)), file=sys.stderr)", *args],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120,
                          check=False)
    loaded = done.stderr.split()
    assert "Usage: phonehome" in done.stdout or done.stdout.startswith("phonehome ")
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY or any(m.startswith(h + ".") or m == h for h in HEAVY)]
    assert heavy == [], heavy


def test_usage_error_is_one_line_with_exit_2(tmp_path: Path) -> None:
    done = phonehome("apk", "scan", "--workers", "many", str(tmp_path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: phonehome apk scan: "), done.stderr
    assert "'--workers'" in lines[0] and "integer" in lines[0] and "--help" in lines[0] and "╭" not in done.stderr
    unknown = phonehome("firmware", "scan", "--bogus")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: phonehome firmware scan: No such option")


def test_missing_firmware_is_one_line(tmp_path: Path) -> None:
    done = phonehome("firmware", "scan", str(tmp_path / "nonexistent.zip"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {tmp_path / 'nonexistent.zip'}: no such file or directory"
    assert done.stdout == ""


def test_nothing_scanned_prints_only_the_error(tmp_path: Path) -> None:
    done = phonehome("apk", "scan", str(tmp_path / "nonexistent"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {tmp_path / 'nonexistent'}: no such file or directory"
    assert done.stdout == "" and "No findings" not in done.stderr and "batch:" not in done.stderr


def test_help_placeholders_read_as_words() -> None:
    text = phonehome("apk", "scan", "--help").stdout + phonehome("device", "scan", "--help").stdout
    for bad in ("<bool>", "<list[", "<path>", "<int>", "<str>", "{paths}", "[default: 0]"):
        assert bad not in text, bad
    for good in ("--workers N", "--output PATH", "--fail-on SEVERITY", "--tcp HOST:PORT", "{APK_OR_DIR}..."):
        assert good in " ".join(text.split()), good


def test_o_means_the_report_everywhere() -> None:
    """-o is --output (the report, or the baseline file) in every command; --out is a folder (evidence, unpack)."""
    for command in (["firmware", "extract"], ["firmware", "scan"], ["baseline", "create"], ["device", "scan"]):
        text = " ".join(phonehome(*command, "--help").stdout.split())
        if "-o" in text.split():
            assert "-o, --output" in text, command


def test_broken_command_module_is_an_error_not_a_missing_command() -> None:
    done = phonehome(code="import sys; sys.modules['toolkit.cli.store'] = None; sys.argv = ['phonehome', '--help']\n"
                          "from toolkit.cli import run\nrun()")
    assert done.returncode == 2
    assert done.stderr.startswith("error: command 'store' is broken in this installation: ModuleNotFoundError")
    assert "Traceback" not in done.stderr


def test_cli_choices_match_the_library() -> None:
    assert [s.value for s in SeverityChoice] == [s.value for s in Severity]
    assert set(FORMATS) >= {"terminal", "json", "sarif", "html", "csv"}


def test_several_formats_without_a_folder_stop_before_the_scan() -> None:
    done = phonehome("apk", "scan", str(ROOT / "fixtures" / "apks" / "clean_notes.apk"), "-f", "json,html")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: phonehome apk scan: Invalid value for '--format': 2 formats (json, html) need an output folder: "
        "add --output DIR (see phonehome apk scan --help)"]
