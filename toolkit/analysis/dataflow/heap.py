"""Heap effects of the interpreter: object mutation, fields (local, per-object and global), exceptions.

Objects allocated in the method (AppObject with a site) keep their own instance fields in the state, so two
objects of one class do not share a value (object sensitivity for local objects); fields of objects that come
from elsewhere stay field-based (global cells). Parameter objects are read symbolically (ParamField).
Fields written by the method are tracked in the state until a call or the method's end, so that a value
overwritten before anyone can read it ("f = imei; f = null") does not count (a strong update).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.program import Loc, Program, loc_of, param_types
from toolkit.analysis.dataflow.summary import FIELDS, Fact, MethodResult, State, set_local_field
from toolkit.analysis.dataflow.values import (
    EMPTY,
    IDENTITY,
    Cell,
    CellKey,
    FieldObject,
    Label,
    LibObject,
    ParamField,
    SlotObject,
    cap,
    is_tainted,
)
from toolkit.analysis.dex import MethodDef

if TYPE_CHECKING:
    from toolkit.analysis.dataflow.solver import Solver

Later = tuple[MethodDef, frozenset[Label], object, Loc]  # an observer to run again at the method's exit


class HeapOps:
    """Base of MethodInterpreter: the method's state, and everything that reads or writes memory other than
    registers."""

    e: Solver
    p: Program
    cat: Catalogue
    m: MethodDef
    res: MethodResult
    ret: frozenset[Label]
    mut: dict[int, frozenset[Label]]
    thrown: frozenset[Label]  # data carried by exceptions thrown here (or by callees)
    uncovered: frozenset[Label]  # ... of them, thrown where no try block covers the code
    nested_arrays: set[int]  # sites of arrays of arrays allocated in the method
    caught: dict[int, frozenset[Label]]  # handler offset -> data of the exceptions it catches
    fld_out: dict[object, frozenset[Label]]  # field values when the method returns
    cur_handlers: list[int]
    relw: dict[tuple[int, object], frozenset[Label]]  # writes to fields of parameter objects
    relm: dict[tuple[int, object], frozenset[Label]]  # changes to objects held in those fields
    later: list[Later]
    flushed: set[tuple[object, frozenset[Label]]]  # (state key, value) pairs already written out

    def _call_app(self, t: MethodDef, args: list[frozenset[Label]], arg_regs: list[int | None], st: State,
                  where: Loc, kind: str) -> frozenset[Label]:
        raise NotImplementedError  # CallOps

    def _loc(self, off: int) -> Loc:
        return loc_of(self.m, off)

    def _fact(self, fact: Fact) -> None:
        self.res.facts.add(fact)

    def _mutate(self, state: State, reg: int, added: frozenset[Label]) -> None:
        """Add data to the object in register `reg`: every register holding the same object sees it, and so do
        the caller (parameter objects), the field holding it, or the local object slot holding it."""
        added = frozenset(lab for lab in added if lab[0] not in IDENTITY)
        if not added:
            return
        old = state.get(reg, EMPTY)
        new = cap(old | added)
        if new == old:
            return
        if old:
            for r, v in list(state.items()):
                if v is old:
                    state[r] = new
        state[reg] = new
        for lab in old:
            kind = lab[0]
            if kind == "A":
                self.mut[lab[1]] = cap(self.mut.get(lab[1], EMPTY) | added)
            elif kind == "F":
                self._write_field(lab[1], added)
            elif kind == "FR":
                # the object held in a field of a parameter object changed (vm.liveData.postValue(x))
                self.relm[(lab[1], lab[2])] = cap(self.relm.get((lab[1], lab[2]), EMPTY) | added)
            elif kind == "OF":
                state[lab[1]] = cap(state.get(lab[1], EMPTY) | added)
            elif kind == "AR":
                # a row of a multi-dimensional array: the array holds it (a read of another row at an index not
                # known may be this one)
                self._mutate_holders(state, lab[1], added)

    def _mutate_holders(self, state: State, site: int, added: frozenset[Label]) -> None:
        """Data added to the library object or array allocated here at `site`: every register holding it sees
        it (e.g. a callee wrote into an array kept in a field of a local object)."""
        obj = LibObject(site)
        for reg in [r for r, v in state.items() if isinstance(r, int) and obj in v]:
            self._mutate(state, reg, added)

    def _object_fields(self, st: State, value: frozenset[Label]) -> frozenset[Label]:
        """Every field of the app objects in value (what a serialiser reads)."""
        out: set[Label] = set()
        for lab in value:
            if lab[0] != "O" or not self.p.is_app(lab[1]):
                continue
            cur: str | None = lab[1]
            for _ in range(10):
                cdef = self.p.classes.get(cur) if cur else None
                if cdef is None or not self.p.is_app(cdef.desc):
                    break
                for fidx in cdef.field_idxs:
                    key = (cdef.desc, cdef.dex.field_ref(fidx)[1])
                    if len(lab) == 3 and ("ofld", lab[2], key) in st:
                        out.update(st[("ofld", lab[2], key)])
                    else:
                        out.add(Cell(key))
                cur = cdef.superclass
        return frozenset(x for x in out if x[0] not in IDENTITY)

    def _throw(self, value: frozenset[Label]) -> None:
        """An exception carrying `value` leaves the current instruction: to the handlers covering it (the
        catch blocks that can see it), and out of the method for its callers."""
        if not value:
            return
        for h in self.cur_handlers:
            self.caught[h] = cap(self.caught.get(h, EMPTY) | value)
        self.thrown = cap(self.thrown | value)
        if not self.cur_handlers:
            # no try block around it: it certainly leaves the method (an entry point's is then uncaught)
            self.uncovered = cap(self.uncovered | value)

    def _class_init(self, cls: str) -> None:
        """A static field is read: the class's static initialiser has run (it fills the field info with the
        objects it creates, e.g. enum constants with their own bodies)."""
        cdef = self.p.classes.get(cls)
        if cdef is None or cls == self.m.class_desc or not self.p.is_app(cls):
            return
        clinit = cdef.methods.get("<clinit>()V")
        if clinit is not None and clinit.code_off:
            self.e.summary_of(clinit, self.m.sig)

    def _run_later(self, st: State) -> None:
        """Observers registered in this method also see what it posted after registering them."""
        for t, obj, slot, where in self.later:
            value = frozenset(lab for lab in st.get(slot, EMPTY) if lab[0] not in IDENTITY)
            if is_tainted(value):
                call = [obj] + [value] * len(param_types(t.proto))
                self._call_app(t, call, [None] * len(call), st, where, "callback")

    @staticmethod
    def _slot(container: frozenset[Label], index: frozenset[Label], kind: str) -> tuple[str, object, int] | None:
        """State key of slot `index` of a container allocated in this method, when both are known exactly."""
        # an array allocated here, or a row of one at a known index (its slots are apart from the array's)
        sites = [lab[1] if lab[0] == "L" else (lab[1], lab[2]) for lab in container
                 if lab[0] == "L" or (lab[0] == "AR" and lab[2] >= 0)]
        idx = [lab[1] for lab in index if lab[0] in ("I", "N")]
        if len(sites) == 1 and len(idx) == 1 and len(index) == 1:
            return (kind, sites[0], idx[0])
        return None

    def _object_field(self, st: State, base: frozenset[Label], key: CellKey) -> frozenset[Label] | None:
        """Field `key` of the object in `base`: its own slot for a local object, symbolic for a parameter
        object, None when neither (the caller then reads the field globally)."""
        sites = [lab for lab in base if lab[0] == "O" and len(lab) == 3]
        if len(sites) == 1 and not any(lab[0] in ("A", "F", "G", "P") for lab in base):
            slot = ("ofld", sites[0][2], key)
            return st.get(slot, EMPTY) | {SlotObject(slot)}
        params = [lab[1] for lab in base if lab[0] == "A"]
        if len(params) == 1 and not sites and ("fld", key) not in st:
            self.e.field_readers.setdefault(key, set()).add(self.m.sig)
            return frozenset({ParamField(params[0], key), FieldObject(key)}) | self.e.field_info.get(key, EMPTY)
        return None

    def _object_field_known(self, st: State, base: frozenset[Label], key: CellKey) -> bool:
        """Whether `_object_field` knows field `key` of `base` per object (a local object's slot, or a parameter
        object's field a caller can know), rather than only globally, field-based. Reads nothing."""
        sites = [lab for lab in base if lab[0] == "O" and len(lab) == 3]
        if len(sites) == 1 and not any(lab[0] in ("A", "F", "G", "P") for lab in base):
            return True
        return not sites and ("fld", key) not in st and sum(1 for lab in base if lab[0] == "A") == 1

    def _store_object_field(self, st: State, base: frozenset[Label], key: CellKey, val: frozenset[Label]) -> None:
        # a local object's field keeps which array/library object of this method it holds (LibObject): what a
        # callee later writes into it through the field (a Runnable filling a captured box) reaches that object
        val = frozenset(lab for lab in val if lab[0] not in IDENTITY or lab[0] == "L")
        sites = [lab for lab in base if lab[0] == "O" and len(lab) == 3]
        if len(sites) == 1:
            st[("ofld", sites[0][2], key)] = val  # strong update: the one object allocated here
        elif len(sites) > 1:
            for site in sites:
                st[("ofld", site[2], key)] = st.get(("ofld", site[2], key), EMPTY) | val
        for lab in base:
            if lab[0] == "A":
                self.relw[(lab[1], key)] = cap(self.relw.get((lab[1], key), EMPTY)
                                               | frozenset(x for x in val if x[0] != "L"))

    def _store_local_field(self, st: State, key: CellKey, value: frozenset[Label]) -> None:
        set_local_field(st, key, frozenset(lab for lab in value if lab[0] not in IDENTITY))
        self.e.record_field_info(key, value)

    def _read_local_field(self, st: State, key: CellKey) -> frozenset[Label]:
        local = st.get(("fld", key))
        if local is not None:
            return local | {FieldObject(key)}
        return self._read_field(key)

    def _flush_fields(self, st: State, exit_: bool = False) -> None:
        """Fields written locally become global writes (before a call, which may read them, and at exit)."""
        flushed = self.flushed
        for k in st.get(FIELDS, ()):
            v = st.get(k)
            if v is not None:
                if (k, v) not in flushed:  # writing the same value again changes nothing
                    flushed.add((k, v))
                    own = Cell(k[1])
                    self._write_field(k[1], frozenset(lab for lab in v if lab != own))
                if exit_:
                    self.fld_out[k[1]] = cap(self.fld_out.get(k[1], EMPTY) | v)

    def _write_field(self, key: CellKey, value: frozenset[Label]) -> None:
        if any(lab[0] in IDENTITY for lab in value):
            value = frozenset(lab for lab in value if lab[0] not in IDENTITY)
        if not value:
            return
        self.res.writes.add((key, value))
        self.e.record_field_info(key, value)

    def _read_field(self, key: CellKey) -> frozenset[Label]:
        self.e.field_readers.setdefault(key, set()).add(self.m.sig)
        return frozenset({Cell(key), FieldObject(key)}) | self.e.field_info.get(key, EMPTY)
