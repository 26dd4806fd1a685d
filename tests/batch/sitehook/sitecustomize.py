"""Test support only: slow down or crash the analysis in CLI subprocesses of tests/batch.

Put this folder on PYTHONPATH of a `phonehome` subprocess (tests/batch/test_resume_cli.py does) and set:
  PHONEHOME_TEST_SLOW_SECONDS=0.3   every analysis sleeps this long first (so a test can interrupt a run mid-way)
  PHONEHOME_TEST_CRASH_NAME=boom    the worker analysing an APK whose file name contains this dies with a real SIGSEGV

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

if _SLOW or _CRASH:
    import toolkit.analysis as _analysis

    _real = _analysis.analyse_apk

    def _wrapped(path, options=None, provenance=None):  # noqa: ANN001 - same signature as analyse_apk
        if _CRASH and _CRASH in Path(path).name:
            ctypes.string_at(0)  # a real segmentation fault: reads address 0
        if _SLOW:
            time.sleep(_SLOW)
        return _real(path, options, provenance)

    _analysis.analyse_apk = _wrapped
