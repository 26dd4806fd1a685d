"""The app as the flow driver sees it: its manifest components and indexes of where code is referenced
(callers of a method, readers and writers of a field, invokers of an API), answered from the DEX reference
indexes without analysing anything."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.program import Program, desc_to_dotted, dotted_to_desc
from toolkit.analysis.dex import IGET_OPS, INVOKE_OPS, IPUT_OPS, SGET_OPS, SPUT_OPS, DexFile, MethodDef
from toolkit.models import ApkMetadata, Component

NEW_INSTANCE = 0x22


class App:
    """Manifest facts and code-reference queries of one APK."""

    def __init__(self, dexes: list[DexFile], meta: ApkMetadata, catalogue: Catalogue) -> None:
        self.dexes = dexes
        self.meta = meta
        self.cat = catalogue
        self.program = Program(dexes, catalogue)
        self.layout_blob = b""
        self.components: dict[str, Component] = {}
        for comp in meta.components:
            target = comp.target_activity if comp.kind == "activity-alias" and comp.target_activity else comp.name
            desc = dotted_to_desc(target)
            if comp.kind == "activity-alias" and desc in self.components:
                # an alias adds entry routes (e.g. a launcher alias) to its target activity
                base = self.components[desc]
                if comp.enabled and not base.enabled:
                    self.components[desc] = comp
                elif comp.enabled:
                    base.intent_filters = [*base.intent_filters, *comp.intent_filters]
                    base.exported = base.exported or comp.exported
                continue
            self.components[desc] = comp.model_copy(deep=True)
        self._callers: dict[str, list[MethodDef]] = {}
        self._readers: dict[object, list[MethodDef]] = {}
        self._writers: dict[object, list[MethodDef]] = {}
        self._invokers: dict[tuple[str, str], list[MethodDef]] = {}
        self._class_methods: dict[str, list[MethodDef]] = {}
        self._initialised: set[str] | None = None

    @property
    def methods_total(self) -> int:
        return sum(len(d.methods) for d in self.dexes)

    def class_methods(self, desc: str) -> list[MethodDef]:
        """Instance methods with code of an app class and its app superclasses (most specific first)."""
        cached = self._class_methods.get(desc)
        if cached is not None:
            return cached
        found: dict[str, MethodDef] = {}
        cur: str | None = desc
        depth = 0
        while cur and depth < 20 and self.program.is_app(cur):
            depth += 1
            for key, m in self.program.classes[cur].methods.items():
                if key not in found and m.code_off and not m.is_static:
                    found[key] = m
            cur = self.program.classes[cur].superclass
        self._class_methods[desc] = result = list(found.values())
        return result

    def direct_callers(self, m: MethodDef) -> list[MethodDef]:
        """App methods whose code invokes m (named through its class, a superclass or a subclass), and, for an
        instance method, those that create its object (they may hand it to code that calls m)."""
        cached = self._callers.get(m.sig)
        if cached is not None:
            return cached
        out: dict[str, MethodDef] = {}
        p = self.program
        related = {m.class_desc, *p.supers(m.class_desc), *p.all_subtypes(m.class_desc, 50)}
        virtual = not m.is_static and not m.name.startswith("<")
        if virtual:
            related = {c for c in related if p.is_app(c) or c == m.class_desc}
        for dex in self.dexes:
            idxs = [i for i in dex.method_ids_named(m.name)
                    if (ref := dex.method_ref(i))[2] == m.proto and ref[0] in related]
            refs = dex.methods_referencing(INVOKE_OPS, idxs)
            if virtual:
                t = dex.find_type(m.class_desc)
                if t is not None:
                    refs |= dex.methods_referencing((NEW_INSTANCE,), [t])
            for r in refs:
                if p.is_app(r.class_desc) and r.sig != m.sig:
                    out[r.sig] = r
        self._callers[m.sig] = result = [out[k] for k in sorted(out)]
        return result

    def field_users(self, key: tuple[str, str], write: bool) -> list[MethodDef]:
        """App methods reading (or writing) field key = (class, name), named through the class or a subclass."""
        cache = self._writers if write else self._readers
        cached = cache.get(key)
        if cached is not None:
            return cached
        ops = (IPUT_OPS | SPUT_OPS) if write else (IGET_OPS | SGET_OPS)
        cls, name = key
        out: dict[str, MethodDef] = {}
        owners = [str(cls), *self.program.all_subtypes(str(cls), 50)]
        for dex in self.dexes:
            idxs = [i for owner in owners for i in dex.find_fields(owner, str(name))]
            for r in dex.methods_referencing(ops, idxs):
                if self.program.is_app(r.class_desc):
                    out[r.sig] = r
        cache[key] = result = [out[k] for k in sorted(out)]
        return result

    def invokers(self, cls: str, name_prefix: str) -> list[MethodDef]:
        """App methods calling cls->name_prefix* (any overload)."""
        cached = self._invokers.get((cls, name_prefix))
        if cached is not None:
            return cached
        out: dict[str, MethodDef] = {}
        for dex in self.dexes:
            t = dex.find_type(cls)
            if t is None:
                continue
            idxs = [i for i in range(dex.method_ids_size) if dex.method_class_idx(i) == t and dex.method_ref(i)[1].startswith(name_prefix)]
            for m in dex.methods_referencing(INVOKE_OPS, idxs):
                if self.program.is_app(m.class_desc):
                    out[m.sig] = m
        self._invokers[(cls, name_prefix)] = result = [out[k] for k in sorted(out)]
        return result

    def invokers_of_names(self, names: set[str]) -> list[MethodDef]:
        """App methods calling any method with one of these names."""
        out: dict[str, MethodDef] = {}
        for dex in self.dexes:
            idxs = [i for n in sorted(names) for i in dex.method_ids_named(n)]
            for m in dex.methods_referencing(INVOKE_OPS, idxs):
                if self.program.is_app(m.class_desc):
                    out[m.sig] = m
        return [out[k] for k in sorted(out)]

    def instantiated(self, desc: str) -> bool:
        """Some code creates an object of this class."""
        for dex in self.dexes:
            t = dex.find_type(desc)
            if t is not None and dex.methods_referencing((NEW_INSTANCE,), [t]):
                return True
        return False

    def initialised_classes(self) -> set[str]:
        """App classes whose static initialiser may run: those code of another class names, those the framework
        instantiates (manifest components, the Application, views named in a layout), those named by a string
        (Class.forName), and the superclasses of all of these (initialising a class initialises its superclasses
        first). A class that nothing names never runs its <clinit>."""
        if self._initialised is not None:
            return self._initialised
        p = self.program
        named: set[str] = set()
        for dex in self.dexes:
            named |= dex.classes_used_elsewhere()
        named |= set(self.components)
        if self.meta.application_class:
            named.add(dotted_to_desc(self.meta.application_class))
        for desc in p.classes:
            if desc in named or not p.is_app(desc):
                continue
            dotted = desc_to_dotted(desc)
            if any(d.find_string(dotted) is not None for d in self.dexes) or self.in_layout(dotted):
                named.add(desc)
        out: set[str] = set()
        for desc in named:
            if p.is_app(desc):
                out.add(desc)
                out.update(s for s in p.supers(desc) if p.is_app(s))
        self._initialised = out
        return out

    def in_layout(self, text: str) -> bool:
        """The text appears in a layout file (class names of fragments/views, android:onClick names)."""
        blob = self.layout_blob
        return bool(blob) and (text.encode("utf-16-le") in blob or text.encode() in blob)
