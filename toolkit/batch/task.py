"""The per-APK unit of work: one function, run unchanged in a local worker process and on a Dask worker.

`analyse_task(task) -> TaskOutcome` wraps `toolkit.analysis.analyse_apk`. It never raises: a failure of the engine
itself (a bug, a MemoryError under the worker's memory cap) comes back as a `not_analysed` report with the reason,
and `failure` says whether the outcome depends on the machine (memory cap, crash) rather than on the APK alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import resource
import socket
import tempfile
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from toolkit import analysis
from toolkit.analysis.options import AnalysisOptions
from toolkit.models import ApkReport, Provenance, Status
from toolkit.models.common import PhModel
from toolkit.resources import rules_dir

# Why an outcome is not the APK's own verdict but an accident of the run:
#   memory  - the per-worker memory cap was hit (a larger cap may analyse it)
#   crash   - the worker process died with a signal or exit status (parser crash)
#   timeout - the hard per-APK time limit was exceeded and the worker was stopped
#   killed  - the worker was SIGKILLed (OOM killer, operator) or a cluster lost it: transient, never cached
#   mismatch - the bytes analysed are not the ones hashed (file changed, different file on a cluster worker)
FailureKind = Literal["memory", "crash", "timeout", "killed", "mismatch"]

# Failures that say nothing stable about the APK: they are reported but never cached, so a re-run retries them.
TRANSIENT_FAILURES: frozenset[str] = frozenset({"killed", "mismatch"})


class ApkTask(PhModel):
    """One APK to analyse. `data` carries the bytes when they are shipped to a remote worker."""

    id: str = Field(description="Identifies the task in the batch; echoed in the outcome")
    path: str = Field(description="Absolute path of the APK (read by the worker when `data` is None)")
    sha256: str | None = Field(None, description="SHA-256 computed by the client; None when it could not read it")
    size: int | None = None
    data: bytes | None = None
    options: AnalysisOptions = Field(default_factory=AnalysisOptions)


class TaskOutcome(PhModel):
    """What one worker says about one task. `report` has no path/provenance: those belong to each input."""

    task_id: str
    sha256: str | None
    report: ApkReport
    failure: FailureKind | None = None
    engine: str = Field("", description="Engine identity of the worker (see engine_identity)")
    worker: str = Field("", description="host:pid of the worker process")
    peak_rss_bytes: int | None = Field(None, description="Peak resident memory of the worker process so far")


@cache
def code_digest() -> str:
    """Digest of the analysis and model source code, the rules data, androguard's and the geo data's versions.

    ENGINE_VERSION is bumped by hand when semantics change; the digest also catches a local patch or a
    development change that forgot the bump, so a cache never serves results of other code.
    """
    digest = hashlib.sha256()
    root = Path(analysis.__file__).resolve().parent.parent
    files = [f for package in ("analysis", "models") for f in sorted((root / package).rglob("*.py"))]
    # The rules data (a source checkout keeps it beside the package): covered by rules_version once the engine
    # exposes it, and by this digest in any case.
    named = [(f.relative_to(root.parent).as_posix(), f) for f in files]
    rules = rules_dir()
    if rules.is_dir():
        named += [("apk_rules/" + f.relative_to(rules).as_posix(), f) for f in sorted(rules.rglob("*"))
                  if f.is_file() and f.suffix in (".yml", ".yaml", ".json")]
    for name, file in named:
        digest.update(name.encode() + b"\0")
        digest.update(file.read_bytes())
    # Libraries whose data changes results: androguard (manifests, signatures) and the offline geo database
    # (countries on endpoints are part of a cached report).
    for package in ("androguard", "iptocc"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            digest.update(f"{package}={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


# Computed when the code is loaded, so it describes the code this process runs (not files edited since).
code_digest()


def engine_identity(engine_version: str) -> str:
    """ENGINE_VERSION plus the code digest: what the cache key and the client/worker check use."""
    return f"{engine_version}+{code_digest()}"


@cache
def local_engine_identity() -> str:
    """The engine identity of this process (engine version, code digest and rules version)."""
    from toolkit.pipeline import tool_info  # late: the pipeline imports this module

    tool = tool_info()
    return f"{engine_identity(tool.engine_version)}/rules:{tool.rules_version}"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_cap() -> int | None:
    """The RLIMIT_AS soft limit of this process, None when unlimited."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def format_bytes(value: int) -> str:
    """Human size: 1.5 GiB, 512 MiB."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit in ("B", "KiB") or size >= 100 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def failed_report(task: ApkTask, reason: str) -> ApkReport:
    """A `not_analysed` report for a task whose analysis did not complete."""
    return ApkReport(path="", sha256=task.sha256, size=task.size, status=Status.not_analysed, reason=reason)


def memory_reason(detail: str) -> str:
    cap = memory_cap()
    limit = f"the per-worker memory limit of {format_bytes(cap)}" if cap else "the available memory"
    return f"analysis exceeded {limit} ({detail}); a larger --memory-limit may analyse it"


def analyse_task(task: ApkTask) -> TaskOutcome:
    """Analyse one APK (from its path, or from shipped bytes). Never raises."""
    failure: FailureKind | None = None
    try:
        if task.data is not None:
            with tempfile.TemporaryDirectory(prefix="phonehome-task-") as tmp:
                local = Path(tmp) / "input.apk"
                local.write_bytes(task.data)
                report = analysis.analyse_apk(local, task.options)
        else:
            report = analysis.analyse_apk(task.path, task.options)
    except MemoryError:
        report, failure = failed_report(task, memory_reason("MemoryError")), "memory"
    except Exception as exc:  # an engine bug must not lose the batch; it is reported, with its type
        report = failed_report(task, f"analysis failed: {type(exc).__name__}: {exc}")
    if failure is None and report.status is Status.not_analysed and "MemoryError" in (report.reason or ""):
        # The androguard wrapper turns MemoryError into a parse error; it is still the memory cap speaking.
        report.reason = memory_reason(report.reason or "MemoryError")
        failure = "memory"
    if failure is None and task.sha256 and not report.sha256:
        report = failed_report(
            task,
            f"worker {socket.gethostname()} could not read the file the client hashed ({report.reason}); "
            "on a cluster the folder must be shared with the workers at the same path",
        )
        failure = "mismatch"
    elif task.sha256 and report.sha256 and report.sha256 != task.sha256:
        where = "shipped bytes" if task.data is not None else f"{task.path} on worker {socket.gethostname()}"
        report = failed_report(
            task,
            f"the file analysed ({where}, sha256 {report.sha256}) is not the one hashed by the client "
            "(changed during the scan, or a different file at that path on the worker)",
        )
        failure = "mismatch"
    report = report.model_copy(update={"path": "", "provenance": Provenance()})
    return TaskOutcome(
        task_id=task.id,
        sha256=task.sha256,
        report=report,
        failure=failure,
        engine=local_engine_identity(),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        peak_rss_bytes=peak_rss_bytes(),
    )
