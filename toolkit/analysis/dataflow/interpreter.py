"""The intraprocedural interpreter: forward data flow over one method's registers, to a fixpoint over its
control-flow graph, producing the method's summary and effects.

Instructions other than calls are handled here; heap effects (fields, objects, exceptions) are in `heap.py`,
calls in `calls.py`, library semantics in `semantics/`.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from toolkit.analysis.dataflow.calls import CallOps
from toolkit.analysis.dataflow.heap import Later
from toolkit.analysis.dataflow.program import loc_of, param_types
from toolkit.analysis.dataflow.summary import (
    FIELDS,
    IccSend,
    MethodResult,
    SinkHit,
    State,
    Summary,
    by_path,
    merge_hits,
    to_param_cells,
)
from toolkit.analysis.dataflow.values import (
    DATA,
    EMPTY,
    IDENTITY,
    NOT_PROPAGATED,
    SYMBOLIC,
    UNCAUGHT,
    AppObject,
    ArrayRow,
    Cell,
    ClassConst,
    Const,
    FieldObject,
    Label,
    LibObject,
    Num,
    Param,
    ParamObject,
    ProviderUri,
    SlotObject,
    SmallInt,
    TimeUnitConst,
    Transform,
    cap,
    int_label,
    is_symbolic,
    is_tainted,
)
from toolkit.analysis.dex import (
    CONST32_OPS,
    INVOKE_OPS,
    IPUT_OPS,
    MAY_WRITE_WIDE_OPS,
    SGET_OPS,
    SPUT_OPS,
    Code,
    Insn,
    MethodDef,
)

if TYPE_CHECKING:
    from toolkit.analysis.dataflow.solver import Solver

RESULT = -1  # state key of the last call's result (move-result)
_EXITS = frozenset((0x0E, 0x0F, 0x10, 0x11, 0x27))  # return-void, return*, throw
_GOTOS = frozenset((0x28, 0x29, 0x2A))
_SWITCHES = frozenset((0x2B, 0x2C))  # packed-switch, sparse-switch
MAX_SUMMARY_HITS = 256  # sink sites (merged per site) whose data depends on the parameters
MAX_CELLS_IN_SUMMARY = 8  # more Cell labels in a summary value: compacted into one bag cell
WIDEN_AFTER = 3
_BAGGED = frozenset(("G",))
# once widened (a method analysed WIDEN_AFTER times), constants go to the bag too: strings built in a recursion
# over a class family (protobuf) otherwise grow one round at a time
_BAGGED_WIDENED = frozenset(("G", "C", "N", "I", "K", "O", "IT", "SCHEME", "UNIT", "PER"))  # analyses of a method after which changing strong-update facts are dropped
# what a caller learns of the exceptions a method throws: not objects local to the method (fields' and slots'
# identities, library allocation sites) nor reflected methods, which mean nothing in the caller
_NOT_THROWN_OUT = frozenset(("F", "OF", "L", "M", "AR"))
# block visits between two looks at the clock: one visit of a big method's block can take a tenth of a second
# (calls applying big summaries), and 256 of them let a 60 s budget overrun by 20 s
_BUDGET_CHECK_EVERY = 8


_COMPARE = {0: lambda x, y: x == y, 1: lambda x, y: x != y, 2: lambda x, y: x < y, 3: lambda x, y: x >= y,
            4: lambda x, y: x > y, 5: lambda x, y: x <= y}  # if-eq/ne/lt/ge/gt/le, and their -z forms


# instructions that may write an integer the interpreter does not know to register a (its value is then no label
# at all, which a join cannot tell from "not written"); wide ones also write a+1, counted for all of them.
# const-string/class, new-instance/array and check-cast write labels that are no integer: they need no care.
_WRITES_A = frozenset([*range(0x01, 0x0E), *range(0x16, 0x1A), 0x20, 0x21, *range(0x2D, 0x32),
                       *range(0x44, 0x4B), *range(0x52, 0x59), *range(0x60, 0x67), *range(0x7B, 0xE3), 0xFE, 0xFF])


def constant_registers(insns: list[Insn], first_param: int,
                       constant_read: Callable[[Insn], bool] | None = None) -> frozenset[int]:
    """Registers written only by 32-bit const instructions (and not parameters), or by reads of static fields
    that hold one constant (`constant_read`): where the state holds a single constant for one of them, that is
    its value on every path. (Values alone cannot say it: arithmetic yields no constant, so the counter of
    `for (i = 0; ...; i++)` would look constant.)"""
    consts: set[int] = set()
    other: set[int] = set()
    for ins in insns:
        if ins.op in CONST32_OPS or (constant_read is not None and ins.op in SGET_OPS and constant_read(ins)):
            consts.add(ins.a)
        elif ins.op in _WRITES_A:
            other.add(ins.a)
            if ins.op in MAY_WRITE_WIDE_OPS:
                other.add(ins.a + 1)
    return frozenset(r for r in consts - other if r < first_param)


def _value(reg: int, state: State, consts: frozenset[int]) -> int | None:
    if reg not in consts:
        return None
    value = state.get(reg)
    if value is not None and len(value) == 1:
        lab = next(iter(value))
        if lab[0] in ("I", "N") and isinstance(lab[1], int):
            return lab[1]
    return None


# int add/sub/mul (and reverse sub) in their three forms: op -> (operation, operand form)
_INT_ARITH: dict[int, tuple[Callable[[int, int], int], str]] = {
    0x90: (operator.add, "bc"), 0x91: (operator.sub, "bc"), 0x92: (operator.mul, "bc"),
    0xB0: (operator.add, "ab"), 0xB1: (operator.sub, "ab"), 0xB2: (operator.mul, "ab"),
    0xD0: (operator.add, "lit"), 0xD1: (lambda x, lit: lit - x, "lit"), 0xD2: (operator.mul, "lit"),
    0xD8: (operator.add, "lit"), 0xD9: (lambda x, lit: lit - x, "lit"), 0xDA: (operator.mul, "lit"),
}


def _single_int(value: frozenset[Label] | None) -> int | None:
    if value is not None and len(value) == 1:
        lab = next(iter(value))
        if lab[0] in ("I", "N") and isinstance(lab[1], int):
            return lab[1]
    return None


def _int_arith(ins: Insn, get: Callable[[int, frozenset[Label]], frozenset[Label]]) -> frozenset[Label] | None:
    """The constant result of int add/sub/mul whose operands each hold one constant (None otherwise), e.g. the
    bound `s.length() - 1` of a substring that cuts a reflective method name out of a constant. Only a single
    constant folds: at a loop head the counter of `i = i + 1` holds two after one turn, so it stops there."""
    spec = _INT_ARITH.get(ins.op)
    if spec is None:
        return None
    fn, form = spec
    left = _single_int(get(ins.a if form == "ab" else ins.b, EMPTY))
    if left is None:
        return None
    right = ins.lit if form == "lit" else _single_int(get(ins.c if form == "bc" else ins.b, EMPTY))
    if right is None:
        return None
    result = (fn(left, right) + 0x80000000) % 0x100000000 - 0x80000000  # 32-bit wrap, as the VM does
    return frozenset({int_label(result)})


def _constant_branch(ins: Insn, state: State, consts: frozenset[int]) -> bool | None:
    """Whether an if-* on registers that hold a known constant is taken (None: unknown)."""
    left = _value(ins.a, state, consts)
    if left is None:
        return None
    if ins.op >= 0x38:  # if-eqz ... if-lez: against zero
        return bool(_COMPARE[ins.op - 0x38](left, 0))
    right = _value(ins.b, state, consts)
    return None if right is None else bool(_COMPARE[ins.op - 0x32](left, right))


_Pathed = TypeVar("_Pathed", SinkHit, IccSend)


def _shortest(items: Iterable[_Pathed], key: Callable[[_Pathed], object]) -> list[_Pathed]:
    """Of the items with one key, the one with the shortest (then smallest) path."""
    out: dict[object, _Pathed] = {}
    for item in sorted(items, key=by_path):
        out.setdefault(key(item), item)
    return list(out.values())


@dataclass
class Cfg:
    """The basic blocks of a method's code and the exception handlers covering each, built once per method (a
    method is analysed several times while its callees' summaries settle)."""

    code: Code
    off2i: dict[int, int]
    n: int
    starts: list[int]
    block_end: dict[int, int]
    block_handlers: dict[int, list[int]]  # block -> handler offsets covering it (what _throw reaches)
    block_catchers: dict[int, list[int]]  # block -> the blocks of those handlers (what its state flows into)

    @staticmethod
    def of(code: Code) -> Cfg:
        insns = code.insns
        off2i = {ins.off: i for i, ins in enumerate(insns)}
        n = len(insns)
        leaders = {0}
        for i, ins in enumerate(insns):
            if ins.targets or ins.op in _EXITS:
                leaders.update(off2i[t] for t in ins.targets if t in off2i)
                if i + 1 < n:
                    leaders.add(i + 1)
        for tb in code.tries:
            leaders.update(off2i[a] for _t, a in tb.handlers if a in off2i)
            starti = next((i for i, ins in enumerate(insns) if ins.off >= tb.start), n)
            if starti < n:
                leaders.add(starti)
            endi = next((i for i, ins in enumerate(insns) if ins.off >= tb.end), n)
            if endi < n:
                leaders.add(endi)
        handler_offs = [(tb.start, tb.end, [a for _t, a in tb.handlers]) for tb in code.tries]
        starts = sorted(leaders)
        block_end = {s: (starts[k + 1] if k + 1 < len(starts) else n) for k, s in enumerate(starts)}
        block_handlers = {b: [h for start, stop, hs in handler_offs if start <= insns[b].off < stop for h in hs]
                          for b in starts if b < n}
        block_catchers = {b: [off2i[h] for h in hs if h in off2i] for b, hs in block_handlers.items()}
        return Cfg(code, off2i, n, starts, block_end, block_handlers, block_catchers)


