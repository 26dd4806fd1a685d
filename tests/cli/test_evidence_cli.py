"""`phonehome evidence scan` on a path that is no evidence folder: the path's problem first, exit 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from toolkit.cli.main import app


def test_missing_folder_and_file_are_named(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["evidence", "scan", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and f"error: {tmp_path / 'nope'}: not an evidence folder: no such folder" in missing.stderr
    a_file = tmp_path / "x.apk"
    a_file.write_bytes(b"PK\x03\x04")
    result = runner.invoke(app, ["evidence", "scan", str(a_file)])
    assert result.exit_code == 2 and f"error: {a_file}: not an evidence folder: a file" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["evidence", "scan", str(empty)])
    assert result.exit_code == 2 and "not an evidence folder (no acquisition.json)" in result.stderr
