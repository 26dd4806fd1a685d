"""`phonehome baseline create`: bad input and an unwritable destination are one sentence naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAVED = REPO / "tests" / "report" / "data" / "scan_result.json"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=120)


def test_create_then_unwritable_destination(tmp_path: Path) -> None:
    good = run_cli("baseline", "create", str(SAVED), "--output", str(tmp_path / "b.json"))
    assert good.returncode == 0, good.stderr
    assert json.loads((tmp_path / "b.json").read_text())["entries"]
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    bad = run_cli("baseline", "create", str(SAVED), "--output", str(blocker / "b.json"))
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"error: {blocker / 'b.json'}: cannot write baseline: "), bad.stderr
    assert "Errno" not in bad.stderr and "Traceback" not in bad.stderr


def test_binary_file_is_not_a_report(tmp_path: Path) -> None:
    binary = tmp_path / "x.apk"
    binary.write_bytes(b"PK\x03\x04\x84\xff\x00")
    result = run_cli("baseline", "create", str(binary), "--output", str(tmp_path / "b.json"))
    assert result.returncode == 2
    assert f"error: {binary}: not a phonehome JSON report: not UTF-8 text (byte 4)" in result.stderr
    assert "codec" not in result.stderr and not (tmp_path / "b.json").exists()
