"""`phonehome firmware scan`: a firmware file from which nothing at all could be extracted is no clean scan."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.acquisition.firmware import writers
from toolkit.cli.main import app


def test_truncated_super_with_its_only_partition_damaged_is_exit_2(tmp_path: Path) -> None:
    full = writers.write_super(tmp_path / "super.img", [("system_a", bytes(1 << 20))])
    data = full.read_bytes()
    half = tmp_path / "half_super.img"
    half.write_bytes(data[: len(data) // 2])  # the partition now runs past the end of the image
    result = CliRunner().invoke(app, ["firmware", "scan", str(half), "--no-cache", "-f", "json",
                                      "-o", str(tmp_path / "r.json")])
    said = " ".join(result.stderr.split())
    assert "warning: " in said and "beyond the end of the super image" in said  # the damaged partition
    assert f"error: {half}: no APK could be extracted" in said
    assert result.exit_code == 2  # was 0: "nothing found" in a file nothing was taken out of


def test_out_that_is_a_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    image = writers.write_super(tmp_path / "super.img", [("system_a", bytes(1 << 16))])
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    runner = CliRunner()
    for command in (["firmware", "extract", str(image), "--out", str(blocker)],
                    ["firmware", "scan", str(image), "--out", str(blocker), "--no-cache"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.exception  # was NotADirectoryError from iterdir()
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert f"error: {blocker}: is a file, not a folder" in result.stderr
    nested = runner.invoke(app, ["firmware", "extract", str(image), "--out", str(blocker / "sub")])
    assert nested.exit_code == 2 and f"error: {blocker / 'sub'}: cannot create the output folder" in nested.stderr
