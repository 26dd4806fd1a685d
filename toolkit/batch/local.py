"""Local process pool with isolation per APK.

Each worker is a separate process that takes one APK at a time, so when a worker dies (segfault in a parser,
exit, SIGKILL), is stopped for exceeding the hard time limit, or hits its memory cap, the parent knows exactly
which APK did it: that APK gets a `not_analysed` outcome with the reason, a fresh worker takes the slot, and the
batch goes on. The memory cap is RLIMIT_AS set inside the worker, so allocations beyond it fail with MemoryError
instead of pushing the machine into swap or the OOM killer.

Workers are forked from a forkserver that has already imported the analysis code: a replacement worker starts in
milliseconds, and the parent's threads (progress bar) are never forked.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import re
import resource
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from toolkit import safelog
from toolkit.batch.task import (
    ApkTask,
    FailureKind,
    TaskOutcome,
    analyse_task,
    failed_report,
    format_bytes,
    local_engine_identity,
    memory_reason,
    peak_rss_bytes,
)

log = logging.getLogger(__name__)

TaskFunction = Callable[[ApkTask], TaskOutcome]

_PRELOAD = ["toolkit.batch.task"]


def physical_memory() -> int | None:
    """Total physical memory in bytes, None when unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def auto_memory_limit(workers: int) -> int | None:
    """Default per-worker cap: physical memory shared evenly between workers (at least 1 GiB); None if unknown."""
    total = physical_memory()
    if not total:
        return None
    return max(1 << 30, total // max(workers, 1))


_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'512M', '2G', '1.5GiB', '2000000' -> bytes (binary units). Raises ValueError naming the text."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 512M, 2G, 1.5GiB)")
    return int(float(match[1]) * _SIZE_UNITS[match[2].lower()])


