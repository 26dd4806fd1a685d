"""Test support only: slow down or crash the analysis in CLI subprocesses of tests/batch.

Put this folder on PYTHONPATH of a `phonehome` subprocess (tests/batch/test_resume_cli.py does) and set:
  PHONEHOME_TEST_SLOW_SECONDS=0.3   every analysis sleeps this long first (so a test can interrupt a run mid-way)
  PHONEHOME_TEST_CRASH_NAME=boom    the worker analysing an APK whose file name contains this dies with a real SIGSEGV
  PHONEHOME_TEST_GATE=<dir> and PHONEHOME_TEST_GATE_ALLOW=2
                                    only that many analyses of the run may proceed; the others wait (until their
                                    phonehome process is gone, or 120 s), so a test can interrupt a run while work
                                    remains on any machine, however loaded (no race with a delay)

Python imports `sitecustomize` at start-up of every interpreter, including the forkserver and the worker processes
of the local pool, so the wrapper is in place wherever `toolkit.analysis.analyse_apk` runs. No production module
reads these variables: without this folder on PYTHONPATH they do nothing. The real analysis still runs for every
APK that is not crashed on purpose.
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

_SLOW = float(os.environ.get("PHONEHOME_TEST_SLOW_SECONDS") or 0)
_CRASH = os.environ.get("PHONEHOME_TEST_CRASH_NAME") or ""
_GATE = os.environ.get("PHONEHOME_TEST_GATE") or ""
_ALLOW = int(os.environ.get("PHONEHOME_TEST_GATE_ALLOW") or 0)
if _GATE:
    # The first interpreter (the CLI) names itself; its forkserver and workers inherit the variable.
    os.environ.setdefault("PHONEHOME_TEST_GATE_OWNER", str(os.getpid()))


def _owner_alive() -> bool:
    """The CLI process is running (not gone, not a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{os.environ['PHONEHOME_TEST_GATE_OWNER']}/stat").read_text()
    except (OSError, KeyError):
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _gate() -> None:
    """Take the next ticket (an O_EXCL file in the gate folder); tickets past the allowance wait."""
    ticket = 1
    while True:
        try:
            os.close(os.open(os.path.join(_GATE, f"ticket-{ticket}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            ticket += 1
    if ticket <= _ALLOW:
        return
    deadline = time.monotonic() + 120
    while _owner_alive() and time.monotonic() < deadline:
        time.sleep(0.05)


if _SLOW or _CRASH or _GATE:
    import toolkit.analysis as _analysis

    _real = _analysis.analyse_apk

    def _wrapped(path, options=None, provenance=None):  # noqa: ANN001 - same signature as analyse_apk
        if _CRASH and _CRASH in Path(path).name:
            ctypes.string_at(0)  # a real segmentation fault: reads address 0
        if _GATE:
            _gate()
        if _SLOW:
            time.sleep(_SLOW)
        return _real(path, options, provenance)

    _analysis.analyse_apk = _wrapped
