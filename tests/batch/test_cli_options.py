"""The shared batch options of the CLI: parsing, errors naming the option, and the summary line."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.batch.batch_support import FIXTURE_APKS
from toolkit.cli.main import app
from toolkit.cli.options import scan_options
from toolkit.cli.progress import summary_line
from toolkit.pipeline import BatchStats, ScanOptions


def test_scan_options_from_cli_values(tmp_path: Path) -> None:
    options = scan_options(3, tmp_path / "c.sqlite3", False, "tcp://10.0.0.5:8786", "1.5G")
    assert options.workers == 3
    assert options.cache_path == tmp_path / "c.sqlite3"
    assert options.scheduler == "tcp://10.0.0.5:8786"
    assert options.memory_limit == 3 << 29
    assert scan_options(memory_limit="none").memory_limit == 0
    assert scan_options(memory_limit="auto").memory_limit is None
    assert scan_options(0).workers == ScanOptions().workers
    assert scan_options(no_cache=True).no_cache


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory-limit", "12x"], "not a size"),
        (["--memory-limit", "10M"], "below 64M"),
        (["--workers", "-1"], "--workers"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_option(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["apk", "scan", str(FIXTURE_APKS / "flashlight.apk"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_bad_memory_limit_raises_bad_parameter() -> None:
    with pytest.raises(typer.BadParameter):
        scan_options(memory_limit="lots")


def test_summary_line_counts() -> None:
    stats = BatchStats(
        inputs=300,
        from_cache=290,
        analysed=10,
        duplicates=2,
        failures={"crash": 1},
        seconds=5.0,
        counts={"analysed": 298, "not_analysed": 2},
        worker_peak_rss={"h:1": 300 << 20, "h:2": 200 << 20},
    )
    line = summary_line(stats)
    assert line.startswith("batch: 300 APKs in 5.0 s: 298 analysed, 2 not_analysed")
    assert "10 analysed now (2.0/s), 290 from cache" in line
    assert "1 crash" in line and "peak worker memory 300 MiB" in line and "2 duplicate" in line
