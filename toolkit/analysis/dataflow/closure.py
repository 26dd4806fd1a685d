"""The demand-driven driver: which methods to analyse at all.

Only methods where a sensitive value can be are analysed: the seeds (methods that read a source), then, as
results come in, the callers of methods that return or pass back such a value, the readers of global cells
that hold one, and the components an intent carrying one reaches. Once no new value escapes, the callers of
every method where a flow may start or end are walked up to the entry points, so that reachability (dead code,
unregistered callbacks, disabled components) and triggers are known.
"""

from __future__ import annotations

from collections import deque

from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.cells import IccRouting, TaintTracker, carries, cell_refs
from toolkit.analysis.dataflow.entries import Entry, component_entry_methods
from toolkit.analysis.dataflow.limits import Limits
from toolkit.analysis.dataflow.solver import Solver
from toolkit.analysis.dataflow.values import CellKey
from toolkit.analysis.dex import INVOKE_OPS, SGET_OPS, MethodDef

MAX_METHODS_WALKED = 20000  # methods visited walking callers up to the entry points (more: recorded)
WALK_ROUNDS = 8  # rounds of that walk (objects kept in fields make new callers appear)
CONST_STRING, CONST_STRING_JUMBO = 0x1A, 0x1B


class Closure:
    """Decides which methods the solver analyses, and drives it (see module docstring)."""

    def __init__(self, app: App, solver: Solver, limits: Limits, entries: dict[str, list[Entry]]) -> None:
        self.app = app
        self.solver = solver
        self.limits = limits
        self.entries = entries
        self.routing = IccRouting(app)
        self.tracker = TaintTracker(self.routing)
        self.queue: deque[MethodDef] = deque()
        self.queued: set[str] = set()
        self.escaping: set[str] = set()  # methods whose result or parameter changes carry a sensitive value
        self._ret_refs: dict[CellKey, set[str]] = {}  # cell -> methods whose result/mutations read it

    # --- seeds ---------------------------------------------------------------------------------------------
    def references_sources(self) -> bool:
        """Pre-pass on the string tables: an APK naming no source API (nor provider URI/field) has no source."""
        cat = self.app.cat
        names = set(cat.source_names) | {k.split("(", 1)[0] for k in cat.callback_sources}
        for dex in self.app.dexes:
            if any(dex.find_string(n) is not None for n in names):
                return True
            if any(dex.strings_with_prefix(prefix) for prefix, _kind in cat.provider_prefixes):
                return True
        return False

    def seeds(self) -> list[MethodDef]:
        """App methods that read a source: calls of source APIs and provider queries, reads of provider URI
        fields, constant provider URIs and source names (reflection), and framework callbacks that receive a
        sensitive value (onLocationChanged ...)."""
        cat = self.app.cat
        p = self.app.program
        found: dict[str, MethodDef] = {}
        api_names = [*cat.source_apis, *cat.provider_queries]
        reflective = {api.split("->", 1)[1] for api in cat.source_apis}
        for dex in self.app.dexes:
            idxs = [i for api in api_names for i in dex.find_methods(*api.split("->", 1))]
            hits = dex.methods_referencing(INVOKE_OPS, idxs)
            fidx = [i for f in cat.provider_fields for i in dex.find_fields(*f.split("->", 1))]
            hits |= dex.methods_referencing(SGET_OPS, fidx)
            sidx = [i for prefix, _k in cat.provider_prefixes for i in dex.strings_with_prefix(prefix)]
            sidx += [i for n in reflective if (i := dex.find_string(n)) is not None]
            hits |= dex.methods_referencing((CONST_STRING,), [i for i in sidx if i < 0x10000])
            hits |= dex.methods_referencing((CONST_STRING_JUMBO,), sidx, wide=True)
            for m in hits:
                if p.is_app(m.class_desc):
                    found[m.sig] = m
        for sig, m in p.methods.items():
            if m.name + m.proto in cat.callback_sources and p.is_app(m.class_desc) and m.code_off:
                found[sig] = m
        return [found[k] for k in sorted(found)]

    # --- closure -------------------------------------------------------------------------------------------
    def run(self, seeds: list[MethodDef]) -> None:
        """Analyse the seeds and everything their values reach, to a fixpoint."""
        for m in seeds:
            self._want(m)
        self._settle()

    def _want(self, m: MethodDef) -> None:
        if m.sig not in self.queued and m.sig not in self.solver.results:
            self.queued.add(m.sig)
            self.queue.append(m)

    def _settle(self) -> None:
        solver = self.solver
        while True:
            while self.queue:
                self.limits.check_time()
                solver.ensure(self.queue.popleft(), settle=False)
            solver.drain()  # once per batch: a caller changed by several of the batch is analysed again once
            self._poll()
            fresh = self.tracker.take_fresh()
            if not fresh and not self.queue:
                return
            # in a fixed order: the order cells are tainted in follows set iteration (a method's writes and
            # intents), and it orders the queue, so the analysis order
            for key in sorted(fresh, key=repr):
                for sig in sorted(self._ret_refs.pop(key, ())):
                    self._escapes(sig)
                for m in self.readers_of(key):
                    self._want(m)

    def _poll(self) -> None:
        """Take in the results the solver (re)computed since the last look."""
        solver = self.solver
        while solver.changed:
            for sig in sorted(solver.changed):
                solver.changed.discard(sig)
                res = solver.results[sig]
                self.tracker.absorb(res)
                self.routing.absorb_facts(res)
                summ = res.summary
                # what the caller sees: the result, and what the method added to its parameter objects and their
                # fields (a Runnable filling a box captured in its field)
                values = [summ.ret, *summ.mutations.values(), *(v for _k, v in summ.relm), *(v for _k, v in summ.relw)]
                if any(carries(v, self.tracker.tainted) for v in values):
                    self._escapes(sig)
                else:
                    for v in values:
                        for ref in cell_refs(v):
                            self._ret_refs.setdefault(ref, set()).add(sig)
            fresh = self.tracker.fresh
            if fresh:
                return  # handled by _settle (readers, escapes)

    def _escapes(self, sig: str) -> None:
        if sig in self.escaping:
            return
        self.escaping.add(sig)
        m = self.app.program.methods.get(sig)
        if m is not None:
            for caller in self.callers(m):
                self._want(caller)

    # --- code references -----------------------------------------------------------------------------------
    def callers(self, m: MethodDef) -> list[MethodDef]:
        """Direct callers, plus, for an instance method, readers of fields holding objects of its class
        (objects kept in fields are registered or called later by whoever reads the field)."""
        out = {c.sig: c for c in self.app.direct_callers(m)}
        if not m.is_static and not m.name.startswith("<"):
            for key in sorted(self.solver.info_holders.get(m.class_desc, ()), key=repr):
                for r in self.readers_of(key):
                    out.setdefault(r.sig, r)
        return [out[k] for k in sorted(out)]

    def readers_of(self, key: CellKey) -> list[MethodDef]:
        """Methods that may read a global cell."""
        app = self.app
        fam = app.cat.families
        cm = app.cat.components
        if not (isinstance(key, tuple) and len(key) == 2):
            return []
        kind = key[0]
        if kind == "icc":
            return component_entry_methods(app, str(key[1]))
        if kind == "prefs":
            return sorted({m.sig: m for cls in fam.preferences for m in app.invokers(cls, "get")}.values(), key=lambda m: m.sig)
        if kind == "file":
            found = {m.sig: m for cls in fam.file_readers for m in app.invokers(cls, "<init>")}
            for api in fam.file_openers:
                cls, name = api.split("->", 1)
                found.update({m.sig: m for m in app.invokers(cls, name)})
            return [found[k] for k in sorted(found)]
        if kind in ("uncaught", "channel"):  # where a handler is installed: its callback runs there
            name = "uncaught" if kind == "uncaught" else str(key[1])
            found = {m.sig: m for api, spec in sorted(app.cat.callbacks.items()) if spec.pass_cell == name
                     for m in app.invokers(*api.split("->", 1))}
            return [found[k] for k in sorted(found)]
        if kind == "work":
            return [m for m in app.class_methods(str(key[1])) if m.name in fam.worker_methods]
        if kind in ("saved_state", "result"):
            names = {*cm.saved_state_readers, cm.activity_result}
            return [m for m in app.class_methods(str(key[1])) if m.name in names]
        if str(kind).startswith("L"):
            return app.field_users(key, write=False)
        return []

    def writers_of(self, key: CellKey) -> list[MethodDef]:
        if not (isinstance(key, tuple) and len(key) == 2) or not str(key[0]).startswith("L"):
            return []
        return self.app.field_users(key, write=True)

    # --- reachability --------------------------------------------------------------------------------------
    def walk_to_entries(self) -> None:
        """Analyse the callers (up to entry points) of every method where a flow may start or end."""
        solver = self.solver
        tainted = self.tracker.tainted
        interesting: dict[str, MethodDef] = {}
        for res in list(solver.results.values()):
            if any(carries(h.data, tainted) for h in res.hits) or any(carries(i.intent, tainted) for i in res.iccs):
                interesting[res.method.sig] = res.method
        if not interesting:
            return  # no sensitive value reaches any sink: nothing to prove reachable
        keys: set[CellKey] = set()
        for res in list(solver.results.values()):
            if any(carries(v, tainted) for _k, v in res.writes):
                interesting[res.method.sig] = res.method
            for h in res.hits:
                if carries(h.data, tainted):
                    # writers of fields read by tainted sinks (endpoints in static fields, streams kept in fields)
                    for lab in (*h.endpoints, *(h.recv or ())):
                        if lab[0] == "G" and not (isinstance(lab[1], tuple) and lab[1][0] == "icc"):
                            keys.add(lab[1])
        for _kind, _api, loc in solver.occurrences:
            m = self.app.program.methods.get(f"{loc[0]}->{loc[1]}{loc[2]}")
            if m is not None:
                interesting[m.sig] = m
        for key in sorted(keys, key=repr):
            self.limits.check_time()
            for w in self.writers_of(key):
                interesting.setdefault(w.sig, w)
        # methods that start own components, set alarms/jobs or register receivers: they make triggers
        cat = self.app.cat
        names = {api.split("->", 1)[1] for api in [*cat.icc, *cat.alarms, *cat.job_schedule, *cat.register_receiver]}
        for m in self.app.invokers_of_names(names):
            interesting.setdefault(m.sig, m)
        queue = deque(interesting[k] for k in sorted(interesting))
        seen: set[str] = set(interesting)
        walked: list[MethodDef] = []
        for _round in range(WALK_ROUNDS):
            while queue:
                if len(seen) >= MAX_METHODS_WALKED:
                    self.limits.hit("caller_walk", queue[0].sig, f"more than {MAX_METHODS_WALKED} methods between sinks and entry points")
                    queue.clear()
                    break
                self.limits.check_time()
                m = queue.popleft()
                solver.ensure(m, settle=False)  # settled once per round, below
                if m.sig in self.entries and m.name != "<init>":
                    continue
                walked.append(m)
                for c in self.callers(m):
                    if c.sig not in seen:
                        seen.add(c.sig)
                        queue.append(c)
            solver.drain()
            # analysing callers fills fields with objects (listeners kept in fields): look again
            for m in walked:
                for c in self.callers(m):
                    if c.sig not in seen:
                        seen.add(c.sig)
                        queue.append(c)
            if not queue:
                break
        else:
            if queue:
                self.limits.hit("caller_walk", queue[0].sig, f"callers still appearing after {WALK_ROUNDS} rounds")
        for sig in sorted(self.entries):
            m = self.app.program.methods.get(sig)
            if m is not None and sig in seen:
                solver.ensure(m)
        # the walk may have made new values escape (e.g. a caller stores into a field): close again
        self._poll()
        self._settle()
