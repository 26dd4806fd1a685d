"""Dask distributed: send the per-APK work to a cluster with Dask's futures API.

The function submitted is `toolkit.batch.task.analyse_task`, the very one the local pool runs: there is no second
analysis code path. Small APKs are shipped with the task; larger ones are read by the workers from the same
absolute path, which must be shared (NFS, SMB, a bind mount ...). Each worker checks the SHA-256 of what it read
against the client's, so a missing or different file on a worker is reported, never silently analysed.

Worker death is Dask's business: the scheduler re-runs the tasks of a lost worker elsewhere (up to
`distributed.scheduler.allowed-failures` times, then KilledWorker, which is reported as `not_analysed` and not
cached). The memory cap of a cluster is Dask's own `dask worker --memory-limit` (the nanny restarts a worker that
exceeds it). Only a bounded number of tasks is in flight, so a store of 100 000 APKs never sits in memory at once.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from toolkit.batch.task import ApkTask, TaskOutcome, analyse_task, failed_report, local_engine_identity

log = logging.getLogger(__name__)

TaskFunction = Callable[[ApkTask], TaskOutcome]

DEFAULT_SHIP_MAX_BYTES = 16 * 1024 * 1024
# Bytes of shipped APKs in flight at once: the client never holds more than this (plus one APK) in memory.
SHIP_BUDGET_BYTES = 256 * 1024 * 1024
# Tasks queued per worker thread: enough to hide the scheduler round trip behind the work of small APKs.
IN_FLIGHT_PER_THREAD = 2


class ClusterError(Exception):
    """The Dask scheduler cannot be reached or used; the message names the address."""


def run_on_cluster(
    tasks: Sequence[ApkTask],
    address: str,
    ship_max_bytes: int = DEFAULT_SHIP_MAX_BYTES,
    function: TaskFunction = analyse_task,
    retries: int = 1,
    connect_timeout: float = 30.0,
) -> Iterator[TaskOutcome]:
    """Run every task on the Dask cluster at `address`; yields outcomes as they complete."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise ClusterError("--scheduler needs Dask: pip install 'phonehome[cluster]'") from exc
    try:
        client = Client(address, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot connect to the Dask scheduler at {address}: {exc}") from exc
    run_id = uuid.uuid4().hex[:8]
    numbers = itertools.count()
    owners: dict[object, tuple[ApkTask, int]] = {}  # future key -> (task, bytes shipped with it)
    queue = deque(tasks)
    try:
        threads = sum(client.nthreads().values())
        max_tasks = max(4, IN_FLIGHT_PER_THREAD * threads)
        log.info("Dask cluster %s: %d worker threads, %d tasks in flight at most", address, threads, max_tasks)
        completed = as_completed(loop=client.loop)  # this client is not the process default: give its loop
        shipped_bytes = 0

        def fill() -> None:
            """Submit while fewer than max_tasks tasks and SHIP_BUDGET bytes are in flight (one task at least)."""
            nonlocal shipped_bytes
            while queue and len(owners) < max_tasks:
                planned = (queue[0].size or 0) if _shippable(queue[0], ship_max_bytes) else 0
                if owners and shipped_bytes + planned > SHIP_BUDGET_BYTES:
                    return
                task = _ship(queue.popleft(), ship_max_bytes)
                size = len(task.data) if task.data is not None else 0
                key = f"phonehome-analyse-{(task.sha256 or 'unhashed')[:16]}-{run_id}-{next(numbers)}"
                future = client.submit(function, task, key=key, pure=False, retries=retries)
                owners[future.key] = (queue_item_without_data(task), size)
                shipped_bytes += size
                completed.add(future)

        fill()
        for future in completed:
            task, size = owners.pop(future.key)
            shipped_bytes -= size
            yield _outcome(future, task)
            future.release()
            fill()
    finally:
        client.close()


def queue_item_without_data(task: ApkTask) -> ApkTask:
    """What the client keeps of a submitted task: not the shipped bytes (the worker has them)."""
    return task if task.data is None else task.model_copy(update={"data": None})


def _shippable(task: ApkTask, ship_max_bytes: int) -> bool:
    return task.size is not None and task.size <= ship_max_bytes and task.sha256 is not None


def _ship(task: ApkTask, ship_max_bytes: int) -> ApkTask:
    """Attach the bytes of a small APK; a large one (or one the client cannot read) goes by path."""
    if not _shippable(task, ship_max_bytes):
        return task
    try:
        return task.model_copy(update={"data": Path(task.path).read_bytes()})
    except OSError as exc:
        log.warning("%s: cannot read to ship it, the worker will read the path: %s", task.path, exc)
        return task


def _outcome(future: object, task: ApkTask) -> TaskOutcome:
    status = getattr(future, "status", "error")
    if status == "finished":
        outcome: TaskOutcome = future.result()  # type: ignore[attr-defined]
        return outcome
    try:
        exc = future.exception()  # type: ignore[attr-defined]
        detail = f"{type(exc).__name__}: {exc}"
    except Exception as err:  # cancelled or lost futures raise here
        detail = f"{type(err).__name__}: {err}"
    reason = f"the Dask cluster could not analyse this APK ({status}: {detail}); not cached, a re-run retries it"
    log.warning("%s: %s", task.path, reason)
    return TaskOutcome(
        task_id=task.id,
        sha256=task.sha256,
        report=failed_report(task, reason),
        failure="killed",
        engine=local_engine_identity(),
    )
