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

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from toolkit.batch.task import ApkTask, TaskOutcome, analyse_task, failed_report, local_engine_identity

log = logging.getLogger(__name__)

TaskFunction = Callable[[ApkTask], TaskOutcome]

DEFAULT_SHIP_MAX_BYTES = 16 * 1024 * 1024


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
    owners: dict[object, ApkTask] = {}
    queue = iter(tasks)
    try:
        threads = sum(client.nthreads().values())
        in_flight = max(4, 2 * threads)
        log.info("Dask cluster %s: %d worker threads, %d tasks in flight at most", address, threads, in_flight)

        def submit_next() -> object | None:
            task = next(queue, None)
            if task is None:
                return None
            shipped = _ship(task, ship_max_bytes)
            key = f"phonehome-analyse-{(task.sha256 or 'unhashed')[:16]}-{run_id}-{len(owners)}"
            future = client.submit(function, shipped, key=key, pure=False, retries=retries)
            owners[future.key] = task
            return future

        initial = []
        for _ in range(in_flight):
            future = submit_next()
            if future is None:
                break
            initial.append(future)
        if not initial:
            return
        completed = as_completed(initial, loop=client.loop)  # this client is not the process default
        for future in completed:
            task = owners.pop(future.key)
            yield _outcome(future, task)
            future.release()
            more = submit_next()
            if more is not None:
                completed.add(more)
    finally:
        client.close()


def _ship(task: ApkTask, ship_max_bytes: int) -> ApkTask:
    """Attach the bytes of a small APK; a large one (or one the client cannot read) goes by path."""
    if task.size is None or task.size > ship_max_bytes or task.sha256 is None:
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
