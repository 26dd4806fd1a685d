"""Ctrl-C during a batch: exit 2 and a message that is true (resume only when a cache keeps the results)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import typer
from rich.console import Console

import toolkit.cli.progress as progress
from toolkit.pipeline import ScanOptions


def _interrupt(*_args: object, **_kwargs: object) -> None:
    raise KeyboardInterrupt  # what the interpreter raises in the main process when the user presses Ctrl-C


@pytest.mark.parametrize("no_cache", [True, False])
def test_interrupt_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_cache: bool) -> None:
    monkeypatch.setattr("toolkit.pipeline.run_batch", _interrupt)  # imported by the CLI when it runs
    out = io.StringIO()
    err = Console(file=out, width=200, force_terminal=False)
    options = ScanOptions(no_cache=no_cache, cache_path=tmp_path / "c.sqlite")
    with pytest.raises(typer.Exit) as done:
        progress.analyse_with_progress([], options, err)
    assert done.value.exit_code == 2
    text = out.getvalue()
    if no_cache:
        assert "no results kept (--no-cache)" in text and "resume" not in text
    else:
        assert f"finished results are saved in {tmp_path / 'c.sqlite'}; run the same command again to resume" in text


def test_store_check_interrupt_is_a_message_not_a_silent_130(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from toolkit.cli.main import app

    monkeypatch.setattr("toolkit.store.run_store_check", _interrupt)
    result = CliRunner().invoke(app, ["store", "check", str(tmp_path), "--no-cache"])
    assert result.exit_code == 2
    assert "interrupted: no results kept (--no-cache)" in result.output
