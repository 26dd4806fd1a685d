"""The interprocedural solver: method summaries computed bottom-up with a worklist, to a fixpoint.

No recursion and no call-depth limit: `ensure(m)` orders m's not-yet-summarised callees (from the invoke
instructions and the class hierarchy, an iterative depth-first walk, i.e. the strongly connected components of
the call graph in reverse topological order) and analyses them callees first. A callee met during
interpretation before its summary exists (dispatch by receiver object, callbacks, reflection) is queued and
answered with an empty summary; when its summary appears, or any summary changes, the methods that used it are
analysed again (`dependents`), until nothing changes. Recursion inside a component converges the same way.

Convergence in recursive components (protobuf, ORM and logging libraries are big ones):
- widening: from its WIDEN_AFTER-th analysis on, a method's new summary is joined with the previous one
  (`Summary.join`), so a summary only grows and cannot oscillate (strong updates made some alternate);
  its cells, constants and sink hits go into bags and one hit per sink site (`merge_hits`);
- scheduling: dirty methods are analysed callees first (by first-analysis order); a method already analysed
  WIDEN_AFTER times waits until everything else has settled, so one analysis takes in many callee changes;
- bounds: MAX_ROUNDS changes of one summary, MAX_ANALYSES analyses of one method; either is recorded as the
  `fixpoint_rounds` limit (status partial), never silent.
"""

from __future__ import annotations

import heapq
import logging
import struct
from collections.abc import Callable

from toolkit.analysis.dataflow.calls import MAX_TARGETS
from toolkit.analysis.dataflow.interpreter import WIDEN_AFTER, Cfg, MethodInterpreter
from toolkit.analysis.dataflow.limits import Limits
from toolkit.analysis.dataflow.program import Loc, Program
from toolkit.analysis.dataflow.sharing import ValueTable
from toolkit.analysis.dataflow.summary import DEFAULT_SUMMARY, EMPTY_SUMMARY_KEY, MethodResult, Summary
from toolkit.analysis.dataflow.values import (
    EMPTY,
    AppObject,
    CellKey,
    Label,
    Source,
    cap,
)
from toolkit.analysis.dex import DexError, MethodDef

log = logging.getLogger(__name__)

MAX_METHOD_UNITS = 65535  # code units; a larger method is summarised like a library call (recorded)
MAX_ROUNDS = 24  # changes of one method's summary before it is taken as final (recorded)
# analyses of one method in all (its callees changing): re-analysing it without its own summary changing is only
# time, but a method in a big recursive component could otherwise be analysed once per change of each callee
MAX_ANALYSES = 96
MAX_MEMO_LABELS = 500_000  # labels held by the keys of a memo before it starts again
_INFO_KINDS = frozenset(("O", "T", "U", "K"))
_EMPTY_SUMMARY = Summary()
_LATE = 1 << 40