class MethodInterpreter(CallOps):
    """Analyses one method into a MethodResult (summary + concrete effects)."""

    def __init__(self, solver: Solver, m: MethodDef) -> None:
        self.e = solver
        self.p = solver.p
        self.cat = solver.cat
        self.m = m
        self.res = MethodResult(m, Summary())
        self.ret: frozenset[Label] = EMPTY
        self.mut: dict[int, frozenset[Label]] = {}
        self.thrown: frozenset[Label] = EMPTY  # data carried by exceptions thrown here (or by callees)
        self.uncovered: frozenset[Label] = EMPTY  # ... of them, thrown where no try block covers the code
        self.nested_arrays: set[int] = set()  # sites of arrays of arrays allocated here (new String[2][3])
        self.caught: dict[int, frozenset[Label]] = {}  # handler offset -> data of the exceptions it catches
        self.fld_out: dict[object, frozenset[Label]] = {}  # field values when the method returns
        self.cur_handlers: list[int] = []
        self.relw: dict[tuple[int, object], frozenset[Label]] = {}  # writes to fields of parameter objects
        self.relm: dict[tuple[int, object], frozenset[Label]] = {}  # changes to objects held in those fields
        self.later: list[Later] = []
        self.flushed: set[tuple[object, frozenset[Label]]] = set()

    # -- setup ------------------------------------------------------------------------------------------------
    def _initial_state(self, code_regs: int, ins: int) -> State:
        """Parameters are symbolic (Param/ParamObject); the framework adds what it hands to callbacks."""
        m = self.m
        comps = self.cat.components
        state: State = {}
        types = param_types(m.proto)
        reg = code_regs - ins
        if not m.is_static:
            state[reg] = frozenset({Param(0), ParamObject(0), AppObject(m.class_desc)})
            reg += 1
        cb_src = self.cat.callback_sources.get(m.name + m.proto)
        comp_intent = self._incoming_intent_label()
        for pidx, t in enumerate(types, start=1):
            val: set[Label] = {Param(pidx)}
            if t.startswith(("L", "[")):
                val.add(ParamObject(pidx))
            if cb_src is not None and cb_src[1] == pidx:
                val.add(self.e.occ(cb_src[0].kind, m.sig, loc_of(m, 0)))
            if t == comps.intent_type and comp_intent is not None:
                val.add(comp_intent)
            if t == comps.intent_type and m.name == comps.activity_result:
                val.add(Cell(("result", m.class_desc)))
            if t == comps.bundle_type and not m.is_static:
                # the state an activity saves in onSaveInstanceState comes back in onCreate/onRestoreInstanceState
                state_key = ("saved_state", m.class_desc)
                if m.name == comps.saved_state_writer:
                    val.add(FieldObject(state_key))
                elif m.name in comps.saved_state_readers:
                    val.add(Cell(state_key))
            state[reg] = frozenset(val)
            reg += 2 if t in ("J", "D") else 1
        return state

    def _incoming_intent_label(self) -> Label | None:
        """The extras arriving at this component (a global cell), when the method belongs to one."""
        if self.m.is_static:
            return None
        for cls in (self.m.class_desc, *self.p.all_subtypes(self.m.class_desc, 20)):
            if cls in self.e.components:
                return Cell(("icc", cls))
        if self.cat.components.broadcast_receiver in self.p.supers(self.m.class_desc):
            return Cell(("icc", self.m.class_desc))  # receiver registered at run time
        return None

    # -- run --------------------------------------------------------------------------------------------------
    def run(self) -> MethodResult:
        """Iterate the transfer functions over the CFG to a fixpoint, then build the summary."""
        m = self.m
        code = m.dex.code(m)
        if code is None or not code.insns:
            return self.res
        insns = code.insns
        cfg = self.e.cfgs.get(m.sig)
        if cfg is None or cfg.code is not code:
            cfg = self.e.cfgs[m.sig] = Cfg.of(code)
        off2i, n, block_end, block_handlers = cfg.off2i, cfg.n, cfg.block_end, cfg.block_handlers
        starts = cfg.starts
        in_states: dict[int, State] = {0: self._initial_state(code.registers, code.ins)}
        consts = constant_registers(insns, code.registers - code.ins, lambda ins: self._static_constant(ins) is not None)
        work = deque([0])
        queued = {0}
        visits = 0
        max_visits = 4000 + 20 * len(starts)
        while work:
            b = work.popleft()
            queued.discard(b)
            visits += 1
            if visits % _BUDGET_CHECK_EVERY == 0:
                self.e.limits.check_time()
            if visits > max_visits:
                self.e.limits.hit("block_visits", m.sig)
                break
            state = dict(in_states[b])
            # try ranges start and end at block boundaries: the handlers covering a block cover each instruction
            self.cur_handlers = block_handlers[b]
            catchers = cfg.block_catchers[b]
            entry_state = dict(state) if catchers else state  # only handlers need the entry state
            end = block_end[b]
            succs: list[int] = []
            falls = True
            for i in range(b, end):
                ins = insns[i]
                self._step(ins, state)
                op = ins.op
                if op in _EXITS:
                    falls = False
                elif op in _GOTOS:
                    falls = False
                    succs.extend(off2i[t] for t in ins.targets if t in off2i)
                elif op in _SWITCHES and ins.keys and (case := _value(ins.a, state, consts)) is not None:
                    # a switch on a constant: only the matching case (or the fall-through) is reachable
                    if case in ins.keys:
                        falls = False
                        target = ins.targets[ins.keys.index(case)]
                        if target in off2i:
                            succs.append(off2i[target])
                elif ins.targets:
                    taken = _constant_branch(ins, state, consts) if consts and 0x32 <= op <= 0x3D else None
                    if taken is True:
                        falls = False  # a branch on a constant: only the side it takes is reachable
                    if taken is not False:
                        succs.extend(off2i[t] for t in ins.targets if t in off2i)
            if falls and end < n:
                succs.append(end)
            if catchers:
                # a handler may be entered from any point of the block: what held at its start or its end
                merged = dict(entry_state)
                for r, v in state.items():
                    merged[r] = merged.get(r, EMPTY) | v
                for h in catchers:
                    if self._merge_into(in_states, h, merged) and h not in queued:
                        work.append(h)
                        queued.add(h)
            for s in succs:
                if self._merge_into(in_states, s, state) and s not in queued:
                    work.append(s)
                    queued.add(s)
        return self._finish()

    def _row_of(self, arr: frozenset[Label], slot: tuple[str, object, int] | None) -> frozenset[Label]:
        """The identity of `arr[i]` read from an array of arrays allocated in this method: row i (its own slots,
        and writes through it update the slot arr[i] and the array), or a row at an unknown index."""
        sites = [lab[1] for lab in arr if lab[0] == "L"]
        if len(sites) != 1 or sites[0] not in self.nested_arrays:
            return EMPTY
        if slot is not None and slot[1] == sites[0]:
            return frozenset({ArrayRow(sites[0], slot[2]), SlotObject(slot)})
        return frozenset({ArrayRow(sites[0], -1)})

    def _finish(self) -> MethodResult:
        """The summary keeps what depends on the parameters (callers substitute it); the rest is concrete."""
        res = self.res
        # one hit (and one intent sent) per sink, data and receiver: the shortest path is the one a flow reports.
        # Recursion otherwise makes a new, longer path every round (two recursive call sites: twice as many)
        res.hits = set(_shortest(res.hits, lambda h: (h.kind, h.api, h.path[-1], h.data, h.recv, h.tag, h.endpoints)))
        res.iccs = set(_shortest(res.iccs, lambda c: (c.api, c.path[-1], c.intent, c.always_external, c.internal_only)))
        symbolic = frozenset(self._compact_hit(h) for h in res.hits
                             if is_symbolic(h.data) or (h.recv is not None and is_symbolic(h.recv)))
        if self.e.analysis_count.get(self.m.sig, 0) >= WIDEN_AFTER or len(symbolic) > MAX_SUMMARY_HITS:
            # widened, or too many: one hit per sink site (recursion otherwise keeps adding variants)
            symbolic = merge_hits(symbolic)
        if len(symbolic) > MAX_SUMMARY_HITS:
            # still too many sink sites reach the parameters: callers learn one site per sink API (their flows
            # keep source, sink kind and a real path, not every site); recorded, since sites go missing
            self.e.limits.hit("summary_hits", self.m.sig)
            symbolic = merge_hits(symbolic, per_site=False)
        sym_hits = sorted(symbolic, key=by_path)
        sym_writes: set[tuple[object, frozenset[Label]]] = set()
        used: set[int] = set()
        info: set[tuple[object, int]] = set()
        for key, val in [w for w in res.writes if is_symbolic(w[1])]:
            cells = to_param_cells(val, self.m.sig, used)
            if cells is None:
                sym_writes.add((key, val))  # completed by the caller's substitution
                continue
            res.writes.discard((key, val))
            if cells:
                res.writes.add((key, cells))
            info.update((key, lab[1]) for lab in val if lab[0] == "P")
        if self.m.sig in self.e.entry_sigs:
            # an exception escaping a method the framework calls is uncaught: the default handler gets it. Only
            # one thrown outside any try block counts: the value does not say the exception's class, so one
            # thrown inside a try may be caught there (a miss of an exception no handler's type matches)
            escaping = frozenset(lab for lab in self.uncovered if lab[0] in DATA and lab[0] not in SYMBOLIC)
            if escaping:
                res.writes.add((UNCAUGHT, escaping))
        res.summary = Summary(
            ret=self._compact(frozenset(lab for lab in self.ret if lab[0] != "AR"), "ret"),  # rows: local
            mutations={k: self._compact(v, ("mut", k)) for k, v in self.mut.items()},
            hits=frozenset(sym_hits),
            writes=frozenset(sym_writes),
            param_cells=frozenset(used),
            info_params=tuple(sorted(info, key=repr)),
            iccs=frozenset(c for c in res.iccs if is_symbolic(c.intent)),
            facts=frozenset(f for f in res.facts if f[0] == "sym"),
            thrown=self._compact(frozenset(lab for lab in self.thrown if lab[0] not in _NOT_THROWN_OUT), "thrown"),
            relw=tuple(sorted(((k, self._compact(v, ("relw", k))) for k, v in self.relw.items()), key=repr)),
            relm=tuple(sorted(((k, self._compact(v, ("relm", k))) for k, v in self.relm.items()), key=repr)),
            fld_out=self._fields_always_set(),
        )
        return res

    def _compact(self, value: frozenset[Label], slot: object) -> frozenset[Label]:
        """A summary value reading many global cells reads one instead: a 'bag' cell of this method and slot,
        written with those cells. Resolving through the bag gives the same labels, but the summary stops
        changing when only the bag's content grows, so recursion over big class families (protobuf messages
        summing each other's sizes) converges in a few rounds instead of one class per round."""
        widened = self.e.analysis_count.get(self.m.sig, 0) >= WIDEN_AFTER
        kinds = _BAGGED_WIDENED if widened else _BAGGED
        cells = [lab for lab in value if lab[0] in kinds]
        if len(cells) <= (0 if widened else MAX_CELLS_IN_SUMMARY):
            return cap(value)
        bag = ("bag", self.m.sig, slot)
        self.res.writes.add((bag, frozenset(cells)))
        return cap(frozenset(lab for lab in value if lab[0] not in kinds) | {Cell(bag)})

    def _compact_hit(self, h: SinkHit) -> SinkHit:
        """Once widened, a summary hit's receiver and endpoints keep their cells and constants in bags too."""
        if self.e.analysis_count.get(self.m.sig, 0) < WIDEN_AFTER:
            return h
        where = h.path[-1]
        recv = None if h.recv is None else self._compact(h.recv, ("hit_recv", h.kind, where))
        return SinkHit(h.kind, h.api, self._compact(h.data, ("hit_data", h.kind, where)), recv, h.tag,
                       self._compact(h.endpoints, ("hit_ends", h.kind, where)), h.path)

    def _fields_always_set(self) -> tuple[tuple[object, frozenset[Label]], ...]:
        """Fields the method always sets before returning (callers then drop what they held: a strong update).
        Widening: once a method has been analysed WIDEN_AFTER times (recursion), it promises none, which only
        costs callers the strong update and lets the fixpoint converge."""
        if self.e.analysis_count.get(self.m.sig, 0) >= WIDEN_AFTER:
            return ()
        out = {k: v for k, v in self.fld_out.items() if Cell(k) not in v}
        return tuple(sorted(out.items(), key=repr))

    @staticmethod
    def _merge_into(in_states: dict[int, State], blk: int, state: State) -> bool:
        """Join `state` into the entry state of block `blk`; True when that changed it. A field written on one
        path only may still hold its old (global) value on the other."""
        cur = in_states.get(blk)
        if cur is None:
            in_states[blk] = dict(state)
            return True
        changed = False
        # the field slots only the block's entry state holds (FIELDS lists each state's field slots)
        cur_fields = cur.get(FIELDS)
        missing = (cur_fields - state.get(FIELDS, frozenset())) if cur_fields else ()
        for r in missing:
            glob = Cell(r[1])
            if glob not in cur[r]:
                cur[r] = cur[r] | {glob}
                changed = True
        for r, v in state.items():
            old = cur.get(r)
            if old is v:
                continue  # the same value object (states share them): nothing to join
            if old is None:
                if isinstance(r, tuple) and r[0] == "fld":
                    v = v | {Cell(r[1])}
                cur[r] = v
                changed = True
            elif not v <= old:
                cur[r] = old | v if r == FIELDS else cap(old | v)
                changed = True
        return changed

    # -- transfer ---------------------------------------------------------------------------------------------
    def _step(self, ins: Insn, st: State) -> None:  # noqa: C901 - one branch per opcode group, as the spec lists them
        op = ins.op
        get = st.get
        if op == 0x00:
            return
        if 0x01 <= op <= 0x09:  # move*
            st[ins.a] = get(ins.b, EMPTY)
        elif 0x0A <= op <= 0x0C:  # move-result*
            st[ins.a] = get(RESULT, EMPTY)
        elif op == 0x0D:  # move-exception
            st[ins.a] = self.caught.get(ins.off, EMPTY)
        elif op == 0x0E or op == 0x27:  # return-void, throw
            self._run_later(st)
            self._flush_fields(st, exit_=op == 0x0E)
            if op == 0x27:
                self._throw(frozenset(lab for lab in get(ins.a, EMPTY) if lab[0] in DATA))
        elif 0x0F <= op <= 0x11:  # return*
            self._run_later(st)
            self._flush_fields(st, exit_=True)
            self.ret = cap(self.ret | get(ins.a, EMPTY))
        elif 0x12 <= op <= 0x19:  # const*
            lit = ins.lit
            if abs(lit) >= 20 or (op >= 0x16 and lit):
                st[ins.a] = frozenset({Num(lit)})
            else:
                st[ins.a] = frozenset({SmallInt(lit)})  # small int: array/list index, not data
        elif op in (0x1A, 0x1B):  # const-string
            st[ins.a] = frozenset({Const(self.m.dex.string(ins.idx))})
        elif op == 0x1C:  # const-class
            st[ins.a] = frozenset({ClassConst(self.m.dex.type(ins.idx))})
        elif op == 0x1F:
            return  # check-cast keeps the value
        elif op in (0x20, 0x21):  # instance-of, array-length
            st[ins.a] = EMPTY
        elif op == 0x22:  # new-instance
            desc = self.m.dex.type(ins.idx)
            # app objects carry their class (dispatch, callbacks); library objects a site label, so that aliases
            # of a fresh StringBuilder/stream are the same value object (see _mutate)
            st[ins.a] = frozenset({AppObject(desc, ins.off)}) if self.p.is_app(desc) else frozenset({LibObject(ins.off)})
        elif op == 0x23:  # new-array: its slots are tracked by constant index
            st[ins.a] = frozenset({LibObject(ins.off)})
            if self.m.dex.type(ins.idx).startswith("[["):
                self.nested_arrays.add(ins.off)  # an array of arrays: its rows are objects of their own
        elif op in (0x24, 0x25):  # filled-new-array
            v: frozenset[Label] = EMPTY
            for r in ins.regs:
                v |= get(r, EMPTY)
            st[RESULT] = frozenset(lab for lab in v if lab[0] not in IDENTITY) | {Transform("array")} if v else EMPTY
        elif 0x2D <= op <= 0x31:  # cmp*
            st[ins.a] = EMPTY
        elif 0x44 <= op <= 0x4A:  # aget
            arr = get(ins.b, EMPTY)
            slot = self._slot(arr, get(ins.c, EMPTY), "aidx")
            if slot is not None and slot in st:
                value = st[slot]
            else:
                value = frozenset(lab for lab in arr if lab[0] not in IDENTITY)
            if op == 0x46:  # aget-object: may be a row of a multi-dimensional array allocated here
                value = value | self._row_of(arr, slot)
            st[ins.a] = value
        elif 0x4B <= op <= 0x51:  # aput
            val = get(ins.a, EMPTY)
            if val:
                stored = val | {Transform("array")} if is_tainted(val) else val
                slot = self._slot(get(ins.b, EMPTY), get(ins.c, EMPTY), "aidx")
                if slot is not None:
                    st[slot] = frozenset(lab for lab in stored if lab[0] not in IDENTITY)
                self._mutate(st, ins.b, stored)
        elif 0x52 <= op <= 0x58:  # iget
            self._iget(ins, st)
        elif op in IPUT_OPS:
            self._iput(ins, st)
        elif 0x60 <= op <= 0x66:  # sget
            self._sget(ins, st)
        elif op in SPUT_OPS:
            cls, name, ftype = self.m.dex.field_ref(ins.idx)
            cls, name = self.p.field_key(cls, name)
            self._store_local_field(st, (cls, name), self.p.typed(get(ins.a, EMPTY), ftype))
        elif op in INVOKE_OPS:
            st[RESULT] = self._invoke(ins, st)
        elif 0x7B <= op <= 0x8F or 0xB0 <= op <= 0xE2:  # unops, conversions, binop/2addr, binop/lit
            folded = _int_arith(ins, get)
            if folded is not None:
                st[ins.a] = folded
                return
            v = get(ins.b, EMPTY)
            if 0xB0 <= op <= 0xCF:
                v = v | get(ins.a, EMPTY)
            st[ins.a] = frozenset(lab for lab in v if lab[0] in DATA)
        elif 0x90 <= op <= 0xAF:  # binop
            folded = _int_arith(ins, get)
            if folded is not None:
                st[ins.a] = folded
                return
            v = get(ins.b, EMPTY) | get(ins.c, EMPTY)
            st[ins.a] = frozenset(lab for lab in v if lab[0] in DATA)
        elif op in (0xFA, 0xFB, 0xFC, 0xFD):  # invoke-polymorphic/custom: data in, data out
            v = EMPTY
            for r in ins.regs:
                v |= get(r, EMPTY)
            st[RESULT] = frozenset(lab for lab in v if lab[0] in DATA)
        elif op in (0xFE, 0xFF):  # const-method-handle/type
            st[ins.a] = EMPTY

    def _iget(self, ins: Insn, st: State) -> None:
        cls, name, ftype = self.m.dex.field_ref(ins.idx)
        cls, name = self.p.field_key(cls, name)
        if self.p.is_app(cls) or not self.cat.is_library(cls):
            base = st.get(ins.b, EMPTY)
            base_x = frozenset(lab for lab in base if lab[0] == "X")
            own = self._object_field(st, base, (cls, name))
            st[ins.a] = (own if own is not None else self._read_local_field(st, (cls, name))) | base_x
        elif f"{cls}->{name}" in self.cat.clean_fields:
            st[ins.a] = EMPTY
        else:
            st[ins.a] = self.p.typed(frozenset(lab for lab in st.get(ins.b, EMPTY) if lab[0] not in NOT_PROPAGATED), ftype)

    def _iput(self, ins: Insn, st: State) -> None:
        cls, name, ftype = self.m.dex.field_ref(ins.idx)
        cls, name = self.p.field_key(cls, name)
        val = self.p.typed(st.get(ins.a, EMPTY), ftype)
        if self.p.is_app(cls) or not self.cat.is_library(cls):
            base = st.get(ins.b, EMPTY)
            if (self.m.name == self.cat.components.last_callback and ParamObject(0) in base
                    and self.m.class_desc in self.e.components):
                # onDestroy is the last callback of this instance: what it stores in its own fields is
                # never read by the instance's other lifecycle methods
                st[("dead", (cls, name))] = val
            else:
                self._store_local_field(st, (cls, name), val)
                self._store_object_field(st, base, (cls, name), val)
        else:
            self._mutate(st, ins.b, val)

    def _static_constant(self, ins: Insn) -> int | None:
        """The one value an sget of an app static field can read (see Program.static_constant), outside the
        field's own class initialiser (which may read it before its write)."""
        cls, name, _t = self.m.dex.field_ref(ins.idx)
        cls, name = self.p.field_key(cls, name)
        if self.m.class_desc == cls and self.m.name == "<clinit>":
            return None
        return self.p.static_constant(cls, name)

    def _sget(self, ins: Insn, st: State) -> None:
        cls, name, _t = self.m.dex.field_ref(ins.idx)
        cls, name = self.p.field_key(cls, name)
        self._class_init(cls)
        if ins.op in (0x60, 0x63, 0x64, 0x65, 0x66):  # sget of a 32-bit value: a flag that holds one constant
            value = self._static_constant(ins) if ("fld", (cls, name)) not in st else None
            if value is not None:
                st[ins.a] = frozenset({SmallInt(value)}) if abs(value) < 20 else frozenset({Num(value)})
                return
        kind = self.cat.provider_fields.get(f"{cls}->{name}")
        if kind is not None:
            st[ins.a] = frozenset({ProviderUri(kind)})
        elif cls == self.cat.families.time_unit_class:
            st[ins.a] = frozenset({TimeUnitConst(name)})
        elif self.cat.is_library(cls) and cls not in self.p.classes:
            st[ins.a] = EMPTY
        else:
            st[ins.a] = self._read_local_field(st, (cls, name))
