"""Resumability through the real CLI: kill -9 or Ctrl-C a folder scan mid-way, run the same command again.

The re-run analyses only what the interrupted run did not finish, and its report equals the one of an
uninterrupted run (same order, same content; run timestamps and per-APK timings differ between any two runs).
One APK of the folder makes its worker die with a real SIGSEGV: it is `not_analysed` with the reason and the batch
goes on. Every CLI run uses one copy of the code taken when the module starts, with tests/batch/sitehook on
PYTHONPATH (see its sitecustomize.py): every analysis first sleeps a little, so that the test can interrupt the
run while work remains, and the "boom" APK crashes its worker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.batch.batch_support import REPO, comparable, copy_fixtures, engine_view

SITEHOOK = Path(__file__).resolve().parent / "sitehook"
COUNT = 8  # 7 fixture APKs + 1 that crashes its worker


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of toolkit/ and apk_rules/ taken when the module starts: every CLI run of this module runs the same
    code even if the working tree is edited meanwhile (the result cache is keyed by the analysis code, so an edit
    between two runs would rightly make the second one miss the cache)."""
    root = tmp_path_factory.mktemp("code")
    for name in ("toolkit", "apk_rules"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _env(code: Path, slow: float, gate: Path | None = None, allow: int = 0) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SITEHOOK), str(code), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PHONEHOME_TEST_SLOW_SECONDS"] = str(slow)
    env["PHONEHOME_TEST_CRASH_NAME"] = "boom"
    if gate is not None:  # only `allow` analyses may finish: the run cannot end before the test interrupts it
        gate.mkdir(parents=True, exist_ok=True)
        env["PHONEHOME_TEST_GATE"] = str(gate)
        env["PHONEHOME_TEST_GATE_ALLOW"] = str(allow)
    return env


def _command(folder: Path, cache: Path | None, out: Path) -> list[str]:
    cache_args = ["--cache", str(cache)] if cache else ["--no-cache"]
    return [
        sys.executable,
        "-m",
        "toolkit",
        "-v",
        "apk",
        "scan",
        str(folder),
        "--format",
        "json",
        "--output",
        str(out),
        "--workers",
        "2",
        "--memory-limit",
        "1G",
        *cache_args,
    ]


def _rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:  # table not created yet
        return 0


def _batch_line(stderr: str) -> tuple[int, int]:
    """(from cache, analysed) from the pipeline's INFO log line."""
    match = re.search(r"batch: (\d+) APKs, (\d+) from cache, (\d+) analysed", stderr)
    assert match, stderr
    assert int(match[1]) == COUNT
    return int(match[2]), int(match[3])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "apks"
    apks = copy_fixtures(root, COUNT - 1)
    boom = root / "m_boom.apk"  # sorted mid-folder
    shutil.copy(apks[0], boom)
    with boom.open("ab") as fh:
        fh.write(b"distinct bytes")
    return root


def _uninterrupted(folder: Path, out: Path, code: Path) -> dict[str, Any]:
    proc = subprocess.run(
        _command(folder, None, out), env=_env(code, 0.0), cwd=code, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert _batch_line(proc.stderr) == (0, COUNT)
    report = json.loads(out.read_text())
    boom = next(a for a in report["apks"] if a["path"].endswith("m_boom.apk"))
    assert boom["status"] == "not_analysed" and "SIGSEGV" in boom["reason"]
    assert sum(a["status"] == "analysed" for a in report["apks"]) == COUNT - 1
    return comparable(report)


@pytest.fixture(scope="module")
def reference(folder: Path, code: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of an uninterrupted run (no cache at all)."""
    return _uninterrupted(folder, tmp_path_factory.mktemp("ref") / "report.json", code)


def _assert_same_report(resumed: dict[str, Any], reference: dict[str, Any]) -> None:
    """Resumed == uninterrupted: same order, same top-level content, same APK reports. Flows and findings are
    compared on their meaning because the engine currently names one of several equivalent sink calls at random
    (two uninterrupted runs differ the same way); everything else is compared exactly."""
    assert [a["path"] for a in resumed["apks"]] == [a["path"] for a in reference["apks"]]
    assert {k: v for k, v in resumed.items() if k != "apks"} == {k: v for k, v in reference.items() if k != "apks"}
    for got, want in zip(resumed["apks"], reference["apks"], strict=True):
        assert engine_view(got) == engine_view(want), got["path"]


def _rows_written(cache: Path) -> dict[tuple[str, str], str]:
    """(sha256, engine) -> created_at of every row: a row analysed again would get a new time."""
    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5) as db:
        return {(sha, engine): at for sha, engine, at in db.execute("SELECT sha256, engine, created_at FROM results")}


def _interrupt(folder: Path, cache: Path, out: Path, how: signal.Signals, at_least: int, code: Path) -> int:
    """Start the scan, let only enough analyses through to reach `at_least` results (the others wait at the
    sitehook's gate, so the run cannot finish first however loaded the machine is), interrupt it; returns the rows
    then."""
    allow = at_least - _rows(cache)
    proc = subprocess.Popen(
        _command(folder, cache, out),
        env=_env(code, 0.0, gate=out.parent / f"gate-{how.name}", allow=allow),
        cwd=code,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _rows(cache) < at_least:
            assert proc.poll() is None, f"the scan ended before it could be interrupted: {proc.communicate()}"
            assert time.monotonic() < deadline, f"fewer than {at_least} results in the cache after 120 s"
            time.sleep(0.02)
        family = psutil.Process(proc.pid).children(recursive=True)
        if how is signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole process group
        else:
            os.kill(proc.pid, how)  # only the parent: the workers must notice and go away by themselves
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if how is signal.SIGINT:
        assert proc.returncode == 2, stderr
        assert "run the same command again to resume" in " ".join(stderr.split())
    else:
        assert proc.returncode == -how
    assert not out.exists(), "an interrupted run must not write a report"
    _gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, f"worker processes left behind: {alive}"
    rows = _rows(cache)
    assert at_least <= rows < COUNT
    return rows


def test_interrupted_scan_resumes_to_the_same_report(
    folder: Path, reference: dict[str, Any], code: Path, tmp_path: Path
) -> None:
    """Ctrl-C after 2 results, same command killed -9 after 2 more, same command again: it finishes the rest
    only, and its report equals the uninterrupted one."""
    cache, out = tmp_path / "cache.sqlite3", tmp_path / "report.json"
    first = _interrupt(folder, cache, out, signal.SIGINT, at_least=2, code=code)
    written = _rows_written(cache)
    second = _interrupt(folder, cache, out, signal.SIGKILL, at_least=first + 2, code=code)
    proc = subprocess.run(
        _command(folder, cache, out), env=_env(code, 0.0), cwd=code, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode in (0, 1), proc.stderr
    final = _rows_written(cache)
    assert len({engine for _sha, engine in final}) == 1  # one code snapshot: one engine key
    from_cache, analysed = _batch_line(proc.stderr)
    assert (from_cache, analysed) == (second, COUNT - second)
    assert len(final) == COUNT
    # The second run did not redo what the first had finished: those rows were not written again.
    assert {key: final[key] for key in written} == written
    _assert_same_report(comparable(out.read_text()), reference)
