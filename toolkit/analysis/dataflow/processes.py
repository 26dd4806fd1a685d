"""Processes (android:process): which process each reachable method runs in, and the global cells it sees there.

A component declared with android:process runs in a process of its own, with its own copy of every static field
and its own objects: a static field set by an activity in the app's default process is still unset in a service
running in ":remote". What crosses processes is what the system carries: intents (and results), shared
preferences, files, and Messenger channels. So an app with more than one process gets one cell table per set of
processes: the field (and method-local) cells written by the methods that run there, plus every shared cell. An
app with one process (almost all) keeps the single app-wide table.

Entry points that belong to no component (static initialisers, constructors, the Application, fragments, layout
callbacks without a component) run in every process; edges between components (intents) start the target in its
own process, so the per-process walk does not follow them.
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.analysis.dataflow.cells import CellTables
from toolkit.analysis.dataflow.entries import Entry
from toolkit.analysis.dataflow.limits import Limits
from toolkit.analysis.dataflow.solver import Solver
from toolkit.analysis.dataflow.values import CellKey, Label

DEFAULT = ""  # the app's default process (Component.process None)
_PER_PROCESS = ("bag", "param", "uncaught")  # cell kinds private to a process, besides fields ("L...;" keys)
_CARRIED_BETWEEN = ("icc", "result")  # filled app-wide while reachability settles (what intents carried)
_NOT_STORED = ("P", "A", "F")  # symbolic labels a write keeps for its callers: not cell content


def per_process(key: CellKey) -> bool:
    """A cell each process has its own copy of: fields, and the cells of methods and their parameters."""
    kind = str(key[0]) if isinstance(key, tuple) and key else ""
    return kind.startswith("L") or kind in _PER_PROCESS


class ProcessCells:
    """The cell table a method sees, by the processes it may run in (see module docstring)."""

    def __init__(self, solver: Solver, entries: dict[str, list[Entry]], processes: Iterable[str | None],
                 reach: set[str], edges: dict[str, set[tuple[str, str]]], shared: CellTables, limits: Limits) -> None:
        self.solver = solver
        self.reach = reach
        self.shared = shared
        self.limits = limits
        every = frozenset(p or DEFAULT for p in processes) | {DEFAULT}
        self.multi = len(every) > 1
        self.of: dict[str, frozenset[str]] = self._walk(entries, edges, every) if self.multi else {}
        self._tables: dict[frozenset[str], CellTables] = {}

    def _walk(self, entries: dict[str, list[Entry]], edges: dict[str, set[tuple[str, str]]],
              every: frozenset[str]) -> dict[str, frozenset[str]]:
        """Method -> the processes it may run in: from each entry, along calls and callbacks, not intents."""
        starts: dict[str, list[str]] = {}
        for sig in sorted(entries):
            if sig not in self.reach:
                continue
            ways = entries[sig]
            procs = every if any(e.component is None for e in ways) else {e.component.process or DEFAULT
                                                                         for e in ways if e.component is not None}
            for p in sorted(procs):
                starts.setdefault(p, []).append(sig)
        found: dict[str, set[str]] = {}
        for p, sigs in starts.items():
            seen = set(sigs)
            todo = list(sigs)
            while todo:
                cur = todo.pop()
                for callee, kind in edges.get(cur, ()):
                    if kind != "icc" and callee not in seen:
                        seen.add(callee)
                        todo.append(callee)
            for sig in seen:
                found.setdefault(sig, set()).add(p)
        return {sig: frozenset(ps) for sig, ps in found.items()}

    def cells_for(self, sig: str) -> CellTables:
        """The table method `sig` reads cells from."""
        procs = self.of.get(sig) if self.multi else None
        if procs is None:
            return self.shared
        table = self._tables.get(procs)
        if table is None:
            table = self._tables[procs] = self._table(procs)
        return table

    def _table(self, procs: frozenset[str]) -> CellTables:
        table = CellTables(self.limits)
        results = self.solver.results
        for sig in sorted(self.reach):
            res = results.get(sig)
            if res is None:
                continue
            runs_here = bool(self.of.get(sig, procs) & procs)
            for key, val in res.writes:
                if runs_here or not per_process(key):
                    table.add(key, _stored(val))
        for key, labels in self.shared.tables.items():
            if isinstance(key, tuple) and key and key[0] in _CARRIED_BETWEEN:
                table.add(key, labels)
        return table


def _stored(value: frozenset[Label]) -> list[Label]:
    return [lab for lab in value if lab[0] not in _NOT_STORED]
