"""Test support for tests/batch and tests/test_pipeline.py: corpora of real APKs and hostile per-APK functions.

The hostile functions are passed explicitly as the per-APK `function` of `run_batch` / `LocalPool` /
`run_on_cluster` (dependency injection, no hook in production code). Each one does something real to the worker
process (a real SIGSEGV, a real MemoryError, a real hang, a real SIGKILL) for APKs whose file name says so, and
runs the real `analyse_task` for every other APK.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import time
import zipfile
from pathlib import Path
from typing import Any

from toolkit.batch.task import ApkTask, TaskOutcome, analyse_task

REPO = Path(__file__).resolve().parents[2]
FIXTURE_APKS = REPO / "fixtures" / "apks"


def copy_fixtures(folder: Path, count: int) -> list[Path]:
    """Copy `count` distinct committed fixture APKs into `folder` (sorted by name, so runs are comparable)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(FIXTURE_APKS.glob("*.apk"))[:count]
    assert len(sources) == count, f"only {len(sources)} fixture APKs in {FIXTURE_APKS}"
    return [Path(shutil.copy(src, folder / src.name)) for src in sources]


def stored_giant(path: Path, mib: int) -> Path:
    """A real APK padded with a `mib` MiB STORED asset: inflation caps do not apply to what androguard reads whole
    (it keeps the APK file, and a copy of it, in memory), so analysing it really needs that much memory."""
    source = FIXTURE_APKS / "flashlight.apk"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
        record = zipfile.ZipInfo("assets/padding.bin", date_time=(1980, 1, 1, 0, 0, 0))
        with out.open(record, "w", force_zip64=True) as fh:
            for _ in range(mib):
                fh.write(os.urandom(1 << 20))
    return path


def hostile_task(task: ApkTask) -> TaskOutcome:
    """Per-APK function: file names containing crash/hang/hog/sigkill get that fate, `logline` logs a warning
    naming the file; the rest the real analysis."""
    name = Path(task.path).name
    if "crash" in name:
        ctypes.string_at(0)  # real SIGSEGV
    if "hang" in name:
        time.sleep(3600)
    if "sigkill" in name:
        os.kill(os.getpid(), signal.SIGKILL)
    if "logline" in name:  # a worker's log line naming the file (as analysis warnings and log.exception do)
        logging.getLogger("toolkit.analysis").warning("%s: odd entry", name)
    if "hog" in name:
        hog = bytearray(1 << 40)  # 1 TiB: a real MemoryError under any memory cap (or without one)
        del hog
    return analyse_task(task)


def slow_task(task: ApkTask) -> TaskOutcome:
    """Per-APK function: the real analysis, after 0.5 s (so a test can act while tasks are in flight)."""
    time.sleep(0.5)
    return analyse_task(task)


def comparable(report_json: str | dict[str, Any]) -> dict[str, Any]:
    """A ScanResult without what differs between any two runs: run timestamps and per-APK timings."""
    data = json.loads(report_json) if isinstance(report_json, str) else json.loads(json.dumps(report_json))
    data.pop("started_at", None)
    data.pop("finished_at", None)
    for apk in data.get("apks", []):
        apk.get("stats", {}).pop("seconds", None)
    return data


def engine_view(apk: dict[str, Any]) -> dict[str, Any]:
    """One APK report as a dict, without the choices the engine currently makes arbitrarily between runs (which of
    several equivalent sink calls of a method it names, that call's offset, the flow id derived from them): two
    uninterrupted runs over the same bytes differ there today. Flows keep source kind and API, sink kind, and the
    methods of both ends; findings keep rule, severity and package; everything else is kept exactly."""
    apk = dict(apk)
    apk["flows"] = sorted(
        (
            f["source"]["kind"],
            f["source"]["api"],
            f["source"]["location"]["class_name"],
            f["source"]["location"]["method"],
            f["sink"]["kind"],
            f["sink"]["location"]["class_name"],
            f["sink"]["location"]["method"],
        )
        for f in apk["flows"]
    )
    apk["findings"] = sorted((f["rule_id"], f["severity"], f["package"] or "") for f in apk["findings"])
    apk["endpoints"] = sorted((e["kind"], e["value"]) for e in apk["endpoints"])
    apk.get("stats", {}).pop("seconds", None)
    return apk


def comparable_reports(reports: list[Any]) -> list[dict[str, Any]]:
    """ApkReports as dicts for comparing two runs: engine_view of each (timings dropped)."""
    return [engine_view(json.loads(report.model_dump_json())) for report in reports]