class Solver:
    """Analyses the methods of one program, on demand, into summaries and effects."""

    def __init__(self, program: Program, component_classes: set[str], limits: Limits) -> None:
        self.p = program
        self.cat = program.cat
        self.components = component_classes  # descriptors of manifest components (+ dynamic receivers)
        self.limits = limits
        self.results: dict[str, MethodResult] = {}
        self.dependents: dict[str, set[str]] = {}
        # callees met before their summary existed, taken in signature order: the order an analysis meets them
        # in follows set iteration (hash seeds), and with a limit hit the order could change the result
        self.pending: list[tuple[str, MethodDef]] = []
        self.queued: set[str] = set()
        # methods to analyse again, callees first: ordered by when each was first analysed (bottom-up order), so
        # a recursive component settles before the methods above it look again
        self.dirty: list[tuple[int, str]] = []
        self.dirty_set: set[str] = set()
        self.order: dict[str, int] = {}
        self.changed: set[str] = set()  # summaries (re)computed since the driver last looked
        self.occurrences: list[tuple[str, str, Loc]] = []
        self._occ_index: dict[tuple[str, str, Loc], int] = {}
        self.field_info: dict[CellKey, frozenset[Label]] = {}  # objects/constants stored in fields (eager)
        self._field_info_all: dict[CellKey, frozenset[Label]] = {}  # the same, before the size bound (cap)
        self._info_of: dict[frozenset[Label], frozenset[Label]] = {}  # value -> its field info (memo)
        self._info_of_labels = 0
        self.field_readers: dict[CellKey, set[str]] = {}
        self.info_holders: dict[str, set[CellKey]] = {}  # app class -> fields holding one of its objects
        self.analysis_count: dict[str, int] = {}
        self.change_count: dict[str, int] = {}  # analyses that changed the method's summary
        self.errors: list[str] = []
        self.resource_strings: dict[int, str] = {}  # R.string ids -> default value (resources.arsc)
        self.http_proxies = False  # the APK builds HTTP clients from interfaces (Retrofit.create)
        self.entry_sigs: frozenset[str] = frozenset()  # methods the framework calls (their escaping exceptions)
        self.values = ValueTable()  # results hold each distinct value once
        self.cfgs: dict[str, Cfg] = {}  # basic blocks per method, built at its first analysis
        self.in_scope: Callable[[MethodDef], bool] = lambda m: True
        self.analyses = 0

    # --- public --------------------------------------------------------------------------------------------
    def ensure(self, m: MethodDef, settle: bool = True) -> MethodResult | None:
        """Analyse m (callees first) if not done yet, then settle every pending change (`settle=False`: leave
        that to a later `drain()`, so that a batch of methods changing the same callers costs one re-analysis
        of each caller, not one per method)."""
        if m.sig not in self.results and self._analysable(m):
            self._bottom_up(m)
        if settle:
            self.drain()
        return self.results.get(m.sig)

    def drain(self) -> None:
        """Analyse queued callees, then re-analyse methods whose callee summaries changed, to a fixpoint."""
        while self.pending or self.dirty:
            self.limits.check_time()
            if self.pending:
                _sig, m = heapq.heappop(self.pending)
                self.queued.discard(m.sig)
                if m.sig not in self.results:
                    self._bottom_up(m)
                continue
            _rank, sig = heapq.heappop(self.dirty)
            self.dirty_set.discard(sig)
            method = self.p.methods.get(sig)
            if method is None:
                continue
            if self.change_count.get(sig, 0) >= MAX_ROUNDS or self.analysis_count.get(sig, 0) >= MAX_ANALYSES:
                self.limits.hit("fixpoint_rounds", sig)
                continue
            self._analyse(method)

    def summary_of(self, callee: MethodDef, caller: str) -> Summary:
        """The callee's summary as known now; the caller is analysed again if it changes."""
        self.dependents.setdefault(callee.sig, set()).add(caller)
        res = self.results.get(callee.sig)
        if res is not None:
            return res.summary
        if not self._analysable(callee):
            return DEFAULT_SUMMARY
        if callee.sig not in self.queued:
            self.queued.add(callee.sig)
            heapq.heappush(self.pending, (callee.sig, callee))
        return _EMPTY_SUMMARY

    def occ(self, kind: str, api: str, where: Loc) -> Label:
        """The Source label of the source read at `where` (one per kind, API and place)."""
        key = (kind, api, where)
        n = self._occ_index.get(key)
        if n is None:
            n = len(self.occurrences)
            self.occurrences.append(key)
            self._occ_index[key] = n
        return Source(n)

    def record_field_info(self, key: CellKey, value: frozenset[Label]) -> None:
        """Objects, stream tags, URIs and classes stored in a field are known eagerly to every reader (a listener
        kept in a field and registered elsewhere, a stream opened in one method and written in another)."""
        info = self._info_of.get(value)
        if info is None:
            # the memo holds the values it was asked about: bounded by their labels, not their number (18k values
            # of a Kawa app held 6.7 million labels, more than all its results)
            self._info_of_labels += len(value)
            if self._info_of_labels > MAX_MEMO_LABELS:
                self._info_of.clear()
                self._info_of_labels = len(value)
            info = self._info_of[value] = frozenset(
                AppObject(lab[1]) if lab[0] == "O" else lab for lab in value
                if lab[0] in _INFO_KINDS or (lab[0] == "C" and lab[1][:10] == "content://"))
        if not info:
            return
        # the bound applies to everything recorded so far, not to the last bounded value plus the new labels:
        # cap(cap(a) | b) may differ from cap(a | b), and the order of the records follows set iteration
        # (a summary's writes) and the analysis order
        every = self._field_info_all.get(key, EMPTY)
        if info <= every:
            return
        every = self._field_info_all[key] = every | info
        old = self.field_info.get(key, EMPTY)
        new = cap(every)
        if new != old:
            self.field_info[key] = new
            for lab in new - old:
                if lab[0] == "O":
                    self.info_holders.setdefault(lab[1], set()).add(key)
            for reader in sorted(self.field_readers.get(key, ())):
                self._mark_dirty(reader, late=True)

    # --- internals -----------------------------------------------------------------------------------------
    def _analysable(self, m: MethodDef) -> bool:
        if not m.code_off or not self.in_scope(m):
            return False
        if m.dex.insns_size(m) > MAX_METHOD_UNITS:
            self.limits.hit("method_size", m.sig, f"{m.dex.insns_size(m)} code units; summarised like a library call")
            return False
        return True

    def _bottom_up(self, root: MethodDef) -> None:
        """Analyse root's unsummarised callees in post-order (callees before callers), then root."""
        order: list[MethodDef] = []
        seen = {root.sig}
        stack: list[tuple[MethodDef, list[MethodDef]]] = [(root, self.p.static_callees(root, MAX_TARGETS))]
        while stack:
            m, todo = stack[-1]
            if todo:
                c = todo.pop()
                if c.sig not in seen and c.sig not in self.results and self._analysable(c):
                    seen.add(c.sig)
                    stack.append((c, self.p.static_callees(c, MAX_TARGETS)))
                continue
            stack.pop()
            order.append(m)
        for m in order:
            if m.sig not in self.results:
                self.limits.check_time()
                self._analyse(m)

    def _mark_dirty(self, sig: str, late: bool = False) -> None:
        """Queue sig for another analysis. `late`: because objects stored in a field it reads changed; such
        changes come one class at a time, so readers wait until every summary change has settled."""
        if sig not in self.dirty_set:
            self.dirty_set.add(sig)
            # a method analysed WIDEN_AFTER times already sits in a recursive component: it waits until the
            # rest of the work has settled, so that one analysis takes in many callee changes
            late = late or self.analysis_count.get(sig, 0) >= WIDEN_AFTER
            rank = self.order.get(sig, len(self.order)) + (_LATE if late else 0)
            heapq.heappush(self.dirty, (rank, sig))

    def _analyse(self, m: MethodDef) -> None:
        self.analyses += 1
        try:
            res = MethodInterpreter(self, m).run()
        except (DexError, IndexError, ValueError, KeyError, struct.error) as exc:
            # hostile bytecode (an index past a table, a code item past the file, a tries count that lies): this
            # method is summarised as doing nothing, the rest of the app goes on, and the problem is said once
            self.errors.append(f"{m.dex.name}: {m.sig}: malformed code ({type(exc).__name__}: {exc})")
            res = MethodResult(m, Summary())
        self.analysis_count[m.sig] = self.analysis_count.get(m.sig, 0) + 1
        self.order.setdefault(m.sig, len(self.order))
        old = self.results.get(m.sig)
        if old is not None and self.analysis_count[m.sig] > WIDEN_AFTER:
            # widening: from here on a summary only grows, so recursion through strong updates cannot oscillate
            res.summary = old.summary.join(res.summary)
            # and its own hits with it: callers skip a hit that adds nothing of theirs, trusting the method's own
            # (field-based) report of it, so a hit kept by the joined summary must stay reported here too
            res.hits |= old.hits
        self.values.share(res)
        self.results[m.sig] = res
        self.changed.add(m.sig)
        old_key = old.summary.key() if old is not None else EMPTY_SUMMARY_KEY
        if old_key != res.summary.key():
            self.change_count[m.sig] = self.change_count.get(m.sig, 0) + 1
            # callers that used the previous (or the empty) summary must look again
            # (a method calling itself too: its first analysis applied the empty summary at that call)
            for dep in sorted(self.dependents.get(m.sig, ())):
                self._mark_dirty(dep)
