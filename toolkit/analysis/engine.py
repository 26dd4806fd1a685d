"""Interprocedural taint engine over Dalvik bytecode.

How it works (short):
- Values are sets of labels. ("S", n) is a sensitive value read at source occurrence n; ("P", i) means "whatever
  the caller passed as parameter i" (symbolic, substituted at call sites); ("A", i)/("F", f) say the object *is*
  parameter i / the object held in field f (mutating it is a side effect the caller must see); ("G", key) is the
  content of a global cell (a field, or the extras arriving at one of the app's own components), resolved once
  the whole program is analysed; ("C", str)/("N", int) constants (endpoints, periods); ("O", cls) an object
  allocated from an app class (dispatch, callbacks); ("K", cls) a class constant; ("M", cls, name) a reflective
  method; ("T", tag) a stream to the network or to a file; ("U", kind) a content-provider URI; ("IT", what,
  value) an Intent target; ("X", name) a transformation the value went through; ("PER", ms) a job period.
- Each method is analysed once (context-insensitive) into a summary: return value, mutations of its parameters,
  and the sink hits / field writes / intents that still depend on its parameters. Callers substitute their
  arguments. Recursion is solved by iterating to a fixpoint.
- Work is demand-driven: only methods that read a source, receive or return such values, read fields written
  with them, or lie on the call chains from entry points are decoded at all.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from toolkit.analysis.catalogue import Catalogue, SinkSpec
from toolkit.analysis.dex import (
    INVOKE_KIND,
    INVOKE_OPS,
    IPUT_OPS,
    SPUT_OPS,
    ClassDef,
    DexError,
    DexFile,
    Insn,
    MethodDef,
)

log = logging.getLogger(__name__)

Label = tuple
Value = frozenset
EMPTY: frozenset[Label] = frozenset()
Loc = tuple[str, str, str, int]  # class descriptor, method name, proto, offset
State = dict[Any, frozenset[Label]]  # register (int), _RESULT, ("fld", field) or ("ofld", site, field) -> value

_IDENTITY = ("A", "F", "L", "OF")
_NO_DEFAULT = ("A", "F", "T", "L", "I", "OF")  # not carried by library calls' results (SCHEME labels do travel)
_DATA = ("S", "P", "G", "X", "KV", "GK", "PK", "FR")
_MAX_LABELS = 96
_MAX_TARGETS = 12
_MAX_SUMMARY_HITS = 48
_MAX_REANALYSIS = 6
_MAX_CALL_DEPTH = 14
_MAX_METHOD_UNITS = 12000
_MAX_CHA_TARGETS = 4
_MAX_FOREIGN_DEPTH = 2
_REGISTRATION_PREFIXES = ("set", "add", "register", "request", "post", "execute", "submit", "schedule", "start", "bind",
                          "<init>", "run", "enqueue", "subscribe", "observe", "listen", "attach", "invoke")
_RESULT = -1
_BUILDERS = ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;")
_PREFS = ("Landroid/content/SharedPreferences;",)
_COPIES = {  # api -> (1-based source parameter, 1-based destination parameter)
    "Ljava/lang/System;->arraycopy": (1, 3),
    "Ljava/util/Collections;->addAll": (2, 1),
    "Ljava/util/Collections;->copy": (2, 1),
    "Ljava/io/InputStream;->read": (0, 1),
}
_FILE_READERS = ("Ljava/io/FileInputStream;", "Ljava/io/FileReader;", "Ljava/io/RandomAccessFile;")


def _file_names(value: Iterable[Label]) -> list[str]:
    """File names among the constants of a value (the last path segment: where the app keeps the file)."""
    out = []
    for lab in value:
        if lab[0] == "C" and isinstance(lab[1], str) and lab[1] and " " not in lab[1] and "://" not in lab[1]:
            base = lab[1].rstrip("/").rsplit("/", 1)[-1]
            if "." in base or "/" in lab[1]:
                out.append(base)
    return sorted(set(out))


_SERIALIZERS = frozenset({"Lcom/google/gson/Gson;->toJson", "Lcom/google/gson/Gson;->toJsonTree",
                          "Ljava/io/ObjectOutputStream;->writeObject", "Lcom/fasterxml/jackson/databind/ObjectMapper;->writeValueAsString",
                          "Lcom/fasterxml/jackson/databind/ObjectMapper;->writeValueAsBytes"})
_LISTS = ("Ljava/util/ArrayList;", "Ljava/util/LinkedList;", "Ljava/util/List;", "Ljava/util/Vector;")
_PREFS_EDITORS = ("Landroid/content/SharedPreferences$Editor;",)
_RES_HOLDERS = ("Landroid/content/Context;", "Landroid/content/res/Resources;", "Landroid/app/Activity;",
                "Landroid/content/ContextWrapper;", "Landroid/app/Service;", "Landroid/app/Application;",
                "Landroid/view/ContextThemeWrapper;", "Landroid/app/IntentService;")


class BudgetExceeded(Exception):
    """The per-APK time budget ran out."""


def _has(value: Iterable[Label], kind: str) -> bool:
    return any(lab[0] == kind for lab in value)


def _cap(value: frozenset[Label]) -> frozenset[Label]:
    if len(value) <= _MAX_LABELS:
        return value
    keep = [lab for lab in value if lab[0] in ("S", "P", "A", "F", "G", "T", "X", "O")]
    rest = sorted((lab for lab in value if lab[0] not in ("S", "P", "A", "F", "G", "T", "X", "O")), key=repr)
    return frozenset(keep + rest[: max(0, _MAX_LABELS - len(keep))])


@dataclass(frozen=True)
class SinkHit:
    kind: str
    api: str
    data: frozenset[Label]
    recv: frozenset[Label] | None  # receiver, when the sink depends on its tag
    tag: str | None
    endpoints: frozenset[Label]
    path: tuple[Loc, ...]  # call sites from the method holding the hit down to the sink call


@dataclass(frozen=True)
class IccSend:
    api: str
    intent: frozenset[Label]
    path: tuple[Loc, ...]
    always_external: bool = False
    internal_only: bool = False


@dataclass
class Summary:
    ret: frozenset[Label] = EMPTY
    mutations: State = field(default_factory=dict)
    hits: frozenset[SinkHit] = frozenset()
    writes: frozenset[tuple[object, frozenset[Label]]] = frozenset()
    iccs: frozenset[IccSend] = frozenset()
    facts: frozenset[tuple[object, ...]] = frozenset()
    thrown: frozenset[Label] = EMPTY
    relw: tuple[tuple[tuple[int, object], frozenset[Label]], ...] = ()
    relm: tuple[tuple[tuple[int, object], frozenset[Label]], ...] = ()
    fld_out: tuple[tuple[object, frozenset[Label]], ...] = ()  # fields the method always sets, and to what

    def key(self) -> tuple[object, ...]:
        return (self.ret, tuple(sorted(self.mutations.items())), self.hits, self.writes, self.iccs, self.facts, self.thrown,
                self.relw, self.relm, self.fld_out)


@dataclass
class MethodResult:
    method: MethodDef
    summary: Summary
    hits: set[SinkHit] = field(default_factory=set)
    writes: set[tuple[object, frozenset[Label]]] = field(default_factory=set)
    iccs: set[IccSend] = field(default_factory=set)
    edges: set[tuple[str, str, int]] = field(default_factory=set)  # (callee sig, kind, offset)
    facts: set[tuple[object, ...]] = field(default_factory=set)  # alarms, jobs, dynamic receivers


def loc_of(m: MethodDef, off: int) -> Loc:
    return (m.class_desc, m.name, m.proto, off)


def param_types(proto: str) -> list[str]:
    """Parameter descriptors of a '(...)R' prototype."""
    out: list[str] = []
    i = 1
    end = proto.index(")")
    while i < end:
        j = i
        while proto[j] == "[":
            j += 1
        if proto[j] == "L":
            j = proto.index(";", j)
        out.append(proto[i : j + 1])
        i = j + 1
    return out


def dotted_to_desc(name: str) -> str:
    return "L" + name.replace(".", "/") + ";"


def desc_to_dotted(desc: str) -> str:
    return desc[1:-1].replace("/", ".") if desc.startswith("L") and desc.endswith(";") else desc


class Program:
    """All DEX files of one APK, with the class hierarchy of the app's own code."""

    def __init__(self, dexes: list[DexFile], catalogue: Catalogue) -> None:
        self.dexes = dexes
        self.cat = catalogue
        self.classes: dict[str, ClassDef] = {}
        for dex in dexes:
            for desc, cdef in dex.classes.items():
                self.classes.setdefault(desc, cdef)
        self.subtypes: dict[str, set[str]] = {}
        for desc, cdef in self.classes.items():
            for sup in (cdef.superclass, *cdef.interfaces):
                if sup:
                    self.subtypes.setdefault(sup, set()).add(desc)
        self.methods: dict[str, MethodDef] = {}
        for cdef in self.classes.values():
            for mdef in cdef.methods.values():
                self.methods[mdef.sig] = mdef
        self._resolve_cache: dict[tuple[str, str], tuple[MethodDef | None, str]] = {}
        self._sub_cache: dict[tuple[str, int], list[str]] = {}
        self._field_cache: dict[tuple[str, str], tuple[str, str]] = {}

    def is_app(self, desc: str) -> bool:
        return desc in self.classes and not self.cat.is_library(desc)

    def resolve(self, cls: str, name_proto: str) -> tuple[MethodDef | None, str]:
        """(app method found walking up from cls, first non-app class reached)."""
        key = (cls, name_proto)
        hit = self._resolve_cache.get(key)
        if hit is not None:
            return hit
        cur: str | None = cls
        seen = 0
        result: tuple[MethodDef | None, str] = (None, cls)
        while cur is not None and seen < 40:
            seen += 1
            cdef = self.classes.get(cur)
            if cdef is None or self.cat.is_library(cur):
                result = (None, cur)
                break
            mdef = cdef.methods.get(name_proto)
            if mdef is not None:
                result = (mdef, cur)
                break
            # default methods of app interfaces are rare; look at the superclass only
            cur = cdef.superclass
            result = (None, cur or "Ljava/lang/Object;")
        self._resolve_cache[key] = result
        return result

    def field_key(self, cls: str, name: str) -> tuple[str, str]:
        """(declaring class, name): a field referenced through a subclass is the superclass's field."""
        key = (cls, name)
        hit = self._field_cache.get(key)
        if hit is None:
            hit = key
            cur: str | None = cls
            for _ in range(30):
                cdef = self.classes.get(cur) if cur else None
                if cdef is None or self.cat.is_library(cdef.desc):
                    break
                if cdef.declares_field(name):
                    hit = (cdef.desc, name)
                    break
                cur = cdef.superclass
            self._field_cache[key] = hit
        return hit

    def supers(self, desc: str) -> list[str]:
        """App superclasses and interfaces (transitively) plus the first library ones."""
        out: list[str] = []
        todo = [desc]
        while todo and len(out) < 60:
            cur = todo.pop()
            cdef = self.classes.get(cur)
            if cdef is None or self.cat.is_library(cur):
                continue
            for sup in (cdef.superclass, *cdef.interfaces):
                if sup and sup not in out:
                    out.append(sup)
                    todo.append(sup)
        return out

    def all_subtypes(self, desc: str, limit: int = 200) -> list[str]:
        key = (desc, limit)
        cached = self._sub_cache.get(key)
        if cached is None:
            cached = self._sub_cache[key] = self._all_subtypes(desc, limit)
        return cached

    def _all_subtypes(self, desc: str, limit: int) -> list[str]:
        out: list[str] = []
        todo = [desc]
        seen = {desc}
        while todo and len(out) < limit:
            cur = todo.pop()
            for sub in self.subtypes.get(cur, ()):
                if sub not in seen:
                    seen.add(sub)
                    out.append(sub)
                    todo.append(sub)
        return out

    def methods_named(self, cls: str, name: str) -> list[MethodDef]:
        """Methods called `name` in cls and its app superclasses (most specific wins per proto)."""
        found: dict[str, MethodDef] = {}
        cur: str | None = cls
        depth = 0
        while cur and depth < 30 and self.is_app(cur):
            depth += 1
            for key, mdef in self.classes[cur].methods.items():
                if mdef.name == name and key not in found:
                    found[key] = mdef
            cur = self.classes[cur].superclass
        return list(found.values())


