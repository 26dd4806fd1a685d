"""SIGTERM and SIGHUP stop a scan like Ctrl-C (issue 12, item 17): the worker pool and the forkserver go with it,
finished results stay in the cache for the resume. A real `phonehome` process, its real workers, real signals."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APKS = REPO / "fixtures" / "apks"

pytestmark = pytest.mark.timeout(180)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cached(cache: Path) -> int:
    with contextlib.suppress(sqlite3.Error), \
            contextlib.closing(sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=0.2)) as db:
        return int(db.execute("SELECT count(*) FROM results").fetchone()[0])
    return 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_workers_and_keeps_finished_results(tmp_path: Path, signum: int) -> None:
    cache = tmp_path / "cache.sqlite"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "apk", "scan", str(APKS), "-j", "2", "--cache",
                             str(cache), "--format", "json", "--output", str(tmp_path / "r.json")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own group: the signal reaches phonehome alone
    try:
        # Interrupt on progress, not after a delay: once results are being cached and the workers are busy.
        end = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < end and proc.poll() is None:
            workers = _descendants(proc.pid)
            if len(workers) >= 2 and _cached(cache) >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the scan ended before it could be interrupted"
        os.kill(proc.pid, signum)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 2, err
    assert "interrupted: finished results are saved in" in err and "run the same command again to resume" in err
    assert "Traceback" not in err
    assert _cached(cache) >= 1
    deadline = time.monotonic() + 15  # the forkserver leaves when its parent is gone
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "worker processes (or the forkserver) were left running"
