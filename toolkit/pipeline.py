"""Orchestration shared by every way in: APK inputs -> per-APK reports -> one ScanResult.

Sources (files, phone, firmware, store) build `ApkInput`s; this module runs the analysis on them and assembles the
result. Reporters then render the result. Progress goes to an optional callback; this module never prints.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from toolkit import __version__
from toolkit.analysis import ENGINE_VERSION, AnalysisOptions, sha256_file
from toolkit.batch.cache import CacheError, CacheKey, Limits, ResultCache, open_cache, options_digest
from toolkit.batch.cluster import DEFAULT_SHIP_MAX_BYTES, run_on_cluster
from toolkit.batch.local import LocalPool, TaskFunction, auto_memory_limit
from toolkit.batch.task import ApkTask, TaskOutcome, analyse_task, engine_identity, local_engine_identity
from toolkit.models import (
    ApkInput,
    ApkReport,
    DeviceInventory,
    FirmwareInfo,
    InputError,
    RuleInfo,
    ScanResult,
    Status,
    Target,
    ToolInfo,
)
from toolkit.models.common import PhModel

log = logging.getLogger(__name__)


class ScanOptions(PhModel):
    """Options of a whole scan (many APKs): parallelism, isolation limits, result cache, cluster."""

    analysis: AnalysisOptions = Field(default_factory=AnalysisOptions)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    cache_path: Path | None = Field(
        None, description="Result cache file; None: $XDG_CACHE_HOME/phonehome/results.sqlite3"
    )
    no_cache: bool = Field(False, description="Neither read nor write the result cache")
    scheduler: str | None = Field(None, description="Dask scheduler address (tcp://host:8786): run on that cluster")
    memory_limit: int | None = Field(
        None, ge=0, description="Per-worker memory cap in bytes (RLIMIT_AS); None: physical RAM / workers; 0: none"
    )
    task_timeout: float | None = Field(
        None, gt=0, description="Hard wall-clock limit per APK in a local worker; None: 2 x time budget + 60 s"
    )
    isolate: bool = Field(True, description="Analyse in worker processes (False: in this process, for debugging)")
    ship_max_bytes: int = Field(DEFAULT_SHIP_MAX_BYTES, ge=0, description="Cluster: ship APKs up to this size")

    def effective_memory_limit(self) -> int | None:
        if self.memory_limit is None:
            return auto_memory_limit(self.workers)
        return self.memory_limit or None

    def effective_task_timeout(self) -> float:
        return self.task_timeout or 2 * self.analysis.time_budget_seconds + 60


class ProgressEvent(PhModel):
    """One step of progress: `done` of `total` items of `stage` finished; `item` is the one just finished.

    In the `analyse` stage `status` is the item's outcome, `counts` the outcomes so far by status, `cached` how many
    came from the result cache, `rate` the APKs analysed per second (cache hits excluded) and `eta_seconds` the
    estimated time left.
    """

    stage: str
    done: int
    total: int | None = None
    item: str | None = None
    status: Status | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    cached: int = 0
    rate: float | None = None
    eta_seconds: float | None = None


ProgressCallback = Callable[[ProgressEvent], None]


class BatchStats(PhModel):
    """How a batch went (not part of the report: a resumed run and a fresh one give the same report)."""

    inputs: int = 0
    from_cache: int = Field(0, description="Inputs whose result came from the cache")
    analysed: int = Field(0, description="Analyses run in this call (unique APK contents)")
    duplicates: int = Field(0, description="Inputs sharing the bytes of another input (analysed once)")
    failures: dict[str, int] = Field(default_factory=dict, description="Isolation failures by kind")
    counts: dict[str, int] = Field(default_factory=dict, description="Inputs by status")
    seconds: float = 0.0
    cache_path: str | None = None
    cache_problem: str | None = Field(None, description="Why the cache was not used, when it was wanted")
    worker_peak_rss: dict[str, int] = Field(default_factory=dict, description="Peak RSS (bytes) per worker process")
    worker_restarts: int = 0


class BatchResult(PhModel):
    reports: list[ApkReport]
    stats: BatchStats


def analyse_inputs(
    inputs: Sequence[ApkInput], options: ScanOptions | None = None, progress: ProgressCallback | None = None
) -> list[ApkReport]:
    """Analyse every input (result cache, isolated workers or a Dask cluster); results come back in input order."""
    return run_batch(inputs, options, progress).reports


def run_batch(
    inputs: Sequence[ApkInput],
    options: ScanOptions | None = None,
    progress: ProgressCallback | None = None,
    function: TaskFunction = analyse_task,
) -> BatchResult:
    """Analyse every input and say how it went. `function` is the per-APK function (the default in production).

    Order of work: hash every input (SHA-256, also the cache key), serve what the cache has, analyse each distinct
    remaining content once, write each result to the cache as it completes, then give every input its report
    (its own path and provenance) in input order. Re-running after an interruption redoes only what was missing.
    """
    options = options or ScanOptions()
    started = time.monotonic()
    stats = BatchStats(inputs=len(inputs))
    hashes = _hash_inputs(inputs, progress)
    reports: list[ApkReport | None] = [None] * len(inputs)
    by_sha: dict[str, list[int]] = {}
    for index, (sha, _size) in enumerate(hashes):
        if sha:
            by_sha.setdefault(sha, []).append(index)
    stats.duplicates = sum(len(v) - 1 for v in by_sha.values())
    local_pool = options.isolate and not options.scheduler
    limits = Limits(
        memory_limit=options.effective_memory_limit() if local_pool else None,
        timeout=options.effective_task_timeout() if local_pool else None,
    )
    cache = _open_cache(options, stats)
    counts: Counter[str] = Counter()
    tracker = _Tracker(len(inputs), progress, counts)
    try:
        cached: dict[str, ApkReport] = {}
        if cache:
            try:
                cached = cache.get_many(by_sha, limits)
            except CacheError as exc:
                log.warning("result cache not used: %s", exc)
                stats.cache_problem = str(exc)
                cache.close()
                cache = None
        for index, (sha, _size) in enumerate(hashes):
            if sha and sha in cached:
                report = reports[index] = _attach(cached[sha], inputs[index], share=by_sha[sha][0] == index)
                stats.from_cache += 1
                tracker.done_one(report, inputs[index].path, from_cache=True)
        targets_of: dict[str, list[int]] = {}
        tasks: list[ApkTask] = []
        for index, (sha, size) in enumerate(hashes):
            if sha and (sha in cached or sha in targets_of):
                continue
            task_id = sha or f"unread-{index}"
            targets_of[task_id] = by_sha[sha] if sha else [index]
            tasks.append(
                ApkTask(
                    id=task_id,
                    path=os.path.abspath(inputs[index].path),
                    sha256=sha,
                    size=size,
                    options=options.analysis,
                )
            )
        # Largest first: a big APK started last would leave the other workers idle at the end (the report keeps
        # input order whatever the order of work).
        tasks.sort(key=lambda task: -(task.size or 0))
        tracker.start(len(tasks))
        expected_engine = local_engine_identity()
        for outcome in _run(tasks, options, function, stats):
            if options.scheduler:
                outcome = _check_engine(outcome, expected_engine)
            stats.analysed += 1
            if outcome.failure:
                stats.failures[outcome.failure] = stats.failures.get(outcome.failure, 0) + 1
            if outcome.worker and outcome.peak_rss_bytes:
                stats.worker_peak_rss[outcome.worker] = max(
                    outcome.peak_rss_bytes, stats.worker_peak_rss.get(outcome.worker, 0)
                )
            # A local worker forked after the analysis code changed on disk runs other code than this process:
            # its result is fine for this report but must not be cached under this process's engine key.
            same_code = not outcome.engine or outcome.engine == expected_engine
            if cache and outcome.sha256 and same_code:
                try:
                    cache.put(outcome.sha256, outcome.report, outcome.failure, limits)
                except CacheError as exc:  # disk full, file removed ...: the scan goes on, without resumability
                    log.warning("result cache not written any more: %s", exc)
                    stats.cache_problem = str(exc)
                    cache.close()
                    cache = None
            targets = targets_of.pop(outcome.task_id)
            for index in targets:
                report = reports[index] = _attach(outcome.report, inputs[index], share=index == targets[0])
                tracker.done_one(report, inputs[index].path, from_cache=False, task_done=index == targets[-1])
    finally:
        if cache:
            cache.close()
    stats.counts = dict(counts)
    stats.seconds = round(time.monotonic() - started, 3)
    log.info(
        "batch: %d APKs, %d from cache, %d analysed in %.1f s; %s",
        stats.inputs,
        stats.from_cache,
        stats.analysed,
        stats.seconds,
        ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing",
    )
    missing = [inputs[i].path for i, r in enumerate(reports) if r is None]
    if missing:  # cannot happen unless a runner loses an outcome: say so rather than drop inputs silently
        raise RuntimeError(f"batch lost the results of {len(missing)} APKs, e.g. {missing[0]}")
    return BatchResult(reports=[r for r in reports if r is not None], stats=stats)


def _hash_inputs(inputs: Sequence[ApkInput], progress: ProgressCallback | None) -> list[tuple[str | None, int | None]]:
    """(sha256, size) of each input; (None, None) when it cannot be read (the analysis then says why)."""

    def one(item: ApkInput) -> tuple[str | None, int | None]:
        path = Path(item.path)
        try:
            return sha256_file(path), path.stat().st_size
        except OSError:
            return None, None

    results: list[tuple[str | None, int | None]] = []
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        for done, result in enumerate(pool.map(one, inputs), start=1):
            results.append(result)
            if progress and (done % 50 == 0 or done == len(inputs)):
                progress(ProgressEvent(stage="hash", done=done, total=len(inputs)))
    finally:
        # On Ctrl-C, do not wait for the hashes of a whole store still queued: drop them.
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _open_cache(options: ScanOptions, stats: BatchStats) -> ResultCache | None:
    if options.no_cache:
        return None
    tool = tool_info()
    key = CacheKey(
        engine=engine_identity(tool.engine_version), rules=tool.rules_version, options=options_digest(options.analysis)
    )
    try:
        cache = open_cache(options.cache_path, key)
    except CacheError as exc:
        # The scan still runs; it only loses resumability, and says so.
        log.warning("result cache not used: %s", exc)
        stats.cache_problem = str(exc)
        return None
    stats.cache_path = str(cache.path)
    return cache


def _run(
    tasks: list[ApkTask], options: ScanOptions, function: TaskFunction, stats: BatchStats
) -> Iterator[TaskOutcome]:
    if not tasks:
        return
    if options.scheduler:
        yield from run_on_cluster(tasks, options.scheduler, options.ship_max_bytes, function)
    elif not options.isolate:
        for task in tasks:
            yield function(task)
    else:
        pool = LocalPool(
            min(options.workers, len(tasks)),
            options.effective_memory_limit(),
            options.effective_task_timeout(),
            function,
        )
        try:
            yield from pool.run(tasks)
        finally:
            stats.worker_restarts = pool.restarts


def _check_engine(outcome: TaskOutcome, expected: str) -> TaskOutcome:
    """A cluster worker running other phonehome code must not feed the cache or the report.

    (Local workers are forked from this installation; the check is for machines of a cluster.)
    """
    if not outcome.engine or outcome.engine == expected:
        return outcome
    reason = (
        f"the worker {outcome.worker} runs another phonehome engine ({outcome.engine}) than this client "
        f"({expected}); install the same version on every worker"
    )
    log.warning("%s", reason)
    report = ApkReport(path="", sha256=outcome.sha256, status=Status.not_analysed, reason=reason)
    return outcome.model_copy(update={"report": report, "failure": "mismatch"})


def _attach(report: ApkReport, item: ApkInput, share: bool = False) -> ApkReport:
    """The report of one input: the analysis of its bytes, with its own path and provenance.

    `share`: `report` is used by no other input, so its nested lists need no copy (deep copies of hundreds of
    reports dominate a cache-hit rescan). Inputs with the same bytes each get their own deep copy, so a later
    stage that adds a finding to one does not add it to the other.
    """
    update = {"path": item.path, "provenance": item.provenance.model_copy(deep=True)}
    return report.model_copy(update=update, deep=not share)


class _Tracker:
    """Counts, rate and ETA for progress events."""

    def __init__(self, total: int, progress: ProgressCallback | None, counts: Counter[str]) -> None:
        self.total, self.progress, self.counts = total, progress, counts
        self.done = self.cached = self.tasks_done = self.tasks_total = 0
        self.started: float | None = None

    def start(self, tasks_total: int) -> None:
        self.tasks_total, self.started = tasks_total, time.monotonic()

    def done_one(self, report: ApkReport, item: str, from_cache: bool, task_done: bool = True) -> None:
        self.done += 1
        self.counts[report.status.value] += 1
        if from_cache:
            self.cached += 1
        elif task_done:
            self.tasks_done += 1
        if not self.progress:
            return
        rate = eta = None
        if self.started is not None and self.tasks_done:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            rate = self.tasks_done / elapsed
            eta = (self.tasks_total - self.tasks_done) / rate
        self.progress(
            ProgressEvent(
                stage="analyse",
                done=self.done,
                total=self.total,
                item=item,
                status=report.status,
                counts=dict(self.counts),
                cached=self.cached,
                rate=rate,
                eta_seconds=eta,
            )
        )


def tool_info() -> ToolInfo:
    """Versions that make a result reproducible."""
    from importlib.metadata import PackageNotFoundError, version

    from toolkit.analysis.geo import GEO_PACKAGE, database_info

    try:
        androguard = version("androguard")
    except PackageNotFoundError:
        androguard = ""
    geo = database_info()
    return ToolInfo(
        version=__version__,
        engine_version=ENGINE_VERSION,
        rules_version=_rules_version(),
        androguard_version=androguard,
        geo_database=f"{GEO_PACKAGE} {geo.version}" if geo.version else "",
    )


def _rules_version() -> str:
    from toolkit.analysis import rules_version

    return str(rules_version())


def _rules_used(reports: Sequence[ApkReport]) -> list[RuleInfo]:
    """Metadata of the rules behind the findings of these reports (so reporters need nothing else)."""
    used = {f.rule_id for r in reports for f in r.findings}
    if not used:
        return []
    from toolkit.analysis import rule_infos
    from toolkit.analysis.container import CONTAINER_RULES  # findings of the zip check (duplicate entries)

    return [info for info in [*rule_infos(), *CONTAINER_RULES] if info.id in used]


def build_result(
    target: Target,
    reports: Sequence[ApkReport],
    input_errors: Sequence[InputError] = (),
    started_at: datetime | None = None,
    inventory: DeviceInventory | None = None,
    firmware: FirmwareInfo | None = None,
    rules: Sequence[RuleInfo] = (),
) -> ScanResult:
    """Assemble the ScanResult of a run."""
    now = datetime.now(UTC)
    return ScanResult(
        tool=tool_info(),
        started_at=started_at or now,
        finished_at=now,
        target=target,
        apks=list(reports),
        input_errors=list(input_errors),
        rules=list(rules) or _rules_used(reports),
        inventory=inventory,
        firmware=firmware,
    )
