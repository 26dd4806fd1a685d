"""`device acquire --out` that cannot be written: one sentence naming the path, exit 2 (was a traceback)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.simulator.support import make_host_key, simulator, small_profile
from toolkit.cli.main import app


def test_out_under_a_file(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / "evidence"
    with simulator(small_profile(tmp_path), key) as sim:
        result = CliRunner().invoke(app, ["device", "acquire", "--tcp", sim.serial, "--out", str(out),
                                          "--key", str(key), "--apks", "none"])
    assert result.exit_code == 2, result.exception
    assert result.exception is None or isinstance(result.exception, SystemExit)
    said = " ".join(result.stderr.split())
    assert f"cannot write the evidence folder {out}: Not a directory" in said
