"""Method summaries: what one method does with its parameters, and how a caller applies it (substitution)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from toolkit.analysis.dataflow.program import Loc
from toolkit.analysis.dataflow.values import (
    EMPTY,
    IDENTITY,
    TAINTING,
    Cell,
    CellAt,
    CellKey,
    ConcatParam,
    Const,
    Keyed,
    Label,
    Param,
    ParamAt,
    cap,
)
from toolkit.analysis.dex import MethodDef

State = dict  # register (int), RESULT, ("fld", key), ("ofld", site, key), ("aidx", site, i) ... -> value
FIELDS = "fields"  # state key: the ("fld", key) state keys present (flushing looks at these only)


def set_local_field(st: State, key: object, value: frozenset[Label]) -> None:
    """Hold field `key` = value in the state (until a call or the method's end writes it out)."""
    slot = ("fld", key)
    st[slot] = value
    present = st.get(FIELDS, frozenset())
    if slot not in present:
        st[FIELDS] = present | {slot}


@dataclass(frozen=True)
class SinkHit:
    """A value reaching a sink call: its data, the receiver (when the sink depends on its tag), endpoints, path."""

    kind: str
    api: str
    data: frozenset[Label]
    recv: frozenset[Label] | None  # receiver, when the sink depends on its tag
    tag: str | None
    endpoints: frozenset[Label]
    path: tuple[Loc, ...]  # call sites from the method holding the hit down to the sink call


@dataclass(frozen=True)
class IccSend:
    """An Intent handed to the framework (startActivity, sendBroadcast, setResult ...)."""

    api: str
    intent: frozenset[Label]
    path: tuple[Loc, ...]
    always_external: bool = False
    internal_only: bool = False


Fact = tuple  # ("alarm", targets, period, loc) | ("job", ...) | ("periodic", sig, seconds, loc) | ("dynrecv", cls, actions, loc)


@dataclass
class Summary:
    """What a caller needs to know about a method, in terms of its parameters (symbolic labels)."""

    ret: frozenset[Label] = EMPTY
    mutations: dict[int, frozenset[Label]] = field(default_factory=dict)  # parameter index -> what is added to it
    hits: frozenset[SinkHit] = frozenset()
    writes: frozenset[tuple[CellKey, frozenset[Label]]] = frozenset()  # symbolic writes callers substitute
    param_cells: frozenset[int] = frozenset()  # parameters whose values callers record in param_cell(sig, i)
    info_params: tuple[tuple[CellKey, int], ...] = ()  # (field, parameter) stored directly: objects known eagerly
    iccs: frozenset[IccSend] = frozenset()
    facts: frozenset[Fact] = frozenset()
    thrown: frozenset[Label] = EMPTY
    relw: tuple[tuple[tuple[int, CellKey], frozenset[Label]], ...] = ()  # writes to fields of parameter objects
    relm: tuple[tuple[tuple[int, CellKey], frozenset[Label]], ...] = ()  # changes to objects held in those fields
    fld_out: tuple[tuple[CellKey, frozenset[Label]], ...] = ()  # fields the method always sets, and to what

    @cached_property
    def hits_by_need(self) -> tuple[tuple[SinkHit, frozenset[int] | None, tuple[tuple[int, CellKey], ...]], ...]:
        """Each hit with the parameters whose data it needs to carry anything sensitive (None: it may anyway),
        and the parameter-object fields its receiver is read from, so that a caller passing nothing sensitive
        there, and no object whose fields it knows, skips it without substituting."""
        # only the parameters' part of a hit's data is new to a caller (sources, cells and fields of parameter
        # objects in it are already reported, field-based, by the method's own hit). A hit on a tagged sink (a
        # stream's kind) decides its kind by its receiver: one that is a parameter itself is always applied (only
        # a caller knows the stream); one read from a parameter object's field is applied by a caller that knows
        # that object's field (its own object, or its parameter's: a higher caller may know it), and otherwise
        # resolves field-based like data. A support library's dump() printing to one PrintWriter kept in a field
        # no longer re-applies its 74 print hits at every caller.
        out: list[tuple[SinkHit, frozenset[int] | None, tuple[tuple[int, CellKey], ...]]] = []
        for h in self.hits:
            recv = h.recv or EMPTY
            if h.tag is not None and _depends_on_params(recv):
                out.append((h, None, ()))
                continue
            fields = tuple(sorted({(lab[1], lab[2]) for lab in recv if lab[0] == "FR"}, key=repr)) if h.tag else ()
            out.append((h, needed_params(h.data, _REPORTED_BY_CALLEE), fields))
        return tuple(out)

    @cached_property
    def iccs_by_need(self) -> tuple[tuple[IccSend, frozenset[int] | None], ...]:
        return tuple((i, needed_params(i.intent)) for i in self.iccs)

    def join(self, other: Summary) -> Summary:
        """The least summary covering both (widening: a recursive method whose summaries alternate between two
        values, e.g. through strong updates, converges once each new summary is joined with the previous one).
        Promises that a field is always set (fld_out) hold only where both promise it."""
        def union(a: frozenset[Label], b: frozenset[Label]) -> frozenset[Label]:
            return a if b <= a else cap(a | b)

        def pairs(a: tuple[tuple[Any, frozenset[Label]], ...], b: tuple[tuple[Any, frozenset[Label]], ...]
                  ) -> tuple[tuple[Any, frozenset[Label]], ...]:
            out = dict(a)
            for k, v in b:
                out[k] = union(out.get(k, EMPTY), v)
            return tuple(sorted(out.items(), key=repr))

        mutations = dict(self.mutations)
        for k, v in other.mutations.items():
            mutations[k] = union(mutations.get(k, EMPTY), v)
        b_out = dict(other.fld_out)
        return Summary(
            ret=union(self.ret, other.ret), mutations=mutations, hits=merge_hits(self.hits | other.hits),
            writes=self.writes | other.writes, param_cells=self.param_cells | other.param_cells,
            info_params=tuple(sorted(set(self.info_params) | set(other.info_params), key=repr)),
            iccs=self.iccs | other.iccs, facts=self.facts | other.facts, thrown=union(self.thrown, other.thrown),
            relw=pairs(self.relw, other.relw), relm=pairs(self.relm, other.relm),
            fld_out=tuple((k, union(v, b_out[k])) for k, v in self.fld_out if k in b_out),
        )

    def key(self) -> tuple[object, ...]:
        """Equal keys: equal summaries (a caller need not look again)."""
        return (self.ret, tuple(sorted(self.mutations.items())), self.hits, self.writes, self.param_cells,
                self.info_params, self.iccs, self.facts, self.thrown, self.relw, self.relm, self.fld_out)


@dataclass
class MethodResult:
    """One analysed method: its summary plus everything it does concretely (hits, writes, edges, facts)."""

    method: MethodDef
    summary: Summary
    hits: set[SinkHit] = field(default_factory=set)
    writes: set[tuple[CellKey, frozenset[Label]]] = field(default_factory=set)
    iccs: set[IccSend] = field(default_factory=set)
    edges: set[tuple[str, str, int]] = field(default_factory=set)  # (callee sig, kind, offset)
    facts: set[Fact] = field(default_factory=set)  # alarms, jobs, dynamic receivers


# What an app method that is not analysed is assumed to do: its result carries its arguments (like a library call).
DEFAULT_SUMMARY = Summary(ret=frozenset(Param(i) for i in range(0, 12)))
EMPTY_SUMMARY_KEY = Summary().key()

FieldResolver = Callable[[int, CellKey], frozenset[Label]]


class Substitution:
    """Replace a callee's symbolic labels by the caller's argument values (one call site: each label is
    substituted once, however many summary values hold it)."""

    def __init__(self, args: list[frozenset[Label]], resolve: FieldResolver | None = None) -> None:
        self.args = args
        self.resolve = resolve  # (param index, field) -> value of that field of the caller's argument object
        self._memo: dict[Label, tuple[Label, ...]] = {}

    def apply(self, value: frozenset[Label]) -> frozenset[Label]:
        changed = _substituted_part(value)
        if not changed:
            return value  # nothing of the callee's parameters in it: the same object back
        # the labels that stay are copied as a block; only the substituted ones are looked at one by one
        out = set(value)
        out.difference_update(changed)
        memo = self._memo
        for lab in changed:
            done = memo.get(lab)
            if done is None:
                done = memo[lab] = self._one(lab)
            out.update(done)
        return frozenset(out)

    def _one(self, lab: Label) -> tuple[Label, ...]:
        """What one label becomes at this call site."""
        args = self.args
        kind = lab[0]
        if kind == "P":
            i = lab[1]
            return tuple(x for x in args[i] if x[0] not in IDENTITY) if i < len(args) else ()
        if kind == "A":
            i = lab[1]
            return tuple(x for x in args[i] if x[0] in IDENTITY) if i < len(args) else ()
        if kind == "FR":
            return tuple(self.resolve(lab[1], lab[2])) if self.resolve is not None else (Cell(lab[2]),)
        if kind == "KV":
            if lab[2][0] in _SUBSTITUTED_INNER:
                inner = self._memo.get(lab[2])  # many keys over one parameter: substituted once
                if inner is None:
                    inner = self._memo[lab[2]] = self._one(lab[2])
                return tuple(Keyed(lab[1], x) for x in inner)
            return (lab,)  # a keyed constant or source: nothing of the caller in it
        if kind == "PK":
            i = lab[1]
            return tuple(read_at_key(args[i], lab[2])) if i < len(args) else ()
        if kind == "CAT":
            i = lab[2]
            out: list[Label] = []
            if i < len(args):
                for x in args[i]:
                    if x[0] == "C":
                        out.append(Const(lab[1] + x[1]))
                    elif x[0] == "P":
                        out.append(ConcatParam(lab[1], x[1]))
            return tuple(out)
        return (lab,)


_PARTS: dict[frozenset[Label], tuple[Label, ...]] = {}  # big summary value -> its labels a caller substitutes
_PARTS_LABELS = [0]


def _substituted_part(value: frozenset[Label]) -> tuple[Label, ...]:
    """The labels of value that a call site substitutes. Summary values are applied at every call site of their
    method (and shared by the results' value table), so a big one is scanned once."""
    if len(value) < 16:
        return tuple(lab for lab in value
                     if lab[0] in _SUBSTITUTED or (lab[0] == "KV" and lab[2][0] in _SUBSTITUTED_INNER))
    part = _PARTS.get(value)
    if part is None:
        # bounded by the labels its keys hold (they keep those values alive), not by their number
        _PARTS_LABELS[0] += len(value)
        if _PARTS_LABELS[0] > 500_000:
            _PARTS.clear()
            _PARTS_LABELS[0] = len(value)
        part = _PARTS[value] = tuple(lab for lab in value
                                     if lab[0] in _SUBSTITUTED or (lab[0] == "KV" and lab[2][0] in _SUBSTITUTED_INNER))
    return part


def by_path(item: SinkHit | IccSend) -> tuple[int, tuple[object, ...]]:
    """Sort key: shorter paths first, then the smaller path (a flow reports the shortest)."""
    return (len(item.path), item.path)


def merge_hits(hits: frozenset[SinkHit], per_site: bool = True) -> frozenset[SinkHit]:
    """One hit per sink site (kind, API, call site, tag): data, receiver and endpoints united, the shortest path
    kept. Widening for hits: otherwise every new variant of a value reaching a sink is one more hit, and a
    recursive method's summary keeps growing. `per_site=False`: one hit per sink kind and API (a library
    printing through hundreds of methods), the nearest site standing for the others."""
    groups: dict[tuple[object, ...], list[SinkHit]] = {}
    for h in hits:
        groups.setdefault((h.kind, h.api, h.path[-1] if per_site else None, h.tag), []).append(h)
    out: set[SinkHit] = set()
    for group in groups.values():
        if len(group) == 1:
            out.add(group[0])
            continue
        first = min(group, key=by_path)
        recvs = [h.recv for h in group if h.recv is not None]
        out.add(SinkHit(first.kind, first.api, cap(frozenset().union(*(h.data for h in group))),
                        cap(frozenset().union(*recvs)) if recvs else None, first.tag,
                        cap(frozenset().union(*(h.endpoints for h in group))), first.path))
    return frozenset(out)


def needed_params(value: frozenset[Label], ignored: frozenset[str] = frozenset()) -> frozenset[int] | None:
    """The parameters one of which must carry a sensitive value for `value`, substituted, to carry one
    (None: it may carry one whatever the caller passes: a source, a cell, a field of a parameter object).
    Labels of the `ignored` kinds do not count (what they carry is reported elsewhere)."""
    out: set[int] = set()
    for lab in value:
        kind = lab[0]
        if kind in ignored:
            continue
        if kind in ("P", "PK"):
            out.add(lab[1])
        elif kind == "KV":
            inner = needed_params(frozenset((lab[2],)), ignored)
            if inner is None:
                return None
            out |= inner
        elif kind in _TAINTING_ANYWAY:
            return None
    return frozenset(out)


def _depends_on_params(value: frozenset[Label]) -> bool:
    """Whether the value holds a parameter (its data or identity) that only a caller can substitute."""
    return any(lab[0] in _PARAM_BASED or (lab[0] == "KV" and _depends_on_params(frozenset((lab[2],))))
               for lab in value)


def param_cell(sig: str, index: int) -> CellKey:
    """The global cell holding what any caller passes as parameter `index` of method `sig`."""
    return ("param", sig, index)


def to_param_cells(value: frozenset[Label], sig: str, used: set[int]) -> frozenset[Label] | None:
    """A symbolic value written to a global cell, with its parameters replaced by the method's parameter cells
    (None when it holds a concatenation with a parameter, which only a call site can complete). Writes to global
    cells are field-based anyway, so resolving them through parameter cells loses nothing, and a summary no
    longer carries the writes of its whole call tree to every caller. The parameters whose cells it reads are
    added to `used` only when it returns a value (which of them a None met first follows set iteration)."""
    mine: set[int] = set()
    out = _to_param_cells(value, sig, mine)
    if out is not None:
        used |= mine
    return out


def _to_param_cells(value: frozenset[Label], sig: str, used: set[int]) -> frozenset[Label] | None:
    out: set[Label] = set()
    for lab in value:
        kind = lab[0]
        if kind == "P":
            used.add(lab[1])
            out.add(Cell(param_cell(sig, lab[1])))
        elif kind == "PK":
            used.add(lab[1])
            out.add(CellAt(param_cell(sig, lab[1]), lab[2]))
        elif kind == "FR":
            out.add(Cell(lab[2]))  # the field of a parameter object, field-based
        elif kind == "KV":
            inner = _to_param_cells(frozenset((lab[2],)), sig, used)
            if inner is None:
                return None
            out.update(Keyed(lab[1], x) for x in inner)
        elif kind == "CAT":
            return None
        elif kind != "A":
            out.add(lab)
    return frozenset(out)


def read_at_key(container: frozenset[Label], at: object) -> set[Label]:
    """What a container value holds under constant key `at` (its keyed contents, or symbolic reads)."""
    out: set[Label] = set()
    for x in container:
        kind = x[0]
        if kind == "KV":
            if x[1] == at:
                out.add(x[2])
        elif kind == "G":
            out.add(CellAt(x[1], at))
        elif kind == "P":
            out.add(ParamAt(x[1], at))
        elif kind in ("S", "X"):
            out.add(x)  # stored without a known key: may be any
    return out


_SUBSTITUTED = frozenset(("P", "A", "CAT", "PK", "FR"))
_TAINTING_ANYWAY = (TAINTING - {"P", "PK"}) | {"FR"}  # sensitive, or resolved to something that may be
# what a method's own sink hit reports without its callers: sources, global cells and (field-based) fields of
# its parameter objects; a caller re-applying the hit adds only a longer path to the same flow
_REPORTED_BY_CALLEE = frozenset(("S", "G", "GK", "FR"))
_SUBSTITUTED_INNER = frozenset(("P", "A", "PK", "KV", "FR"))
_PARAM_BASED = frozenset(("P", "A", "PK", "CAT"))
