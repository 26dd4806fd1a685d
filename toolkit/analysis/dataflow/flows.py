"""Flow reporting: from the analysed methods to `Flow`s with source, sink, path, endpoints, triggers and
permissions.

Only code reachable from an entry point counts. Reachability needs the intents between the app's own
components, which need the global cells' contents, which need reachability (a write in dead code fills no
cell): the three are iterated together until reachability no longer changes.
"""

from __future__ import annotations

import contextlib
import hashlib

from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.cells import CellTables, IccRouting, flatten
from toolkit.analysis.dataflow.entries import Entry, component_entry_methods
from toolkit.analysis.dataflow.evidence import TriggerFinder, add_triggers, code_location, endpoints_of, merge_endpoints
from toolkit.analysis.dataflow.limits import BudgetExceeded, Limits
from toolkit.analysis.dataflow.processes import ProcessCells
from toolkit.analysis.dataflow.solver import Solver
from toolkit.analysis.dataflow.summary import IccSend, SinkHit
from toolkit.analysis.dataflow.values import EMPTY, Label, StreamTag
from toolkit.models import Flow, FlowPoint

REACH_ROUNDS = 16  # rounds of reachability <-> cells <-> intents (more: recorded as cell_rounds)
_CARRIED = frozenset(("S", "X"))


def _labels_order(value: frozenset[Label] | None) -> tuple[str, ...]:
    return () if value is None else tuple(sorted(map(repr, value)))


def _hit_order(hit: SinkHit) -> tuple[object, ...]:
    """A sort key of sink hits that does not depend on set iteration (repr of a frozenset does): hits are
    merged into flows in this order, and the first one met of equal endpoints or triggers is kept."""
    return (len(hit.path), hit.path, hit.kind, hit.api, hit.tag or "", _labels_order(hit.data),
            hit.recv is None, _labels_order(hit.recv), _labels_order(hit.endpoints))


def _icc_order(icc: IccSend) -> tuple[object, ...]:
    return (len(icc.path), icc.path, icc.api, icc.always_external, icc.internal_only, _labels_order(icc.intent))