class Engine:
    """Analyses the methods of one program, on demand, into summaries and effects."""

    def __init__(self, program: Program, component_classes: set[str], deadline: float) -> None:
        self.p = program
        self.cat = program.cat
        self.components = component_classes  # descriptors of manifest components (+ dynamic receivers)
        self.deadline = deadline
        self.results: dict[str, MethodResult] = {}
        self.in_progress: set[str] = set()
        self.dependents: dict[str, set[str]] = {}
        self.dirty: deque[str] = deque()
        self.occurrences: list[tuple[str, str, Loc]] = []
        self._occ_index: dict[tuple[str, str, Loc], int] = {}
        self.field_info: dict[object, frozenset[Label]] = {}  # objects/constants stored in fields (eager)
        self.field_readers: dict[object, set[str]] = {}
        self.methods_analysed = 0
        self.analysis_count: dict[str, int] = {}
        self.relevant_packages: set[str] | None = None  # None: every package is analysed
        self.errors: list[str] = []
        self.home_prefixes: tuple[str, ...] | None = None  # None: no limit on third-party depth
        self.resource_strings: dict[int, str] = {}  # R.string ids -> default value (resources.arsc)
        self.max_depth = _MAX_CALL_DEPTH  # callee summaries computed this many calls deep, deeper = default
        self.http_proxies = False  # the APK builds HTTP clients from interfaces (Retrofit.create)
        self.max_reanalysis = _MAX_REANALYSIS
        self.stack: list[str] = []

    def relevant(self, m: MethodDef) -> bool:
        """Code in a package that references no sink, intent or callback API cannot leak by itself: its
        methods are summarised like library calls (result carries the arguments) instead of analysed."""
        if self.relevant_packages is None:
            return True
        return m.class_desc.rsplit("/", 1)[0] in self.relevant_packages

    # --- public --------------------------------------------------------------------------------------------
    def ensure(self, m: MethodDef) -> MethodResult | None:
        """Analyse m (and its callees) if not done yet."""
        res = self.results.get(m.sig)
        if res is None and m.sig not in self.in_progress:
            self._analyse(m)
            self.drain()
            res = self.results.get(m.sig)
        return res

    def drain(self) -> None:
        """Re-analyse methods whose callee summaries changed, to a fixpoint."""
        rounds = 0
        while self.dirty:
            rounds += 1
            if rounds > 20000:
                log.warning("fixpoint iteration limit reached")
                self.dirty.clear()
                break
            sig = self.dirty.popleft()
            m = self.p.methods.get(sig)
            if self.analysis_count.get(sig, 0) >= self.max_reanalysis:
                continue  # keep the summary we have: recursion in big libraries must not eat the budget
            if m is not None and sig not in self.in_progress:
                self._analyse(m)

    def occ(self, kind: str, api: str, where: Loc) -> Label:
        key = (kind, api, where)
        n = self._occ_index.get(key)
        if n is None:
            n = len(self.occurrences)
            self.occurrences.append(key)
            self._occ_index[key] = n
        return ("S", n)

    # --- method analysis -----------------------------------------------------------------------------------
    def _summary_of(self, callee: MethodDef, caller: str) -> Summary:
        self.dependents.setdefault(callee.sig, set()).add(caller)
        res = self.results.get(callee.sig)
        if res is not None:
            return res.summary
        if callee.sig in self.in_progress:
            return Summary()
        if len(self.in_progress) > self.max_depth or self._too_big(callee) or not self.relevant(callee) \
                or self._too_foreign(callee):
            return _DEFAULT_SUMMARY  # deep library internals: modelled like an unknown library call
        self._analyse(callee)
        res = self.results.get(callee.sig)
        return res.summary if res is not None else Summary()

    def is_home(self, m: MethodDef) -> bool:
        return self.home_prefixes is None or m.class_desc.startswith(self.home_prefixes)

    def _too_foreign(self, callee: MethodDef) -> bool:
        """Bundled third-party code is followed only a couple of calls deep from the app's own code."""
        if self.home_prefixes is None or self.is_home(callee):
            return False
        depth = 0
        for sig in reversed(self.stack):
            if sig.startswith(self.home_prefixes):
                break
            depth += 1
        return depth >= _MAX_FOREIGN_DEPTH

    def _too_big(self, m: MethodDef) -> bool:
        if not m.code_off:
            return False
        return m.dex.insns_size(m) > _MAX_METHOD_UNITS

    def _analyse(self, m: MethodDef) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded()
        self.in_progress.add(m.sig)
        self.stack.append(m.sig)
        try:
            res = _MethodAnalysis(self, m).run()
        except DexError as exc:
            self.errors.append(f"{m.sig}: {exc}")
            res = MethodResult(m, Summary())
        finally:
            self.in_progress.discard(m.sig)
            self.stack.pop()
        self.methods_analysed += 1
        self.analysis_count[m.sig] = self.analysis_count.get(m.sig, 0) + 1
        old = self.results.get(m.sig)
        self.results[m.sig] = res
        old_key = old.summary.key() if old is not None else _EMPTY_KEY
        if old_key != res.summary.key():
            # callers that used the previous (or, under recursion, an empty) summary must look again
            for dep in sorted(self.dependents.get(m.sig, ())):
                if dep != m.sig or old is not None:
                    self.dirty.append(dep)

    def record_field_info(self, key: object, value: frozenset[Label]) -> None:
        info = frozenset((lab[0], lab[1]) if lab[0] == "O" else lab for lab in value
                         if lab[0] in ("O", "T", "U", "K") or (lab[0] == "C" and str(lab[1]).startswith("content://")))
        if not info:
            return
        old = self.field_info.get(key, EMPTY)
        new = _cap(old | info)
        if new != old:
            self.field_info[key] = new
            for reader in self.field_readers.get(key, ()):
                self.dirty.append(reader)


# What an unanalysed app method is assumed to do: its result carries its arguments (like a library call).
_DEFAULT_SUMMARY = Summary(ret=frozenset({("P", i) for i in range(0, 12)}))


_EMPTY_KEY = Summary().key()


