"""phonehome's data-flow engine: from an APK's DEX files and manifest to source-to-sink flows with evidence.

The parts, in the order data goes through them:

| module | job |
| --- | --- |
| `values.py` | the abstract value domain: typed labels, families, join, size bound |
| `program.py` | every DEX of the APK: classes, hierarchy, method/field resolution, static callees |
| `interpreter.py` (+ `heap.py`, `calls.py`) | one method: forward data flow over its CFG into a summary |
| `semantics/` | how library calls move data: one handler per API family, API names in apk_rules/models.yml |
| `summary.py` | method summaries and their substitution at call sites |
| `solver.py` | summaries bottom-up over the call graph with a worklist (no recursion, no depth limit) |
| `sharing.py` | one object per distinct value in the results (memory) |
| `app.py`, `entries.py` | manifest components, code-reference indexes, entry points and their triggers |
| `closure.py` | the demand-driven driver: which methods are analysed at all |
| `cells.py` | global cells (fields, intents between components, preferences, files) as one constraint system |
| `flows.py`, `evidence.py` | reachable sink hits to `Flow`s with path, endpoints, triggers and permissions |
| `processes.py` | android:process: which process each method runs in, and the cells it sees there |
| `limits.py` | every limit that cuts the analysis, recorded by name and place (status `partial`) |
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.closure import Closure
from toolkit.analysis.dataflow.entries import compute_entries
from toolkit.analysis.dataflow.flows import FlowBuilder
from toolkit.analysis.dataflow.limits import BudgetExceeded, Limits
from toolkit.analysis.dataflow.solver import Solver
from toolkit.analysis.dataflow.values import CUT_COUNTER
from toolkit.analysis.dex import DexFile
from toolkit.models import AnalysisLimit, ApkMetadata, Flow

__all__ = ["LeakResult", "find_leaks"]


@dataclass
class LeakResult:
    """The flows of one APK, how much code was analysed, and what cut the analysis (if anything)."""

    flows: list[Flow] = field(default_factory=list)
    methods_total: int = 0
    methods_analysed: int = 0
    limits: list[AnalysisLimit] = field(default_factory=list)
    partial_reason: str | None = None
    problems: list[str] = field(default_factory=list)


def find_leaks(
    dexes: list[DexFile], meta: ApkMetadata, catalogue: Catalogue, deadline: float | None = None,
    resource_strings: dict[int, str] | None = None, layout_blob: bytes = b"",
) -> LeakResult:
    """Source-to-sink flows of one APK's code. The deadline bounds every phase; flows found before it are
    reported and the time_budget limit is recorded."""
    limits = Limits(deadline if deadline is not None else time.monotonic() + 60)
    app = App(dexes, meta, catalogue)
    app.layout_blob = layout_blob
    solver = Solver(app.program, set(app.components), limits)
    solver.http_proxies = any(d.find_string(marker) is not None for d in dexes for marker in catalogue.families.http_proxy_markers)
    solver.resource_strings = resource_strings or {}
    result = LeakResult(methods_total=app.methods_total)
    cuts = [0]
    token = CUT_COUNTER.set(cuts)
    try:
        entries = compute_entries(app)
        solver.entry_sigs = frozenset(entries)
        closure = Closure(app, solver, limits, entries)
        if closure.references_sources():
            _analyse(app, solver, closure)
            # a BudgetExceeded here is recorded; the flows of the analysis so far could not be resolved in time
            with contextlib.suppress(BudgetExceeded):
                result.flows = FlowBuilder(app, solver, closure.routing, entries, limits).build()
    finally:
        CUT_COUNTER.reset(token)
    if cuts[0]:
        limits.hit("value_size")
        limits.hits["value_size"].count = cuts[0]
    result.methods_analysed = len(solver.results)
    result.problems = list(solver.errors)
    result.limits = limits.recorded()
    result.partial_reason = limits.reason()
    return result


def _analyse(app: App, solver: Solver, closure: Closure) -> None:
    try:
        seeds = closure.seeds()
        if not seeds:
            return
        # field initialisers of components run first: they put listeners/handlers in fields that the
        # lifecycle methods later register (needed to resolve those callbacks)
        for desc in sorted(app.components):
            cdef = app.program.classes.get(desc)
            if cdef is not None and app.program.is_app(desc):
                for m in list(cdef.methods.values()):
                    if m.name == "<init>" and m.code_off:
                        solver.ensure(m)
        closure.run(seeds)
        closure.walk_to_entries()
    except BudgetExceeded:
        pass  # recorded as the time_budget limit; what was analysed is still turned into flows