class FlowBuilder:
    """Turns the solver's results into flows (see module docstring)."""

    def __init__(self, app: App, solver: Solver, routing: IccRouting, entries: dict[str, list[Entry]], limits: Limits) -> None:
        self.app = app
        self.solver = solver
        self.routing = routing
        self.entries = entries
        self.limits = limits
        self.cells = CellTables(limits)
        self.edges: dict[str, set[tuple[str, str]]] = {}
        self.reach: set[str] = set()

    def build(self) -> list[Flow]:
        results = self.solver.results
        for sig, mres in results.items():
            for callee, kind, _off in mres.edges:
                if not callee.startswith("icc:"):
                    self.edges.setdefault(sig, set()).add((callee, kind))
        with contextlib.suppress(BudgetExceeded):  # recorded: flows are built from what is known reachable so far
            self._settle_reachability()
        self.processes = ProcessCells(self.solver, self.entries, (c.process for c in self.app.components.values()),
                                      self.reach, self.edges, self.cells, self.limits)
        reverse: dict[str, set[tuple[str, str]]] = {}
        for caller, outs in self.edges.items():
            for callee, kind in outs:
                reverse.setdefault(callee, set()).add((caller, kind))
        facts = [f for sig in sorted(self.reach) if sig in results for f in sorted(results[sig].facts, key=repr)]
        triggers = TriggerFinder(self.app, self.routing, reverse, self.entries, facts, self.limits)
        flows: dict[tuple[object, ...], Flow] = {}
        for sig in sorted(self.reach):
            res = results.get(sig)
            if res is None:
                continue
            for hit in sorted(res.hits, key=_hit_order):
                self._from_hit(sig, hit, triggers, flows)
            for icc in sorted(res.iccs, key=_icc_order):
                if icc.internal_only or self.routing.result_targets(sig, icc) is not None:
                    continue
                exp = self.processes.cells_for(sig).expand(icc.intent)
                internal = self.routing.internal_targets(icc, exp)
                targets = [lab for lab in exp if lab[0] == "IT"]
                types = [str(t[2]) for t in targets if t[1] == "type"]
                if internal and not icc.always_external and all(
                    (t[1] == "class" and self.app.program.is_app(t[2]))
                    or (t[1] == "action" and self.routing.action_handlers(t[2], types))
                    or t[1] == "type"
                    or (t[1] == "pkg" and t[2] == self.app.meta.package) for t in targets
                ):
                    continue  # stays inside the app: followed through the cells instead
                self._from_hit(sig, SinkHit("icc", icc.api, icc.intent, None, None, frozenset(targets), icc.path), triggers, flows)
        for flow in flows.values():
            flow.endpoints.sort(key=lambda e: (e.kind, e.value))
            flow.triggers.sort(key=lambda t: (t.kind, t.component or "", t.period_seconds or 0, t.detail or "",
                                              t.exported is not None, bool(t.exported), t.actions))
        return sorted(flows.values(), key=lambda f: (f.source.kind, f.sink.kind, f.id))

    def _reachable(self) -> set[str]:
        seen = set(self.entries)
        todo = list(self.entries)
        while todo:
            cur = todo.pop()
            for callee, _k in self.edges.get(cur, ()):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        return seen

    def _settle_reachability(self) -> None:
        results = self.solver.results
        cells = self.cells
        for _round in range(REACH_ROUNDS):
            self.limits.check_time()
            self.reach = self._reachable()
            for sig in sorted(self.reach):
                res = results.get(sig)
                if res is None:
                    continue
                for key, val in res.writes:
                    cells.add(key, (lab for lab in val if lab[0] not in ("P", "A", "F")))
            iccs = [(sig, icc) for sig in sorted(self.reach) if (res := results.get(sig)) is not None
                    for icc in sorted(res.iccs, key=_icc_order)]
            changed = True
            while changed:
                # one pass expands every intent with the tables as they are (expansions stay memoised), then
                # applies what the pass found: the tables change once per pass, not once per intent
                changed = False
                adds: list[tuple[object, list[Label]]] = []
                for sig, icc in iccs:
                    self.limits.check_time()
                    exp = cells.expand(icc.intent)
                    data = [lab for lab in exp if lab[0] in _CARRIED or (lab[0] == "KV" and lab[2][0] in _CARRIED)]
                    adds.extend((("result", target), data) for target in self.routing.result_targets(sig, icc) or [])
                    for target in self.routing.internal_targets(icc, exp):
                        adds.append((("icc", target), data))
                        for m in component_entry_methods(self.app, target):
                            if (m.sig, "icc") not in self.edges.setdefault(sig, set()):
                                self.edges[sig].add((m.sig, "icc"))
                                changed = True
                for key, data in adds:
                    changed |= cells.add(key, data)
            if self._reachable() == self.reach:
                return
        self.limits.hit("cell_rounds", None, f"reachability still growing after {REACH_ROUNDS} rounds")

    def _from_hit(self, sig: str, hit: SinkHit, triggers: TriggerFinder, flows: dict[tuple[object, ...], Flow]) -> None:
        cells = self.processes.cells_for(sig)  # the cells of the process(es) the method runs in
        if not cells.may_carry_source(hit.data):
            return
        data = flatten(cells.expand(hit.data))
        srcs = sorted({lab[1] for lab in data if lab[0] == "S"})
        if not srcs:
            return
        recv: frozenset[Label] = EMPTY
        if hit.tag is not None:
            recv = cells.expand(hit.recv or EMPTY)
            if StreamTag(hit.tag) not in recv:
                return
        transforms = sorted({str(lab[1]) for lab in data if lab[0] == "X"})
        labels = set(cells.expand(hit.endpoints)) | {lab for lab in recv if lab[0] in ("C", "N", "SCHEME")}
        endpoints = endpoints_of(self.app, hit, labels)
        sink_loc = hit.path[-1]
        cat = self.app.cat
        sink_perms = {p for s in cat.sinks_file.sinks if s.kind == hit.kind for p in s.permissions}
        perms = set(self.app.meta.permissions)
        for n in srcs:
            kind, api, src_loc = self.solver.occurrences[n]
            src_sig = f"{src_loc[0]}->{src_loc[1]}{src_loc[2]}"
            if src_sig not in self.reach:
                continue  # the source is read in dead code (or an unregistered callback)
            path = [src_loc] if src_sig != sig or not hit.path or hit.path[0][:3] != src_loc[:3] else []
            path.extend(hit.path)
            key = (kind, src_loc[:3], hit.kind, sink_loc[:3])
            flow_triggers = triggers.triggers({sig, src_sig})
            src_spec = cat.source_kinds.get(kind)
            flow_perms = sorted(perms & (set(src_spec.permissions if src_spec else []) | sink_perms))
            fid = hashlib.sha256(repr((kind, api, src_loc, hit.kind, hit.api, sink_loc)).encode()).hexdigest()[:16]
            new_path = [code_location(p) for p in path]
            existing = flows.get(key)
            if existing is None:
                flows[key] = Flow(
                    id=fid,
                    source=FlowPoint(kind=kind, api=api, location=code_location(src_loc)),
                    sink=FlowPoint(kind=hit.kind, api=hit.api, location=code_location(sink_loc)),
                    path=new_path, transformations=transforms, endpoints=endpoints, triggers=flow_triggers,
                    permissions=flow_perms,
                )
                continue
            # several equivalent calls (two reads of the IMEI, write and print on one stream ...): keep the
            # first in code order, whatever order the analysis met them in (reports must be reproducible)
            new_rank = (src_loc[3], api, sink_loc[3], hit.api)
            old_rank = (existing.source.location.offset or 0, existing.source.api,
                        existing.sink.location.offset or 0, existing.sink.api)
            if new_rank < old_rank:
                existing.source = FlowPoint(kind=kind, api=api, location=code_location(src_loc))
                existing.sink = FlowPoint(kind=hit.kind, api=hit.api, location=code_location(sink_loc))
                existing.id = fid
            if (len(new_path), [str(p) for p in new_path]) < (len(existing.path), [str(p) for p in existing.path]):
                existing.path = new_path
            merge_endpoints(existing.endpoints, endpoints)
            existing.transformations = sorted(set(existing.transformations) | set(transforms))
            add_triggers(existing.triggers, flow_triggers)