class _MethodAnalysis:
    """Forward data flow over one method's registers, to a fixpoint over its control-flow graph."""

    def __init__(self, engine: Engine, m: MethodDef) -> None:
        self.e = engine
        self.p = engine.p
        self.cat = engine.cat
        self.m = m
        self.res = MethodResult(m, Summary())
        self.ret: frozenset[Label] = EMPTY
        self.mut: State = {}
        self.thrown: frozenset[Label] = EMPTY  # data carried by exceptions thrown here (or by callees)
        self.caught: dict[int, frozenset[Label]] = {}  # handler offset -> data of the exceptions it catches
        self.fld_out: dict[object, frozenset[Label]] = {}  # field values when the method returns
        self.cur_handlers: list[int] = []
        self.relw: dict[tuple[int, object], frozenset[Label]] = {}  # writes to fields of parameter objects
        self.relm: dict[tuple[int, object], frozenset[Label]] = {}  # changes to objects held in those fields
        self.later: list[tuple[MethodDef, frozenset[Label], object, Loc]] = []  # observers to run again at exit

    # -- setup
    def _initial_state(self, code_regs: int, ins: int) -> State:
        m = self.m
        state: State = {}
        types = param_types(m.proto)
        reg = code_regs - ins
        pidx = 0
        if not m.is_static:
            state[reg] = frozenset({("P", 0), ("A", 0), ("O", m.class_desc)})
            reg += 1
        cb_src = self.cat.callback_sources.get(m.name + m.proto)
        comp_intent = self._incoming_intent_label()
        for k, t in enumerate(types, start=1):
            pidx = k
            val: set[Label] = {("P", pidx)}
            if t.startswith(("L", "[")):
                val.add(("A", pidx))
            if cb_src is not None and cb_src[1] == pidx:
                val.add(self.e.occ(cb_src[0].kind, m.sig, loc_of(m, 0)))
            if t == "Landroid/content/Intent;" and comp_intent is not None:
                val.add(comp_intent)
            if t == "Landroid/content/Intent;" and m.name == "onActivityResult":
                val.add(("G", ("result", m.class_desc)))
            if t == "Landroid/os/Bundle;" and not m.is_static:
                # the state an activity saves in onSaveInstanceState comes back in onCreate/onRestoreInstanceState
                state_key = ("saved_state", m.class_desc)
                if m.name == "onSaveInstanceState":
                    val.add(("F", state_key))
                elif m.name in ("onCreate", "onRestoreInstanceState", "onPostCreate"):
                    val.add(("G", state_key))
            state[reg] = frozenset(val)
            reg += 2 if t in ("J", "D") else 1
        return state

    def _incoming_intent_label(self) -> Label | None:
        if self.m.is_static:
            return None
        for cls in (self.m.class_desc, *self.p.all_subtypes(self.m.class_desc, 20)):
            if cls in self.e.components:
                return ("G", ("icc", cls))
        if "Landroid/content/BroadcastReceiver;" in self.p.supers(self.m.class_desc):
            return ("G", ("icc", self.m.class_desc))  # receiver registered at run time
        return None

    # -- run
    def run(self) -> MethodResult:
        m = self.m
        code = m.dex.code(m)
        if code is None:
            return self.res
        insns = code.insns
        if not insns:
            return self.res
        off2i = {ins.off: i for i, ins in enumerate(insns)}
        n = len(insns)
        # basic blocks
        leaders = {0}
        for i, ins in enumerate(insns):
            op = ins.op
            if ins.targets or op in (0x0E, 0x0F, 0x10, 0x11, 0x27):
                for t in ins.targets:
                    if t in off2i:
                        leaders.add(off2i[t])
                if i + 1 < n:
                    leaders.add(i + 1)
        handlers: list[tuple[int, int, list[int]]] = []
        for tb in code.tries:
            hs = [off2i[a] for _t, a in tb.handlers if a in off2i]
            for h in hs:
                leaders.add(h)
            if tb.start in off2i:
                leaders.add(off2i[tb.start])
            endi = next((i for i, ins in enumerate(insns) if ins.off >= tb.end), n)
            if endi < n:
                leaders.add(endi)
            handlers.append((tb.start, tb.end, hs))
        handler_offs = [(tb.start, tb.end, [a for _t, a in tb.handlers]) for tb in code.tries]
        starts = sorted(leaders)
        block_end = {s: (starts[k + 1] if k + 1 < len(starts) else n) for k, s in enumerate(starts)}
        in_states: dict[int, State] = {0: self._initial_state(code.registers, code.ins)}
        work = deque([0])
        queued = {0}
        visits = 0
        while work:
            b = work.popleft()
            queued.discard(b)
            visits += 1
            if visits > 4000 + 20 * len(starts):
                log.debug("%s: block iteration limit", m.sig)
                break
            state = dict(in_states[b])
            entry_state = dict(state)
            end = block_end[b]
            succs: list[int] = []
            i = b
            falls = True
            while i < end:
                ins = insns[i]
                self.cur_handlers = [code_off for start, stop, hs in handler_offs if start <= ins.off < stop for code_off in hs]
                self._step(ins, state)
                op = ins.op
                if op in (0x0E, 0x0F, 0x10, 0x11, 0x27):
                    falls = False
                elif 0x28 <= op <= 0x2A:
                    falls = False
                    succs.extend(off2i[t] for t in ins.targets if t in off2i)
                elif ins.targets:
                    succs.extend(off2i[t] for t in ins.targets if t in off2i)
                i += 1
            if falls and end < n:
                succs.append(end)
            boff = insns[b].off
            for start, stop, hs in handlers:
                if start <= boff < stop:
                    merged = dict(entry_state)
                    for r, v in state.items():
                        merged[r] = merged.get(r, EMPTY) | v
                    for h in hs:
                        if self._merge_into(in_states, h, merged) and h not in queued:
                            work.append(h)
                            queued.add(h)
            for s in succs:
                if self._merge_into(in_states, s, state) and s not in queued:
                    work.append(s)
                    queued.add(s)
        self.res.summary = Summary(
            ret=_cap(self.ret),
            mutations={k: _cap(v) for k, v in self.mut.items()},
            hits=frozenset(sorted((h for h in self.res.hits if _sym(h.data) or (h.recv is not None and _sym(h.recv))),
                                  key=lambda h: (len(h.path), h.path))[:_MAX_SUMMARY_HITS]),
            writes=frozenset(w for w in self.res.writes if _sym(w[1])),
            iccs=frozenset(c for c in self.res.iccs if _sym(c.intent)),
            facts=frozenset(f for f in self.res.facts if f[0] == "sym"),
            thrown=_cap(self.thrown),
            relw=tuple(sorted(((k, _cap(v)) for k, v in self.relw.items()), key=repr)),
            relm=tuple(sorted(((k, _cap(v)) for k, v in self.relm.items()), key=repr)),
            fld_out=tuple(sorted(((k, v) for k, v in self.fld_out.items() if ("G", k) not in v), key=repr)),
        )
        return self.res

    @staticmethod
    def _merge_into(in_states: dict[int, State], blk: int, state: State) -> bool:
        cur = in_states.get(blk)
        if cur is None:
            in_states[blk] = dict(state)
            return True
        changed = False
        for r in [r for r in cur if isinstance(r, tuple) and r[0] == "fld" and r not in state]:
            glob = frozenset({("G", r[1])})
            if not glob <= cur[r]:
                cur[r] = cur[r] | glob
                changed = True
        for r, v in state.items():
            old = cur.get(r)
            if old is None:
                if isinstance(r, tuple) and r[0] == "fld":
                    v = v | {("G", r[1])}
                cur[r] = v
                changed = True
            elif not v <= old:
                cur[r] = _cap(old | v)
                changed = True
        return changed

    # -- helpers
    def _mutate(self, state: State, reg: int, added: frozenset[Label]) -> None:
        added = frozenset(lab for lab in added if lab[0] not in _IDENTITY)
        if not added:
            return
        old = state.get(reg, EMPTY)
        new = _cap(old | added)
        if new == old:
            return
        if old:
            for r, v in list(state.items()):
                if v is old:
                    state[r] = new
        state[reg] = new
        for lab in old:
            if lab[0] == "A":
                self.mut[lab[1]] = _cap(self.mut.get(lab[1], EMPTY) | added)
            elif lab[0] == "F":
                self._write_field(lab[1], added)
            elif lab[0] == "FR":
                # the object held in a field of a parameter object changed (vm.liveData.postValue(x))
                self.relm[(lab[1], lab[2])] = _cap(self.relm.get((lab[1], lab[2]), EMPTY) | added)
            elif lab[0] == "OF":
                state[lab[1]] = _cap(state.get(lab[1], EMPTY) | added)

    def _object_fields(self, st: State, value: frozenset[Label]) -> frozenset[Label]:
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
                        out.update({("G", key)})
                cur = cdef.superclass
        return frozenset(x for x in out if x[0] not in _IDENTITY)

    def _throw(self, value: frozenset[Label]) -> None:
        """An exception carrying `value` leaves the current instruction: to the handlers covering it (the
        catch blocks that can see it), and out of the method for its callers."""
        if not value:
            return
        for h in self.cur_handlers:
            self.caught[h] = _cap(self.caught.get(h, EMPTY) | value)
        self.thrown = _cap(self.thrown | value)

    def _class_init(self, cls: str) -> None:
        """A static field is read: the class's static initialiser has run (it fills the field_info with the
        objects it creates, e.g. enum constants with their own bodies)."""
        cdef = self.p.classes.get(cls)
        if cdef is None or cls == self.m.class_desc or not self.p.is_app(cls):
            return
        clinit = cdef.methods.get("<clinit>()V")
        if clinit is not None and clinit.code_off and clinit.dex.insns_size(clinit) < 400 and self.e.is_home(clinit):
            self.e._summary_of(clinit, self.m.sig)

    def _run_later(self, st: State) -> None:
        for t, obj, slot, where in self.later:
            value = frozenset(lab for lab in st.get(slot, EMPTY) if lab[0] not in _IDENTITY)
            if _tainted(value):
                n_params = len(param_types(t.proto))
                call = [obj] + [value] * n_params
                self._call_app(t, call, [None] * len(call), st, where, "callback")

    @staticmethod
    def _slot(container: frozenset[Label], index: frozenset[Label], kind: str) -> tuple[str, int, int] | None:
        """State key of slot `index` of a container allocated in this method, when both are known exactly."""
        sites = [lab[1] for lab in container if lab[0] == "L"]
        idx = [lab[1] for lab in index if lab[0] in ("I", "N")]
        if len(sites) == 1 and len(idx) == 1 and len(index) == 1:
            return (kind, sites[0], idx[0])
        return None

    def _list_op(self, lib: str, name: str, args: list[frozenset[Label]], arg_regs: list[int | None], st: State) -> frozenset[Label] | None:
        """ArrayList/LinkedList add(x)/get(i) on a list created in this method: positions are tracked."""
        sites = [lab[1] for lab in args[0] if lab[0] == "L"]
        if len(sites) != 1:
            return None
        site = sites[0]
        size_key = ("lsize", site)
        if name == "<init>" and len(args) == 1:
            st[size_key] = frozenset({("I", 0)})
            return EMPTY
        size = st.get(size_key)
        known = [lab[1] for lab in size or () if lab[0] == "I"]
        if name == "add" and len(args) == 2:
            if len(known) == 1:
                stored = frozenset(lab for lab in args[1] if lab[0] not in _IDENTITY)
                st[("lidx", site, known[0])] = stored | {("X", "collection")} if _tainted(stored) else stored
                st[size_key] = frozenset({("I", known[0] + 1)})
            else:
                st[size_key] = frozenset({("I", -1)})
            return None  # the default mutation still records the element in the list as a whole
        if name == "get" and len(args) == 2 and len(known) == 1 and known[0] >= 0:
            slot = self._slot(args[0], args[1], "lidx")
            if slot is not None and slot in st:
                return st[slot]
        if name not in ("add", "get", "size", "isEmpty", "contains", "indexOf"):
            st[size_key] = frozenset({("I", -1), ("I", -2)})  # any other change: positions unknown
        return None

    # Objects allocated in this method ("O", cls, site) keep their own instance fields in the state, so two
    # objects of one class do not share a value (object sensitivity for local objects; fields of objects
    # that come from elsewhere stay field-based). Parameter objects read symbolically: ("FR", i, field).
    def _object_field(self, st: State, base: frozenset[Label], key: object) -> frozenset[Label] | None:
        sites = [lab for lab in base if lab[0] == "O" and len(lab) == 3]
        if len(sites) == 1 and not any(lab[0] in ("A", "F", "G", "P") for lab in base):
            return st.get(("ofld", sites[0][2], key), EMPTY) | {("OF", ("ofld", sites[0][2], key))}
        params = [lab[1] for lab in base if lab[0] == "A"]
        if len(params) == 1 and not sites and ("fld", key) not in st:
            self.e.field_readers.setdefault(key, set()).add(self.m.sig)
            return frozenset({("FR", params[0], key), ("F", key)}) | self.e.field_info.get(key, EMPTY)
        return None

    def _store_object_field(self, st: State, base: frozenset[Label], key: object, val: frozenset[Label]) -> None:
        val = frozenset(lab for lab in val if lab[0] not in _IDENTITY)
        sites = [lab for lab in base if lab[0] == "O" and len(lab) == 3]
        if len(sites) == 1:
            st[("ofld", sites[0][2], key)] = val
        elif len(sites) > 1:
            for lab in sites:
                st[("ofld", lab[2], key)] = st.get(("ofld", lab[2], key), EMPTY) | val
        for lab in base:
            if lab[0] == "A":
                self.relw[(lab[1], key)] = _cap(self.relw.get((lab[1], key), EMPTY) | val)

    # Fields written by this method are tracked in the state until a call or the method's end, so that a
    # value overwritten before anyone can read it ("f = imei; f = null") does not count.
    def _store_local_field(self, st: State, key: object, value: frozenset[Label]) -> None:
        st[("fld", key)] = frozenset(lab for lab in value if lab[0] not in _IDENTITY)
        self.e.record_field_info(key, value)

    def _read_local_field(self, st: State, key: object) -> frozenset[Label]:
        local = st.get(("fld", key))
        if local is not None:
            return local | {("F", key)}
        return self._read_field(key)

    def _flush_fields(self, st: State, exit_: bool = False) -> None:
        for k, v in list(st.items()):
            if isinstance(k, tuple) and k[0] == "fld":
                self._write_field(k[1], frozenset(lab for lab in v if not (lab[0] == "G" and lab[1] == k[1])))
                if exit_:
                    self.fld_out[k[1]] = _cap(self.fld_out.get(k[1], EMPTY) | v)

    def _write_field(self, key: object, value: frozenset[Label]) -> None:
        value = frozenset(lab for lab in value if lab[0] not in _IDENTITY)
        if not value:
            return
        self.res.writes.add((key, value))
        self.e.record_field_info(key, value)

    def _read_field(self, key: object) -> frozenset[Label]:
        self.e.field_readers.setdefault(key, set()).add(self.m.sig)
        return frozenset({("G", key), ("F", key)}) | self.e.field_info.get(key, EMPTY)

    def _loc(self, off: int) -> Loc:
        return loc_of(self.m, off)

    # -- transfer
    def _step(self, ins: Insn, st: State) -> None:
        op = ins.op
        get = st.get
        if op == 0x00:
            return
        if 0x01 <= op <= 0x09:
            st[ins.a] = get(ins.b, EMPTY)
        elif 0x0A <= op <= 0x0C:
            st[ins.a] = get(_RESULT, EMPTY)
        elif op == 0x0D:
            st[ins.a] = self.caught.get(ins.off, EMPTY)
        elif op == 0x0E or op == 0x27:
            self._run_later(st)
            self._flush_fields(st, exit_=op == 0x0E)
            if op == 0x27:
                self._throw(frozenset(lab for lab in get(ins.a, EMPTY) if lab[0] in _DATA))
        elif 0x0F <= op <= 0x11:
            self._run_later(st)
            self._flush_fields(st, exit_=True)
            self.ret = _cap(self.ret | get(ins.a, EMPTY))
        elif 0x12 <= op <= 0x19:
            lit = ins.lit
            if abs(lit) >= 20 or (op >= 0x16 and lit):
                st[ins.a] = frozenset({("N", lit)})
            else:
                st[ins.a] = frozenset({("I", lit)})  # small int: array/list index, not data
        elif op in (0x1A, 0x1B):
            st[ins.a] = frozenset({("C", self.m.dex.string(ins.idx))})
        elif op == 0x1C:
            st[ins.a] = frozenset({("K", self.m.dex.type(ins.idx))})
        elif op == 0x1F:
            return  # check-cast keeps the value
        elif op in (0x20, 0x21):
            st[ins.a] = EMPTY
        elif op == 0x22:
            desc = self.m.dex.type(ins.idx)
            # app objects carry their class (dispatch, callbacks); library objects a site label, so that aliases
            # of a fresh StringBuilder/stream are the same value object (see _mutate)
            st[ins.a] = frozenset({("O", desc, ins.off)}) if self.p.is_app(desc) else frozenset({("L", ins.off)})
        elif op == 0x23:
            st[ins.a] = frozenset({("L", ins.off)})  # a fresh array: its slots are tracked by constant index
        elif op in (0x24, 0x25):
            v: frozenset[Label] = EMPTY
            for r in ins.regs:
                v |= get(r, EMPTY)
            st[_RESULT] = frozenset(lab for lab in v if lab[0] not in _IDENTITY) | {("X", "array")} if v else EMPTY
        elif 0x2D <= op <= 0x31:
            st[ins.a] = EMPTY
        elif 0x44 <= op <= 0x4A:  # aget
            arr = get(ins.b, EMPTY)
            slot = self._slot(arr, get(ins.c, EMPTY), "aidx")
            if slot is not None and slot in st:
                st[ins.a] = st[slot]
            else:
                st[ins.a] = frozenset(lab for lab in arr if lab[0] not in _IDENTITY)
        elif 0x4B <= op <= 0x51:  # aput
            val = get(ins.a, EMPTY)
            if val:
                stored = val | {("X", "array")} if _tainted(val) else val
                slot = self._slot(get(ins.b, EMPTY), get(ins.c, EMPTY), "aidx")
                if slot is not None:
                    st[slot] = frozenset(lab for lab in stored if lab[0] not in _IDENTITY)
                self._mutate(st, ins.b, stored)
        elif 0x52 <= op <= 0x58:  # iget
            cls, name, _t = self.m.dex.field_ref(ins.idx)
            cls, name = self.p.field_key(cls, name)
            if self.p.is_app(cls) or not self.cat.is_library(cls):
                base = get(ins.b, EMPTY)
                base_x = frozenset(lab for lab in base if lab[0] == "X")
                own = self._object_field(st, base, (cls, name))
                st[ins.a] = (own if own is not None else self._read_local_field(st, (cls, name))) | base_x
            elif f"{cls}->{name}" in self.cat.clean_fields:
                st[ins.a] = EMPTY
            else:
                obj = get(ins.b, EMPTY)
                st[ins.a] = frozenset(lab for lab in obj if lab[0] not in _NO_DEFAULT)
        elif op in IPUT_OPS:
            cls, name, _t = self.m.dex.field_ref(ins.idx)
            cls, name = self.p.field_key(cls, name)
            val = get(ins.a, EMPTY)
            if self.p.is_app(cls) or not self.cat.is_library(cls):
                base = get(ins.b, EMPTY)
                if self.m.name == "onDestroy" and ("A", 0) in base and self.m.class_desc in self.e.components:
                    # onDestroy is the last callback of this instance: what it stores in its own fields is
                    # never read by the instance's other lifecycle methods
                    st[("dead", (cls, name))] = val
                else:
                    self._store_local_field(st, (cls, name), val)
                    self._store_object_field(st, base, (cls, name), val)
            else:
                self._mutate(st, ins.b, val)
        elif 0x60 <= op <= 0x66:  # sget
            cls, name, _t = self.m.dex.field_ref(ins.idx)
            cls, name = self.p.field_key(cls, name)
            self._class_init(cls)
            kind = self.cat.provider_fields.get(f"{cls}->{name}")
            if kind is not None:
                st[ins.a] = frozenset({("U", kind)})
            elif cls == "Ljava/util/concurrent/TimeUnit;":
                st[ins.a] = frozenset({("UNIT", name)})
            elif self.cat.is_library(cls) and cls not in self.p.classes:
                st[ins.a] = EMPTY
            else:
                st[ins.a] = self._read_local_field(st, (cls, name))
        elif op in SPUT_OPS:
            cls, name, _t = self.m.dex.field_ref(ins.idx)
            cls, name = self.p.field_key(cls, name)
            self._store_local_field(st, (cls, name), get(ins.a, EMPTY))
        elif op in INVOKE_OPS:
            st[_RESULT] = self._invoke(ins, st)
        elif 0x7B <= op <= 0x8F or 0xB0 <= op <= 0xE2:
            v = get(ins.b, EMPTY)
            if 0xB0 <= op <= 0xCF:
                v = v | get(ins.a, EMPTY)
            st[ins.a] = frozenset(lab for lab in v if lab[0] in _DATA)
        elif 0x90 <= op <= 0xAF:
            v = get(ins.b, EMPTY) | get(ins.c, EMPTY)
            st[ins.a] = frozenset(lab for lab in v if lab[0] in _DATA)
        elif op in (0xFA, 0xFB, 0xFC, 0xFD):
            v = EMPTY
            for r in ins.regs:
                v |= get(r, EMPTY)
            st[_RESULT] = frozenset(lab for lab in v if lab[0] in _DATA)
        elif op in (0xFE, 0xFF):
            st[ins.a] = EMPTY

    # -- calls
    def _invoke(self, ins: Insn, st: State) -> frozenset[Label]:
        dex = self.m.dex
        cls, name, proto = dex.method_ref(ins.idx)
        kind = INVOKE_KIND[ins.op]
        static = kind == "static"
        types = param_types(proto)
        regs = ins.regs
        args: list[frozenset[Label]] = []
        arg_regs: list[int | None] = []
        k = 0
        if static:
            args.append(EMPTY)
            arg_regs.append(None)
        else:
            if not regs:
                return EMPTY
            args.append(st.get(regs[0], EMPTY))
            arg_regs.append(regs[0])
            k = 1
        for t in types:
            if k >= len(regs):
                break
            args.append(st.get(regs[k], EMPTY))
            arg_regs.append(regs[k])
            k += 2 if t in ("J", "D") else 1
        while len(args) < len(types) + 1:
            args.append(EMPTY)
            arg_regs.append(None)
        where = self._loc(ins.off)
        name_proto = name + proto
        targets = self._targets(cls, name_proto, kind, args[0])
        if targets:
            result: frozenset[Label] = EMPTY
            for target in targets:
                result |= self._call_app(target, args, arg_regs, st, where, "call")
            return result
        if self.p.is_app(cls):
            mdef, lib = self.p.resolve(cls, name_proto)
            if (mdef is not None and not mdef.code_off) or (mdef is None and self.p.is_app(lib)):
                return self._proxy_call(cls, name, proto, args, where)
        else:
            lib = cls
        return self._library(lib, cls, name, proto, args, arg_regs, st, where, static)

    def _proxy_call(self, cls: str, name: str, proto: str, args: list[frozenset[Label]], where: Loc) -> frozenset[Label]:
        """A call to an app interface/abstract method nothing in the app implements: a dynamic proxy at run time.
        With Retrofit in the APK that proxy makes an HTTP request with the arguments; its result is the response
        (not the arguments), so it carries nothing of them."""
        if self.e.http_proxies:
            data: frozenset[Label] = EMPTY
            for a in args[1:]:
                data |= frozenset(lab for lab in a if lab[0] not in _IDENTITY)
            if _tainted(data):
                self.res.hits.add(SinkHit("network", f"{cls}->{name}{proto}", _cap(data), None, None, EMPTY, (where,)))
        return EMPTY

    def _targets(self, cls: str, name_proto: str, kind: str, recv: frozenset[Label]) -> list[MethodDef]:
        if kind in ("static", "direct", "super"):
            mdef, _lib = self.p.resolve(cls, name_proto)
            return [mdef] if mdef is not None and mdef.code_off else []
        # receiver objects whose class can actually be the call's class (an O label that travelled through a
        # library call, e.g. getSystemService on an activity, must not redirect TelephonyManager calls)
        objs = [lab[1] for lab in recv if lab[0] == "O"
                and (lab[1] == cls or cls == "Ljava/lang/Object;" or cls in self.p.supers(lab[1]))]
        out: list[MethodDef] = []
        seen: set[str] = set()
        if objs:
            for o in objs:
                mdef, _lib = self.p.resolve(o, name_proto)
                if mdef is not None and mdef.code_off and mdef.sig not in seen:
                    seen.add(mdef.sig)
                    out.append(mdef)
            if out or not self.p.is_app(cls):
                return out[:_MAX_TARGETS]
        if not self.p.is_app(cls) and cls not in self.p.subtypes:
            return []
        mdef, _lib = self.p.resolve(cls, name_proto)
        if mdef is not None and mdef.code_off:
            out.append(mdef)
            seen.add(mdef.sig)
        if self.p.is_app(cls) or cls in self.p.subtypes:
            for sub in self.p.all_subtypes(cls, 100):
                cdef = self.p.classes.get(sub)
                if cdef is None or self.cat.is_library(sub):
                    continue
                sm = cdef.methods.get(name_proto)
                if sm is not None and sm.code_off and sm.sig not in seen:
                    seen.add(sm.sig)
                    out.append(sm)
                if len(out) >= _MAX_TARGETS:
                    break
        if not self.p.is_app(cls):
            # a library interface/class method with app overrides: only taken when the receiver is known (above)
            return []
        if len(out) > _MAX_CHA_TARGETS:
            return []  # a wide class hierarchy without a known receiver: treated like an unknown library call
        return out

    def _call_app(
        self, t: MethodDef, args: list[frozenset[Label]], arg_regs: list[int | None], st: State,
        where: Loc, kind: str,
    ) -> frozenset[Label]:
        self.res.edges.add((t.sig, kind, where[3]))
        self._flush_fields(st)
        summ = self.e._summary_of(t, self.m.sig)
        call_args = args  # index 0 = receiver (EMPTY placeholder for static), k = k-th parameter
        plain = _Substitution(call_args, None)
        for (idx, key), val in summ.relw:
            if idx < len(args):
                self._store_object_field(st, args[idx], key, plain.apply(val))
        for (idx, key), val in summ.relm:
            if idx < len(args):
                added = plain.apply(val)
                base = args[idx]
                sites = [lab for lab in base if lab[0] == "O" and len(lab) == 3]
                for lab in sites:
                    slot = ("ofld", lab[2], key)
                    st[slot] = _cap(st.get(slot, EMPTY) | added)
                for lab in base:
                    if lab[0] == "A":
                        self.relm[(lab[1], key)] = _cap(self.relm.get((lab[1], key), EMPTY) | added)
                if not sites:
                    self._write_field(key, added)

        def resolve(i: int, key: object) -> frozenset[Label]:
            base = args[i] if i < len(args) else EMPTY
            own = self._object_field(st, base, key)
            base_x = frozenset(lab for lab in base if lab[0] == "X")
            if own is not None:
                return own | base_x
            return frozenset({("G", key), ("F", key)}) | self.e.field_info.get(key, EMPTY) | base_x

        sub = _Substitution(call_args, resolve)
        for idx, added in summ.mutations.items():
            if idx < len(arg_regs) and arg_regs[idx] is not None:
                self._mutate(st, arg_regs[idx], sub.apply(added))  # type: ignore[arg-type]
        for hit in summ.hits:
            data = sub.apply(hit.data)
            if not _tainted(data):
                continue  # what the caller passes there is nothing sensitive
            new = SinkHit(hit.kind, hit.api, _cap(data), None if hit.recv is None else _cap(sub.apply(hit.recv)),
                          hit.tag, _cap(sub.apply(hit.endpoints)), (where, *hit.path)[:24])
            self.res.hits.add(new)
        for key, val in summ.writes:
            self._write_field(key, sub.apply(val))
        for icc in summ.iccs:
            if not _tainted(sub.apply(icc.intent)):
                continue
            self.res.iccs.add(IccSend(icc.api, _cap(sub.apply(icc.intent)), (where, *icc.path)[:24], icc.always_external, icc.internal_only))
        if summ.thrown:
            self._throw(sub.apply(summ.thrown))
        for key, val in summ.fld_out:
            # the callee always sets this field before returning: what we held locally is overwritten
            st[("fld", key)] = frozenset(lab for lab in sub.apply(val) if lab[0] not in _IDENTITY)
        return sub.apply(summ.ret)

    # -- library calls
    def _library(
        self, lib: str, ref_cls: str, name: str, proto: str, args: list[frozenset[Label]], arg_regs: list[int | None],
        st: State, where: Loc, static: bool,
    ) -> frozenset[Label]:
        cat = self.cat
        cands = cat.candidates(lib)
        if ref_cls != lib and ref_cls not in cands:
            cands = [ref_cls, *cands]
        keys = [f"{c}->{name}" for c in cands]
        api_sig = f"{lib}->{name}{proto}"
        recv = EMPTY if static else args[0]

        def arg(ref: int | str) -> frozenset[Label]:
            if ref == "this":
                return recv
            assert isinstance(ref, int)
            return args[ref] if 0 < ref < len(args) else EMPTY

        # sources
        for key in keys:
            src = cat.source_apis.get(key)
            if src is not None:
                cond = src.when_arg_const
                if cond is not None:
                    consts = {lab[1] for lab in arg(cond.arg) if lab[0] == "C"}
                    if not consts & set(cond.values):
                        break
                return frozenset({self.e.occ(src.kind, api_sig, where)})
            uri_arg = cat.provider_queries.get(key)
            if uri_arg is not None:
                kinds = {lab[1] for lab in arg(uri_arg) if lab[0] == "U"}
                for lab in arg(uri_arg):
                    if lab[0] == "C" and isinstance(lab[1], str):
                        pk = cat.provider_kind(lab[1])
                        if pk:
                            kinds.add(pk)
                if kinds:
                    return frozenset(self.e.occ(k, api_sig, where) for k in sorted(kinds))
        # reflection
        if any(k in cat.for_name for k in keys):
            return frozenset(("K", dotted_to_desc(lab[1])) for lab in args[1] if lab[0] == "C" and isinstance(lab[1], str))
        if any(k in cat.get_method for k in keys):
            names = [lab[1] for lab in arg(1) if lab[0] == "C"]
            classes = [lab[1] for lab in recv if lab[0] == "K"]
            if not classes:
                # obj.getClass().getMethod("getDeviceId"): the class is the receiver's; resolve by name
                classes = sorted({api.split("->", 1)[0] for n in names for api in cat.source_apis if api.endswith("->" + n)})
            return frozenset(("M", c, n) for c in classes for n in names)
        if any(k in cat.reflect_invoke for k in keys):
            out: frozenset[Label] = EMPTY
            for lab in recv:
                if lab[0] != "M":
                    continue
                tcls, tname = lab[1], lab[2]
                inner_args = [arg(1), arg(2)]
                if self.p.is_app(tcls):
                    for t in self.p.methods_named(tcls, tname)[:4]:
                        n_params = len(param_types(t.proto))
                        call = [arg(1) if not t.is_static else EMPTY] + [arg(2)] * n_params
                        out |= self._call_app(t, call, [None] * len(call), st, where, "reflection")
                else:
                    out |= self._library(tcls, tcls, tname, "()Ljava/lang/Object;", inner_args, [arg_regs[2] if len(arg_regs) > 2 else None, None], st, where, False)
            if out:
                return out | ({("X", "reflection")} if _tainted(out) else set())
        if name == "newInstance" and any(lab[0] == "K" for lab in recv):
            return frozenset(("O", lab[1]) for lab in recv if lab[0] == "K" and self.p.is_app(lab[1]))
        # key-value containers (Bundle, Intent extras, Map, JSONObject): values are kept per constant key, so a
        # get of one key does not return what was stored under another
        keyed = self._keyed(lib, cands, name, args, arg_regs, st, static)
        if keyed is not None:
            return keyed
        if lib in _BUILDERS and name == "setLength" and arg_regs[0] is not None and ("I", 0) in args[1]:
            old_value = args[0]
            cleared = frozenset(lab for lab in old_value if lab[0] in _IDENTITY)
            for r, v in list(st.items()):
                if v is old_value:
                    st[r] = cleared
            st[arg_regs[0]] = cleared
            return EMPTY
        if lib in _LISTS and not static:
            listed = self._list_op(lib, name, args, arg_regs, st)
            if listed is not None and name != "<init>":
                return listed
        # SharedPreferences: a key-value store that outlives the component (written in one run, read in another)
        # (the preferences file is the constant name given to getSharedPreferences, carried by the objects)
        if lib in _PREFS_EDITORS and name.startswith("put") and len(args) > 2:
            files = [lab[1] for lab in args[0] if lab[0] == "C"]
            pfile = files[0] if len(files) == 1 else "*"
            for k in [lab[1] for lab in args[1] if lab[0] == "C"] or ["*"]:
                self._write_field(("prefs", f"{pfile}:{k}"), args[2])
        if lib in _PREFS and name.startswith("get") and len(args) > 1:
            files = [lab[1] for lab in args[0] if lab[0] == "C"]
            pfiles = [files[0], "*"] if len(files) == 1 else sorted({*files, "*"})
            keys_c = [lab[1] for lab in args[1] if lab[0] == "C"]
            vals = frozenset(("G", ("prefs", f"{f}:{k}")) for f in pfiles for k in [*keys_c, "*"])
            if len(files) != 1:
                vals = vals | frozenset(("G", ("prefs", f"{f}:{k}")) for f in ["*"] for k in keys_c)
            return vals | frozenset(lab for lab in args[2] if lab[0] == "C") if len(args) > 2 else vals
        if name in ("getString", "getText") and lib in _RES_HOLDERS and len(args) > 1:
            texts = [self.e.resource_strings.get(int(lab[1])) for lab in args[1] if lab[0] == "N"]
            found = frozenset(("C", t) for t in texts if t)
            if found:
                return found
        # sinks
        for key in keys:
            for spec in cat.sink_apis.get(key, ()):
                self._hit(spec, api_sig, arg, where)
        for spec in cat.sink_names.get(name, ()):
            if spec.receiver_tag and not static:
                self._hit(spec, api_sig, arg, where)
        for key in keys:
            icc = cat.icc.get(key)
            if icc is not None:
                intent = arg(icc.intent)
                self.res.iccs.add(IccSend(api_sig, _cap(frozenset(lab for lab in intent if lab[0] not in _IDENTITY)), (where,), icc.always_external, icc.internal))
                self.res.edges.add((f"icc:{id(icc)}", "icc", where[3]))
                break
        # intents, alarms, jobs, receivers
        is_intent = any(c in cat.intent_classes for c in cands)
        if is_intent:
            self._intent_targets(name, proto, args, arg_regs, st)
        if name in ("getSerializableExtra", "getParcelableExtra", "getSerializable", "getParcelable"):
            intent_x = frozenset({("X", "intent_extra")})  # an object that travelled in an Intent/Bundle
        else:
            intent_x = EMPTY
        if "SSL" in lib or "/ssl/" in lib:
            intent_x = intent_x | {("SCHEME", "tls")}
        if any(k in cat.get_intent for k in keys):
            comps = [lab[1] for lab in recv if lab[0] == "O" and lab[1] in self.e.components]
            if not comps and self.m.class_desc in self.e.components:
                comps = [self.m.class_desc]
            return frozenset(("G", ("icc", c)) for c in comps)
        for key in keys:
            interval_arg = cat.alarms.get(key)
            if interval_arg is not None:
                pi = args[-1]
                period = sorted({lab[1] for lab in arg(interval_arg) if lab[0] == "N"}) if interval_arg else []
                self._fact(("alarm", _targets_of(pi), period[0] if period else None, where))
            if key in cat.job_schedule:
                ji = arg(1)
                periods = sorted({lab[1] for lab in ji if lab[0] == "PER"})
                self._fact(("job", _targets_of(ji), periods[0] if periods else None, where))
            if key in cat.job_periodic and arg_regs[0] is not None:
                self._mutate(st, arg_regs[0], frozenset(("PER", lab[1]) for lab in arg(1) if lab[0] == "N"))
            if key in cat.register_receiver:
                recv_objs = [lab[1] for lab in arg(1) if lab[0] == "O"]
                actions = sorted(lab[1] for lab in arg(2) if lab[0] == "C")
                for o in recv_objs:
                    self._fact(("dynrecv", o, tuple(actions), where))
        # WorkManager: the library creates the Worker class named in the request and runs doWork(), which reads
        # the request's input Data with getInputData(); a PeriodicWorkRequest repeats
        if lib.startswith(("Landroidx/work/WorkManager;", "Landroidx/work/WorkContinuation;")) and name.startswith("enqueue"):
            request: frozenset[Label] = EMPTY
            for a in args[1:]:
                request |= a
            work_data = frozenset(lab for lab in request if lab[0] in ("S", "G", "X", "KV", "GK", "FR", "C"))
            periods = sorted(lab[1] for lab in request if lab[0] == "N" and lab[1] > 0)
            units = {lab[1] for lab in request if lab[0] == "UNIT"}
            scale = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}.get(next(iter(units)), 0) if units else 0
            for lab in request:
                if lab[0] == "K" and self.p.is_app(lab[1]):
                    worker = lab[1]
                    self._write_field(("work", worker), work_data)
                    if periods and scale:
                        self._fact(("job", (("IT", "class", worker),), periods[0] * scale * 1000, where))
                    for t in self.p.methods_named(worker, "doWork") + self.p.methods_named(worker, "startWork"):
                        if t.code_off:
                            self._call_app(t, [frozenset({("O", worker)})], [None], st, where, "callback")
                            if periods and scale:
                                self._fact(("periodic", t.sig, periods[0] * scale, where))
        if name == "getInputData" and not static:
            workers = [lab[1] for lab in recv if lab[0] == "O"] or [self.m.class_desc]
            return frozenset(("G", ("work", w)) for w in workers)
        # callbacks (what they return comes back through e.g. Future.get)
        cb_ret = self._callbacks(lib, keys, name, args, st, where, static)
        # object tags
        tagged: frozenset[Label] = EMPTY
        for key in [*keys, api_sig]:
            tag = cat.tags.get(key)
            if tag is not None:
                if tag[1] == "result":
                    tagged = frozenset({("T", tag[0])})
                elif arg_regs[0] is not None:
                    self._mutate(st, arg_regs[0], frozenset({("T", tag[0])}))
        # transformations
        xform = None
        for key in keys:
            xform = cat.transforms.get(key)
            if xform:
                break
        if name == "createSocket" and "SSL" in lib:
            tagged = tagged | {("SCHEME", "tls")}
        # System.arraycopy(src, i, dst, j, n) and friends copy into an argument
        for key in keys:
            copy = _COPIES.get(key)
            if copy is not None and copy[1] < len(arg_regs) and arg_regs[copy[1]] is not None:
                self._mutate(st, arg_regs[copy[1]], frozenset(lab for lab in args[copy[0]] if lab[0] not in _NO_DEFAULT))  # type: ignore[arg-type]
                return EMPTY
        # files are stores too: what one method writes to a named file another reads back
        if not static and name.startswith(("write", "print", "append")) and ("T", "filestream") in args[0]:
            written = frozenset(lab for a in args[1:] for lab in a if lab[0] in ("S", "G", "P", "X", "FR", "GK", "PK"))
            if written:
                for fname in _file_names(args[0]):
                    self._write_field(("file", fname), written)
        if (name == "<init>" and lib in _FILE_READERS) or any(k == "Landroid/content/Context;->openFileInput" for k in keys):
            cells = frozenset(("G", ("file", f)) for a in args[1:] for f in _file_names(a))
            if cells:
                if name == "<init>" and arg_regs[0] is not None:
                    self._mutate(st, arg_regs[0], cells)
                    return EMPTY
                return cells
        # serialisers (Gson.toJson, ObjectOutputStream.writeObject ...) read every field of the app object
        if any(k in _SERIALIZERS for k in keys) and len(args) > 1:
            args = list(args)
            for k in range(1, len(args)):
                args[k] = args[k] | self._object_fields(st, args[k])
        # "x " + obj calls obj.toString() (StringBuilder.append(Object), String.valueOf(Object), print(Object))
        if name in ("append", "valueOf", "print", "println", "format") and len(args) > 1:
            args = list(args)
            for k in range(1, len(args)):
                extra: frozenset[Label] = EMPTY
                for lab in args[k]:
                    if lab[0] == "O" and self.p.is_app(lab[1]):
                        ts_m, _l = self.p.resolve(lab[1], "toString()Ljava/lang/String;")
                        if ts_m is not None and ts_m.code_off:
                            extra |= self._call_app(ts_m, [args[k]], [arg_regs[k] if k < len(arg_regs) else None], st, where, "call")
                if extra:
                    args[k] = args[k] | extra
        # constant strings built by concatenation (endpoints are often BASE + "/path")
        if (lib in _BUILDERS and name in ("append", "<init>")) or (lib == "Ljava/lang/String;" and name == "concat"):
            folded = self._fold_constants(lib, name, args, arg_regs, st, xform)
            if folded is not None:
                return folded
        # clean?
        if name in cat.clean_names or any(k in cat.clean_apis for k in keys):
            return tagged
        # default propagation
        data: frozenset[Label] = EMPTY
        for a in args[1:]:
            data |= a
        if name == "<init>":
            if arg_regs[0] is not None:
                added = data | ({("X", xform)} if xform and _tainted(data) else set())
                self._mutate(st, arg_regs[0], frozenset(added))
                if lib.endswith(cat.wrapper_suffixes) and len(arg_regs) > 1 and arg_regs[1] is not None:
                    # new BufferedWriter(w) / new GZIPOutputStream(buf): writing to the wrapper writes to the
                    # wrapped object, so both registers must hold the same object
                    self._mutate(st, arg_regs[1], st.get(arg_regs[0], EMPTY))
                    st[arg_regs[0]] = st.get(arg_regs[1], EMPTY)
            return EMPTY
        data = frozenset(lab for lab in data if lab[0] not in _NO_DEFAULT)
        if not static and name.startswith(cat.mutators) and arg_regs[0] is not None and data:
            carries = _tainted(data) or (xform == "intent_extra" and _has(data, "O"))
            added = data | ({("X", xform)} if xform and carries else set())
            self._mutate(st, arg_regs[0], frozenset(added))
            recv = st.get(arg_regs[0], EMPTY)
            ret_type = proto[proto.index(")") + 1 :]
            if ret_type in (ref_cls, lib):
                # fluent mutator (StringBuilder.append, JSONObject.put, Builder.url ...): the result IS the
                # receiver object, so later mutations through either register must reach both
                return recv
        out = data | frozenset(lab for lab in recv if lab[0] not in _NO_DEFAULT) | cb_ret | intent_x
        if xform and _tainted(out):
            out = out | {("X", xform)}
        return _cap(out | tagged)

    def _keyed(
        self, lib: str, cands: list[str], name: str, args: list[frozenset[Label]], arg_regs: list[int | None],
        st: State, static: bool,
    ) -> frozenset[Label] | None:
        if not static and "Landroid/content/Intent;" in cands and name in ("setData", "setDataAndType", "getData", "getDataString"):
            if name.startswith("set") and len(args) > 1 and arg_regs[0] is not None:
                self._mutate(st, arg_regs[0], frozenset(("KV", "<data>", lab) for lab in args[1]
                                                        if lab[0] in ("S", "P", "G", "X", "C", "GK", "PK", "FR")))
                return st.get(arg_regs[0], EMPTY)
            if name.startswith("get"):
                args = [args[0], frozenset({("C", "<data>")})]
                name = "get"
        if static or len(args) < 2 or not any(c in self.cat.keyed_classes for c in cands):
            return None
        keys = [lab[1] for lab in args[1] if lab[0] == "C"]
        recv = args[0]
        if len(keys) != 1:
            if name.startswith(self.cat.keyed_get) and len(args) == 2 and not any(lab[0] == "C" for lab in args[1]):
                # map.get(someValue): the result is one of the stored values, not the lookup key
                return _cap(frozenset(lab[2] if lab[0] == "KV" else lab for lab in recv if lab[0] not in _NO_DEFAULT))
            return None
        key = keys[0]
        if name.startswith(self.cat.keyed_put) and len(args) >= 3 and arg_regs[0] is not None:
            value = args[2]
            inner = [lab for lab in value if lab[0] in ("S", "P", "G", "X", "C", "O", "KV", "GK", "PK", "FR")]
            xform = next((self.cat.transforms[f"{c}->{name}"] for c in cands if f"{c}->{name}" in self.cat.transforms), None)
            added: set[Label] = {("KV", key, lab) for lab in inner}
            if xform and _tainted(value):
                added.add(("X", xform))
            if added:
                self._mutate(st, arg_regs[0], frozenset(added))
            ret_type_self = True
            return st.get(arg_regs[0], EMPTY) if ret_type_self else EMPTY
        if name.startswith(self.cat.keyed_get) and len(args) in (2, 3):
            out: set[Label] = set()
            for lab in recv:
                kind = lab[0]
                if kind == "KV":
                    if lab[1] == key:
                        out.add(lab[2])
                elif kind == "G":
                    out.add(("GK", lab[1], key))
                elif kind == "P":
                    out.add(("PK", lab[1], key))
                elif kind in ("S", "X"):
                    out.add(lab)  # stored without a known key: may be any
            if len(args) == 3:
                out.update(lab for lab in args[2] if lab[0] == "C")  # default value
            if "Serializable" in name or "Parcelable" in name:
                out.add(("X", "intent_extra"))  # an object that travelled in an Intent/Bundle
            return _cap(frozenset(out))
        return None

    def _fold_constants(
        self, lib: str, name: str, args: list[frozenset[Label]], arg_regs: list[int | None],
        st: State, xform: str | None,
    ) -> frozenset[Label] | None:
        base = EMPTY if name == "<init>" else args[0]
        arg = args[1] if len(args) > 1 else EMPTY
        arg_consts = [lab[1] for lab in arg if lab[0] == "C"]
        base_consts = [lab[1] for lab in base if lab[0] == "C"]
        arg_rest = frozenset(lab for lab in arg if lab[0] not in ("C",) and lab[0] not in _NO_DEFAULT)
        constant_arg = bool(arg_consts) and not _tainted(arg)
        if name == "<init>":
            consts = arg_consts if constant_arg else []
            opened = not constant_arg and bool(arg)
        elif ("NC",) in base or not constant_arg:
            consts = base_consts
            opened = True
            if ("NC",) not in base and base_consts:
                # BASE + parameter: the constant completes at the call site (see _Substitution)
                pidx = sorted({lab[1] for lab in arg if lab[0] == "P"})
                if pidx and not any(lab[0] in ("S", "G", "FR", "GK", "KV") for lab in arg):
                    arg_rest = arg_rest | frozenset(("CAT", b, i) for b in base_consts[:4] for i in pidx[:2])
        elif base_consts:
            consts = [b + a for b in base_consts for a in arg_consts][:8]
            opened = False
        else:
            consts = arg_consts
            opened = False
        rest = frozenset(lab for lab in base if lab[0] != "C") | arg_rest
        if xform and _tainted(arg_rest):
            rest = rest | {("X", xform)}
        value = _cap(rest | frozenset(("C", c) for c in consts) | ({("NC",)} if opened else set()))
        if lib == "Ljava/lang/String;":
            return value
        reg = arg_regs[0]
        if reg is None:
            return value
        old = st.get(reg, EMPTY)
        added = frozenset(lab for lab in value if lab not in old and lab[0] != "C")
        if old:
            for r, v in list(st.items()):
                if v is old:
                    st[r] = value
        st[reg] = value
        if added:
            for lab in old:
                if lab[0] == "A":
                    self.mut[lab[1]] = _cap(self.mut.get(lab[1], EMPTY) | added)
                elif lab[0] == "F":
                    self._write_field(lab[1], added)
        return value if name != "<init>" else EMPTY

    def _hit(self, spec: SinkSpec, api_sig: str, arg, where: Loc) -> None:
        data_refs = spec.data if spec.data is not None else list(range(1, 8))
        data: frozenset[Label] = EMPTY
        for ref in data_refs:
            data |= arg(ref)
        data = frozenset(lab for lab in data if lab[0] not in _IDENTITY)
        recv = None
        if spec.receiver_tag:
            recv = frozenset(lab for lab in arg("this") if lab[0] not in _IDENTITY)
            if ("T", spec.receiver_tag) not in recv and not (_has(recv, "P") or _has(recv, "G")):
                return
        if not (_tainted(data)):
            return
        ends: frozenset[Label] = EMPTY
        for ref in spec.endpoint:
            ends |= frozenset(lab for lab in arg(ref) if lab[0] in ("C", "G", "P", "IT", "N", "CAT", "FR", "SCHEME"))
        self.res.hits.add(SinkHit(spec.kind, api_sig, _cap(data), recv, spec.receiver_tag, _cap(ends), (where,)))

    def _fact(self, fact: tuple[object, ...]) -> None:
        self.res.facts.add(fact)

    def _intent_targets(self, name: str, proto: str, args: list[frozenset[Label]], arg_regs: list[int | None], st: State) -> None:
        if arg_regs[0] is None:
            return
        labels: set[Label] = set()
        types = param_types(proto)
        if name == "<init>" and types and types[0] == "Ljava/lang/String;" and "Landroid/net/Uri;" in types:
            # Intent(String action, Uri data[, Context, Class]): an action, maybe also an explicit class
            labels.update(("IT", "action", lab[1]) for lab in args[1] if lab[0] == "C")
            labels.update(("IT", "class", lab[1]) for a in args[2:] for lab in a if lab[0] == "K")
            self._mutate(st, arg_regs[0], frozenset(labels))
            return
        consts = [[lab[1] for lab in a if lab[0] == "C" and isinstance(lab[1], str)] for a in args]
        klass = [[lab[1] for lab in a if lab[0] == "K"] for a in args]
        if name in ("<init>", "setClass", "setComponent", "setClassName"):
            for ks in klass[1:]:
                labels.update(("IT", "class", k) for k in ks)
        if name in ("<init>", "setAction") and len(args) > 1:
            first = consts[1]
            if name == "setAction" or (len(args) <= 3 and not klass[-1] and not (len(args) == 3 and consts[2])):
                labels.update(("IT", "action", c) for c in first)
        if name in ("setClassName",) or (name == "<init>" and len(args) == 3 and consts[2]):
            labels.update(("IT", "class", dotted_to_desc(c)) for c in consts[2])
            labels.update(("IT", "pkg", c) for c in consts[1])
        if name == "setPackage":
            labels.update(("IT", "pkg", c) for c in consts[1])
        if name in ("setType", "setDataAndType", "setTypeAndNormalize"):
            labels.update(("IT", "type", c) for c in consts[-1])
        if labels:
            self._mutate(st, arg_regs[0], frozenset(labels))

    def _callbacks(self, lib: str, keys: list[str], name: str, args: list[frozenset[Label]], st: State, where: Loc, static: bool) -> frozenset[Label]:
        spec = None
        for key in keys:
            spec = self.cat.callbacks.get(key)
            if spec is not None:
                break
        if spec is not None:
            obj = args[0] if spec.object == "this" else (args[spec.object] if isinstance(spec.object, int) and spec.object < len(args) else EMPTY)
            passed: frozenset[Label] = EMPTY
            if spec.pass_all_args:
                for a in args[1:]:
                    passed |= a
            if spec.pass_receiver:
                passed |= frozenset(lab for lab in args[0] if lab[0] not in _IDENTITY)
            if spec.object == "this" and spec.pass_all_args:
                passed = frozenset(lab for lab in passed)
            last_ret: frozenset[Label] = EMPTY
            period = None
            if spec.period_arg and spec.period_arg < len(args):
                values = sorted(lab[1] for lab in args[spec.period_arg] if lab[0] == "N" and lab[1] > 0)
                units = {lab[1] for a in args for lab in a if lab[0] == "UNIT"}
                if values:
                    scale = {"SECONDS": 1000, "MINUTES": 60000, "HOURS": 3600000, "DAYS": 86400000, "MICROSECONDS": 0.001,
                             "NANOSECONDS": 0.000001}.get(next(iter(units)), 1) if units else 1
                    period = int(values[0] * scale) // 1000
            for o in sorted({lab[1] for lab in obj if lab[0] == "O"}):
                for mspec in spec.methods:
                    mname = mspec.split("(", 1)[0]
                    for t in self.p.methods_named(o, mname)[:4]:
                        if not t.code_off or t.is_static:
                            continue
                        n_params = len(param_types(t.proto))
                        pv = _cap(passed | last_ret)
                        call = [obj] + [pv] * n_params
                        if spec.receiver_param is not None and n_params:
                            # only that parameter is the registering object (e.g. the Call given to onFailure)
                            recv_val = frozenset(lab for lab in args[0] if lab[0] not in _IDENTITY)
                            call = [obj] + [recv_val if k == spec.receiver_param else EMPTY for k in range(1, n_params + 1)]
                        r = self._call_app(t, call, [None] * len(call), st, where, "callback")
                        last_ret = last_ret | r
                        if spec.pass_receiver:
                            # an observer also sees what is posted later in this method: run it again at the end
                            for lab in args[0]:
                                if lab[0] == "OF":
                                    self.later.append((t, obj, lab[1], where))
                        if period:
                            self._fact(("periodic", t.sig, period, where))
            return frozenset(lab for lab in last_ret if lab[0] not in _IDENTITY)
        # generic: app objects handed to a framework registration call have their callback methods run by it
        if not self.cat.is_library(lib) and lib in self.p.classes:
            return EMPTY
        kotlin_fn = lib.startswith(("Lkotlin/", "Lkotlinx/coroutines/"))  # thread { }, launch { }: lambdas run
        if not (kotlin_fn or name.startswith(_REGISTRATION_PREFIXES)) or lib.startswith(("Ljava/util/", "Ljava/lang/String", "Landroid/util/Log;")):
            return EMPTY
        out: frozenset[Label] = EMPTY
        for a in args[1:]:
            for lab in a:
                if lab[0] != "O":
                    continue
                o = lab[1]
                if o in self.e.components or not self.p.is_app(o) or not self._has_framework_super(o):
                    continue
                for t in self._generic_callback_methods(o):
                    n_params = len(param_types(t.proto))
                    call = [frozenset({("O", o)})] + [EMPTY] * n_params
                    out |= self._call_app(t, call, [None] * len(call), st, where, "callback")
        return frozenset(lab for lab in out if lab[0] in ("S", "G", "X", "C"))

    def _has_framework_super(self, cls: str) -> bool:
        """Implements or extends a library type (a listener, Runnable, Handler ...), not just Object."""
        return any(sup != "Ljava/lang/Object;" and not self.p.is_app(sup) for sup in self.p.supers(cls))

    def _generic_callback_methods(self, cls: str) -> list[MethodDef]:
        out: dict[str, MethodDef] = {}
        cur: str | None = cls
        depth = 0
        while cur and depth < 10 and self.p.is_app(cur):
            depth += 1
            for key, mdef in self.p.classes[cur].methods.items():
                if key in out or mdef.is_static or not mdef.code_off or mdef.name.startswith("<"):
                    continue
                if mdef.name.startswith(self.cat.generic_prefixes) and not (mdef.access & 0x1000 and mdef.name.startswith("access$")):
                    out[key] = mdef
            cur = self.p.classes[cur].superclass
        return list(out.values())[:12]