def pool_context() -> BaseContext:
    """forkserver on Linux (fast, thread-safe restarts), spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _worker_main(conn: Connection, memory_limit: int | None, function: TaskFunction) -> None:
    """Worker loop: receive a task, run it, send the outcome; exit on EOF, on None, or after a MemoryError."""
    # Ctrl-C goes to the whole process group; the parent decides what to do, workers just finish or get stopped.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    safelog.install()  # a worker's log lines reach the same terminal: escape control characters there too
    if memory_limit:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        conn.send(_READY)  # start-up went fine: from now on, a death is the current APK's doing
    except (OSError, ValueError):
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            outcome = function(task)
        except MemoryError:
            outcome = _outcome_of(task, memory_reason("MemoryError"), "memory")
        except Exception as exc:  # a broken per-APK function must not take the worker's other tasks down
            outcome = _outcome_of(task, f"analysis failed: {type(exc).__name__}: {exc}", None)
        try:
            conn.send(outcome)
        except (OSError, ValueError):
            return
        if outcome.failure == "memory":
            return  # a process that ran out of memory may be in a bad state: start a fresh one


_READY = "phonehome-worker-ready"
# Workers dying before they are ready this many times in a row: the environment is broken, not an APK.
MAX_STARTUP_FAILURES = 3


class PoolError(Exception):
    """The worker processes cannot run at all (they die at start-up); the message says how."""


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    task: ApkTask | None = None
    deadline: float | None = None
    ready: bool = False


class LocalPool:
    """A pool of isolated worker processes. `run(tasks)` yields one outcome per task, in completion order."""

    def __init__(
        self,
        workers: int,
        memory_limit: int | None = None,
        task_timeout: float | None = None,
        function: TaskFunction = analyse_task,
    ) -> None:
        self.workers = max(1, workers)
        self.memory_limit = memory_limit or None
        self.task_timeout = task_timeout
        self.function = function
        self.restarts = 0
        self._ctx = pool_context()

    def _start(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(child_conn, self.memory_limit, self.function),
            daemon=True,
            name="phonehome-worker",
        )
        process.start()
        child_conn.close()
        return _Worker(process=process, conn=parent_conn)

    def run(self, tasks: Sequence[ApkTask]) -> Iterator[TaskOutcome]:
        """Run every task; a worker that dies or overruns costs only its own task."""
        pending = deque(tasks)
        workers: list[_Worker] = []
        startup_failures = 0
        try:
            workers = [self._start() for _ in range(min(self.workers, len(pending)))]
            while True:
                for worker in workers:
                    if worker.task is None and pending:
                        self._assign(worker, pending.popleft())
                busy = [w for w in workers if w.task is not None]
                if not busy:
                    return
                ready: set[Any] = set(
                    wait([w.conn for w in busy] + [w.process.sentinel for w in busy], self._next_timeout(busy))
                )
                for worker in busy:
                    was_ready = worker.ready
                    outcome, replace = self._collect(worker, ready)
                    if worker.ready and not was_ready:
                        startup_failures = 0
                    if replace:
                        self._stop(worker)
                        workers.remove(worker)
                        if outcome is None:  # died before it was ready: not the APK's doing, run it again
                            assert worker.task is not None
                            pending.appendleft(worker.task)
                            startup_failures += 1
                            if startup_failures >= MAX_STARTUP_FAILURES:
                                raise PoolError(
                                    f"worker processes die at start-up (last exit status {worker.process.exitcode}); "
                                    "see the messages above. A Python script that scans needs the "
                                    "`if __name__ == '__main__':` guard of multiprocessing, and cannot be read from stdin"
                                )
                        if pending:
                            self.restarts += 1
                            workers.append(self._start())
                    if outcome is not None:
                        yield outcome
        finally:
            for worker in workers:
                self._stop(worker, graceful=True)

    def _assign(self, worker: _Worker, task: ApkTask) -> None:
        worker.task = task
        worker.deadline = time.monotonic() + self.task_timeout if self.task_timeout else None
        with contextlib.suppress(OSError):  # a worker already dead is noticed by the wait that follows
            worker.conn.send(task)

    def _next_timeout(self, busy: list[_Worker]) -> float | None:
        deadlines = [w.deadline for w in busy if w.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _collect(self, worker: _Worker, ready: set[Any]) -> tuple[TaskOutcome | None, bool]:
        """(outcome, replace the worker?) for a busy worker. (None, False): still working; (None, True): it died
        before it was ready (start-up failure, the task must run again)."""
        task = worker.task
        assert task is not None
        if worker.conn in ready or worker.process.sentinel in ready:
            try:
                while worker.conn.poll():
                    message = worker.conn.recv()
                    if message == _READY:
                        worker.ready = True
                        continue
                    outcome: TaskOutcome = message
                    worker.task = None
                    return outcome, outcome.failure == "memory"
            except (EOFError, OSError):
                pass
            if worker.process.is_alive() and worker.process.sentinel not in ready:
                return None, False  # only the ready message arrived
            worker.process.join(timeout=5)
            if not worker.ready:
                log.warning("a worker process died at start-up (exit status %s)", worker.process.exitcode)
                return None, True
            return self._died(task, worker.process.exitcode), True
        if worker.deadline is not None and time.monotonic() >= worker.deadline:
            reason = (
                f"analysis exceeded the hard time limit of {self.task_timeout:.0f} s per APK; the worker was stopped"
            )
            log.warning("%s: %s", task.path, reason)
            return self._failed(task, reason, "timeout"), True
        return None, False

    def _died(self, task: ApkTask, exitcode: int | None) -> TaskOutcome:
        failure: FailureKind = "crash"
        if exitcode is not None and exitcode < 0:
            name = _signal_name(-exitcode)
            if -exitcode == signal.SIGKILL:
                failure = "killed"
                how = f"was killed by {name} (the system's out-of-memory killer or an operator)"
            else:
                how = f"crashed ({name})"
        else:
            how = f"exited unexpectedly with status {exitcode}"
        limit = f" under a {format_bytes(self.memory_limit)} memory limit" if self.memory_limit else ""
        reason = f"the isolated worker process analysing this APK {how}{limit}; the rest of the batch went on"
        if failure == "killed":
            reason += " (not cached: a re-run retries it)"
        log.warning("%s: %s", task.path, reason)
        return self._failed(task, reason, failure)

    def _failed(self, task: ApkTask, reason: str, failure: FailureKind) -> TaskOutcome:
        return _outcome_of(task, reason, failure)

    def _stop(self, worker: _Worker, graceful: bool = False) -> None:
        if graceful and worker.task is None and worker.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
            worker.process.join(timeout=2)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=5)
        worker.conn.close()


def _outcome_of(task: ApkTask, reason: str, failure: FailureKind | None) -> TaskOutcome:
    return TaskOutcome(
        task_id=task.id,
        sha256=task.sha256,
        report=failed_report(task, reason),
        failure=failure,
        engine=local_engine_identity(),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        peak_rss_bytes=peak_rss_bytes(),
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
