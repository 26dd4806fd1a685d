"""The program under analysis: every DEX of one APK, its class hierarchy, method and field resolution."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.values import Label
from toolkit.analysis.dex import (
    CONST32_OPS,
    INVOKE_KIND,
    INVOKE_OPS,
    MAY_WRITE_WIDE_OPS,
    SPUT_OPS,
    ClassDef,
    DexError,
    DexFile,
    Insn,
    MethodDef,
)

Loc = tuple[str, str, str, int]  # class descriptor, method name, proto, offset in code units


def loc_of(m: MethodDef, off: int) -> Loc:
    """The code location of offset `off` in method m."""
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
    """com.a.B -> Lcom/a/B;"""
    return "L" + name.replace(".", "/") + ";"


def desc_to_dotted(desc: str) -> str:
    """Lcom/a/B; -> com.a.B (other descriptors unchanged)"""
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
        self._app_memo: dict[str, bool] = {}
        self._overrides_cache: dict[tuple[str, str], list[MethodDef]] = {}
        self._cha_cache: dict[tuple[str, str], list[MethodDef]] = {}
        self._sub_cache: dict[tuple[str, int], list[str]] = {}
        self._field_cache: dict[tuple[str, str], tuple[str, str]] = {}
        self._supers_cache: dict[str, list[str]] = {}
        self._may_be_cache: dict[tuple[str, str], bool] = {}
        self._static_constants: dict[tuple[str, str], int | None] = {}
        self._final_types = frozenset(catalogue.families.final_types)

    def is_app(self, desc: str) -> bool:
        """A class defined in the APK outside the library packages of apk_rules/models.yml."""
        known = self._app_memo.get(desc)
        if known is None:
            known = self._app_memo[desc] = desc in self.classes and not self.cat.is_library(desc)
        return known

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

    def static_constant(self, cls: str, name: str) -> int | None:
        """The value every read of app static field (cls, name) sees, when there is only one: each write in
        the app stores the same constant (from a const instruction just before, on one straight path), and
        the default 0 counts unless the class's own <clinit> writes the field. Release builds gate logging and
        uploads on such flags ("static boolean DEBUG = false"). Writes through reflection are not seen."""
        key = (cls, name)
        if key in self._static_constants:
            return self._static_constants[key]
        self._static_constants[key] = None  # (while looking: a recursive question has no constant)
        cdef = self.classes.get(cls)
        if cdef is None or not self.is_app(cls) or cdef.field_type(name) not in _INT_TYPES:
            return None
        values: set[int] = set()
        written_in_clinit = False
        owners = [cls, *self.all_subtypes(cls, 50)]
        for dex in self.dexes:
            idxs = {i for owner in owners for i in dex.find_fields(owner, name)}
            for m in dex.methods_referencing(SPUT_OPS, idxs):
                code = dex.code(m)
                if code is None:
                    return None
                joins = {t for ins in code.insns for t in ins.targets} | {a for tb in code.tries for _t, a in tb.handlers}
                for i, ins in enumerate(code.insns):
                    if ins.op in SPUT_OPS and ins.idx in idxs:
                        value = _const_before(code.insns, i, ins.a, joins)
                        if value is None:
                            return None
                        values.add(value)
                        written_in_clinit |= m.name == "<clinit>" and m.class_desc == cls
        if not written_in_clinit:
            values.add(0)
        result = next(iter(values)) if len(values) == 1 else None
        self._static_constants[key] = result
        return result

    def may_be(self, cls: str, declared: str) -> bool:
        """Whether an object of app class `cls` may be a value of the declared type (field type, return type).
        False only when it cannot be: a primitive or array type, a final library class (String, Integer ...),
        or an app class that is not one of cls's supertypes. Library types stay possible (the framework's own
        hierarchy is not in the APK)."""
        key = (cls, declared)
        hit = self._may_be_cache.get(key)
        if hit is None:
            if declared[:1] != "L":
                hit = False
            elif declared == cls or declared == "Ljava/lang/Object;":
                hit = True
            elif declared in self._final_types:
                hit = False
            elif self.is_app(declared):
                hit = declared in self.supers(cls)
            else:
                hit = True
            self._may_be_cache[key] = hit
        return hit

    def typed(self, value: frozenset[Label], declared: str) -> frozenset[Label]:
        """value without the app objects that cannot be of the declared type (type filtering: an AppObject that
        went through a library call does not come back as its int or String result)."""
        if not any(lab[0] == "O" and not self.may_be(lab[1], declared) for lab in value):
            return value
        return frozenset(lab for lab in value if lab[0] != "O" or self.may_be(lab[1], declared))

    def supers(self, desc: str) -> list[str]:
        """App superclasses and interfaces (transitively) plus the first library ones."""
        cached = self._supers_cache.get(desc)
        if cached is None:
            cached = self._supers_cache[desc] = self._supers(desc)
        return cached

    def _supers(self, desc: str) -> list[str]:
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
        """App subclasses and implementations of desc, transitively (at most `limit`)."""
        key = (desc, limit)
        cached = self._sub_cache.get(key)
        if cached is None:
            cached = self._sub_cache[key] = self._all_subtypes(desc, limit)
        return cached

    def _all_subtypes(self, desc: str, limit: int) -> list[str]:
        # direct subtypes in sorted order: `subtypes` holds sets, whose iteration order follows the hash seed,
        # and both the order (static callees, dispatch targets, hence the analysis order) and, past `limit`,
        # which subtypes are listed at all must not
        out: list[str] = []
        todo = [desc]
        seen = {desc}
        while todo and len(out) < limit:
            cur = todo.pop()
            for sub in sorted(self.subtypes.get(cur, ())):
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

    def static_callees(self, m: MethodDef, fanout: int) -> list[MethodDef]:
        """App methods m may call, from its invoke instructions and the class hierarchy alone (no receiver
        information): the order in which the solver computes summaries bottom-up. A virtual call with more than
        `fanout` app implementations contributes none (the interpreter still resolves it by its receiver)."""
        try:
            code = m.dex.code(m)
        except DexError:
            return []
        if code is None:
            return []
        out: dict[str, MethodDef] = {}
        dex = m.dex
        for ins in code.insns:
            if ins.op not in INVOKE_OPS:
                continue
            try:
                cls, name, proto = dex.method_ref(ins.idx)
            except DexError:
                continue
            if not (self.is_app(cls) or cls in self.subtypes):
                continue
            name_proto = name + proto
            target, _lib = self.resolve(cls, name_proto)
            if target is not None and target.code_off:
                out.setdefault(target.sig, target)
            if INVOKE_KIND[ins.op] in ("virtual", "interface"):
                found = self._app_overrides(cls, name_proto)
                if len(found) <= fanout:
                    for mdef in found:
                        out.setdefault(mdef.sig, mdef)
        return list(out.values())

    def cha_targets(self, cls: str, name_proto: str) -> list[MethodDef]:
        """By the class hierarchy: the method cls->name_proto resolves to, then every app subtype's own
        implementation (with code), in subtype order. Shared: callers must not change the list."""
        key = (cls, name_proto)
        found = self._cha_cache.get(key)
        if found is None:
            found = []
            mdef, _lib = self.resolve(cls, name_proto)
            if mdef is not None and mdef.code_off:
                found.append(mdef)
            seen = {m.sig for m in found}
            for sub in self.all_subtypes(cls, 100):
                cdef = self.classes.get(sub)
                if cdef is None or self.cat.is_library(sub):
                    continue
                sm = cdef.methods.get(name_proto)
                if sm is not None and sm.code_off and sm.sig not in seen:
                    seen.add(sm.sig)
                    found.append(sm)
            self._cha_cache[key] = found
        return found

    def _app_overrides(self, cls: str, name_proto: str) -> list[MethodDef]:
        """The app subtypes' own implementations of cls->name_proto (with code), in subtype order."""
        key = (cls, name_proto)
        found = self._overrides_cache.get(key)
        if found is None:
            subs = [s for s in self.all_subtypes(cls, 100) if self.is_app(s)]
            found = self._overrides_cache[key] = [
                mdef for s in subs if (mdef := self.classes[s].methods.get(name_proto)) is not None and mdef.code_off]
        return found


_INT_TYPES = frozenset("ZBSCI")  # 32-bit fields: what const, const/4, const/16 and const/high16 write


def _const_before(insns: list[Insn], at: int, reg: int, joins: set[int]) -> int | None:
    """The constant register `reg` holds at instruction `at`, when the last write to it is a 32-bit const on
    the straight code just before (no branch in between, no jump landing after it)."""
    for j in range(at - 1, -1, -1):
        ins = insns[j]
        if ins.targets:
            return None
        if ins.a == reg:  # written here (or read: either way, only a const is trusted)
            return ins.lit if ins.op in CONST32_OPS else None
        if ins.a + 1 == reg and ins.op in MAY_WRITE_WIDE_OPS:
            return None
        if ins.off in joins:
            return None
    return None