class _Substitution:
    """Replace a callee's symbolic parameter labels by the caller's argument values."""

    def __init__(self, args: list[frozenset[Label]], resolve=None) -> None:
        self.args = args
        self.resolve = resolve  # (param index, field) -> value of that field of the caller's argument object

    def apply(self, value: frozenset[Label]) -> frozenset[Label]:
        if not any(lab[0] in ("P", "A", "CAT", "PK", "FR") or (lab[0] == "KV" and lab[2][0] in ("P", "A", "PK", "KV", "FR")) for lab in value):
            return value
        out: set[Label] = set()
        for lab in value:
            kind = lab[0]
            if kind == "P":
                i = lab[1]
                if i < len(self.args):
                    out.update(x for x in self.args[i] if x[0] not in _IDENTITY)
            elif kind == "A":
                i = lab[1]
                if i < len(self.args):
                    out.update(x for x in self.args[i] if x[0] in _IDENTITY)
            elif kind == "FR":
                if self.resolve is not None:
                    out.update(self.resolve(lab[1], lab[2]))
                else:
                    out.add(("G", lab[2]))
            elif kind == "KV":
                for x in self.apply(frozenset({lab[2]})):
                    out.add(("KV", lab[1], x))
            elif kind == "PK":
                i = lab[1]
                if i < len(self.args):
                    for x in self.args[i]:
                        if x[0] == "KV" and x[1] == lab[2]:
                            out.add(x[2])
                        elif x[0] == "G":
                            out.add(("GK", x[1], lab[2]))
                        elif x[0] == "P":
                            out.add(("PK", x[1], lab[2]))
                        elif x[0] in ("S", "X"):
                            out.add(x)
            elif kind == "CAT":
                i = lab[2]
                if i < len(self.args):
                    for x in self.args[i]:
                        if x[0] == "C":
                            out.add(("C", lab[1] + x[1]))
                        elif x[0] == "P":
                            out.add(("CAT", lab[1], x[1]))
            else:
                out.add(lab)
        return frozenset(out)


def _sym(value: Iterable[Label]) -> bool:
    return any(lab[0] in ("P", "A", "CAT", "PK", "FR") or (lab[0] == "KV" and _sym((lab[2],))) for lab in value)


def _tainted(value: Iterable[Label]) -> bool:
    return any(lab[0] in ("S", "P", "G", "GK", "PK", "FR") or (lab[0] == "KV" and _tainted((lab[2],))) for lab in value)


def _targets_of(value: Iterable[Label]) -> tuple[Label, ...]:
    return tuple(sorted((lab for lab in value if lab[0] == "IT"), key=repr))
