"""From DEX files and manifest facts to source-to-sink flows with their evidence.

Steps: (1) pre-pass over the string/method/field tables: an APK that references no source gets no data-flow
work; (2) seeds = methods whose code references a source; (3) demand-driven closure: analyse seeds, then the
callers of methods that return sensitive values, readers of fields and components that receive them;
(4) walk callers up to the entry points so reachability (dead code, unregistered callbacks, disabled components)
and triggers are known; (5) resolve global cells (fields, intents between own components) and turn sink hits into
`Flow`s.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dex import INVOKE_OPS, DexFile, MethodDef
from toolkit.analysis.engine import (
    EMPTY,
    BudgetExceeded,
    Engine,
    IccSend,
    Label,
    Loc,
    Program,
    SinkHit,
    desc_to_dotted,
    dotted_to_desc,
)
from toolkit.models import ApkMetadata, CodeLocation, Component, Endpoint, Flow, FlowPoint, Trigger

log = logging.getLogger(__name__)

SGET_ALL = range(0x60, 0x67)
LIFECYCLE_PROVIDER = ("query", "insert", "update", "delete", "call", "getType", "openFile", "bulkInsert")
BOOT_ACTIONS = {
    "android.intent.action.BOOT_COMPLETED", "android.intent.action.LOCKED_BOOT_COMPLETED",
    "android.intent.action.QUICKBOOT_POWERON", "com.htc.intent.action.QUICKBOOT_POWERON",
}
SMS_ACTIONS = {"android.provider.Telephony.SMS_RECEIVED", "android.provider.Telephony.SMS_DELIVER"}
_HOST_RE = re.compile(r"^(?=.{4,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{2,19}$")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s]+$")
_PATH_RE = re.compile(r"^(/[^\s/]+)+/?$|^[\w.-]+\.[A-Za-z0-9]{1,8}$")
MAX_METHODS_WALKED = 2500
SMALL_APP_METHODS = 20000
MAX_RETURN_HOPS_BIG_APP = 5
MAX_CALL_DEPTH_BIG_APP = 6
MAX_REANALYSIS_BIG_APP = 2  # fixpoint rounds per method in big apps (recursion in libraries must not eat the budget)  # in big apps a value is followed up at most this many returns from where it is read
FRAGMENT_CLASSES = ("Landroid/app/Fragment;", "Landroidx/fragment/app/Fragment;", "Landroid/support/v4/app/Fragment;")  # below this every package is analysed


def _strip_open_query(url: str) -> str:
    """'http://h/p?id=' + value: the constant part names the endpoint without its half-built query."""
    if "?" in url and url.endswith(("=", "&", "?")):
        return url.split("?", 1)[0]
    return url


@dataclass
class LeakResult:
    flows: list[Flow] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    methods_total: int = 0
    methods_analysed: int = 0
    partial_reason: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    component: Component | None
    kind: str  # application / activity / ...


def classify_endpoint(value: str, found_in: str = "dex") -> Endpoint | None:
    """An Endpoint for a constant that looks like a URL, IP, host or phone number (None otherwise)."""
    value = value.strip()
    if not value or len(value) > 2048:
        return None
    if _URL_RE.match(value):
        try:
            parts = urlsplit(value)
            host = parts.hostname
            port = parts.port
        except ValueError:
            host, port = None, None
        return Endpoint(kind="url", value=value, host=host, port=port, scheme=parts.scheme or None,
                        hard_coded_ip=_is_ip(host), found_in=[found_in])
    if _is_ip(value):
        return Endpoint(kind="ip", value=value, host=value, hard_coded_ip=True, found_in=[found_in])
    if "@" in value and _HOST_RE.match(value.split("@", 1)[1]) and " " not in value:
        return Endpoint(kind="email", value=value, found_in=[found_in])
    if _HOST_RE.match(value) and not value.startswith(("android.", "com.android.", "java.", "javax.")):
        return Endpoint(kind="host", value=value, host=value, found_in=[found_in])
    if _PHONE_RE.match(value) and sum(c.isdigit() for c in value) >= 3:
        return Endpoint(kind="phone_number", value=value, found_in=[found_in])
    return None


def _is_ip(value: str | None) -> bool:
    if not value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _code_location(loc: Loc) -> CodeLocation:
    return CodeLocation(class_name=desc_to_dotted(loc[0]), method=loc[1], descriptor=loc[2], offset=loc[3])


class LeakFinder:
    """One APK's leak analysis (see module docstring)."""

    def __init__(self, dexes: list[DexFile], meta: ApkMetadata, catalogue: Catalogue, deadline: float) -> None:
        self.cat = catalogue
        self.meta = meta
        self.deadline = deadline
        self.dexes = dexes
        self.program = Program(dexes, catalogue)
        self.result = LeakResult(methods_total=sum(len(d.methods) for d in dexes))
        self.own_components: dict[str, Component] = {}
        for comp in meta.components:
            target = comp.target_activity if comp.kind == "activity-alias" and comp.target_activity else comp.name
            desc = dotted_to_desc(target)
            if comp.kind == "activity-alias" and desc in self.own_components:
                # an alias adds entry routes (e.g. a launcher alias) to its target activity
                base = self.own_components[desc]
                if comp.enabled and not base.enabled:
                    self.own_components[desc] = comp
                elif comp.enabled:
                    base.intent_filters = [*base.intent_filters, *comp.intent_filters]
                    base.exported = base.exported or comp.exported
                continue
            self.own_components[desc] = comp.model_copy(deep=True)
        self.component_descs = set(self.own_components)
        self.engine = Engine(self.program, set(self.component_descs), deadline)
        self._caller_cache: dict[str, list[MethodDef]] = {}
        self._readers_cache: dict[object, list[MethodDef]] = {}
        self.layout_blob = b""
        self._hops: dict[str, int] = {}  # how many returns up from a source-reading method
        self._max_hops = 1000
        self._entries_cache: dict[str, list[_Entry]] | None = None
        self._writers_cache: dict[object, list[MethodDef]] = {}

    # --- driver --------------------------------------------------------------------------------------------
    def run(self) -> LeakResult:
        self.result.endpoints = self._all_endpoints()
        if not self._references_sources():
            log.debug("%s: no source API referenced; no data-flow work", self.meta.package)
            return self.result
        try:
            seeds = self._seeds()
            if seeds and self.result.methods_total > SMALL_APP_METHODS:
                self.engine.relevant_packages = self._relevant_packages(seeds)
                self.engine.home_prefixes = self._home_prefixes(seeds)
                self._max_hops = MAX_RETURN_HOPS_BIG_APP
                self.engine.max_depth = MAX_CALL_DEPTH_BIG_APP
                self.engine.max_reanalysis = MAX_REANALYSIS_BIG_APP
            if seeds:
                # field initialisers of components run first: they put listeners/handlers in fields that the
                # lifecycle methods later register (needed to resolve those callbacks)
                for desc in sorted(self.component_descs):
                    cdef = self.program.classes.get(desc)
                    if cdef is not None and self.program.is_app(desc):
                        for m in list(cdef.methods.values()):
                            if m.name == "<init>" and m.code_off and dex_small(m):
                                self.engine.ensure(m)
                self._closure(seeds)
                self._walk_to_entries()
        except BudgetExceeded:
            self.result.partial_reason = "time budget exhausted during data-flow analysis; flows found so far are reported"
        self.result.problems.extend(self.engine.errors)
        try:
            self.result.flows = self._resolve()
        except BudgetExceeded:  # pragma: no cover - resolution does not analyse methods
            self.result.partial_reason = "time budget exhausted while resolving flows"
        self.result.methods_analysed = len(self.engine.results)
        return self.result

    # --- pre-pass ------------------------------------------------------------------------------------------
    def _references_sources(self) -> bool:
        names = set(self.cat.source_names) | {k.split("(", 1)[0] for k in self.cat.callback_sources}
        for dex in self.dexes:
            for n in names:
                if dex.find_string(n) is not None:
                    return True
            for prefix, _kind in self.cat.provider_prefixes:
                if dex.strings_with_prefix(prefix):
                    return True
        return False

    def _home_prefixes(self, seeds: list[MethodDef]) -> tuple[str, ...]:
        """Where the app's own code lives: its package, its components' and its source-reading code's packages."""
        homes = {dotted_to_desc(self.meta.package)[:-1]}
        for desc in [*self.component_descs, *(m.class_desc for m in seeds)]:
            parts = desc[1:].split("/")
            homes.add("L" + "/".join(parts[: min(3, len(parts) - 1)]))
        return tuple(sorted(homes))

    def _relevant_packages(self, seeds: list[MethodDef]) -> set[str]:
        """Packages whose code calls a sink, intent, callback, tag or source API (plus the app's own)."""
        classes: set[str] = set()
        for api in [*self.cat.sink_apis, *self.cat.icc, *self.cat.callbacks, *self.cat.tags, *self.cat.source_apis,
                    *self.cat.register_receiver, *self.cat.alarms, *self.cat.job_schedule, *self.cat.reflect_invoke]:
            classes.add(api.split("->", 1)[0])
        for cls in list(classes):
            classes.update(k for k, sups in self.cat.supertypes.items() if cls in sups)
        packages: set[str] = {m.class_desc.rsplit("/", 1)[0] for m in seeds}
        own = dotted_to_desc(self.meta.package)[:-1]
        for dex in self.dexes:
            tidx = {t for t in (dex.find_type(c) for c in classes) if t is not None}
            if not tidx:
                continue
            idxs = [i for i in range(dex.method_ids_size) if dex.method_class_idx(i) in tidx]
            for m in dex.methods_referencing(INVOKE_OPS, idxs, verify=False):
                packages.add(m.class_desc.rsplit("/", 1)[0])
            for desc in dex.classes:
                if desc.startswith(own):
                    packages.add(desc.rsplit("/", 1)[0])
        return packages

    def _seeds(self) -> list[MethodDef]:
        found: dict[str, MethodDef] = {}
        api_names = [*self.cat.source_apis, *self.cat.provider_queries]
        reflective = {api.split("->", 1)[1] for api in self.cat.source_apis}
        for dex in self.dexes:
            idxs: list[int] = []
            for api in api_names:
                cls, name = api.split("->", 1)
                idxs.extend(dex.find_methods(cls, name))
            hits = dex.methods_referencing(INVOKE_OPS, idxs)
            fidx: list[int] = []
            for f in self.cat.provider_fields:
                cls, name = f.split("->", 1)
                fidx.extend(dex.find_fields(cls, name))
            hits |= dex.methods_referencing(SGET_ALL, fidx)
            sidx: list[int] = []
            for prefix, _k in self.cat.provider_prefixes:
                sidx.extend(dex.strings_with_prefix(prefix))
            for n in reflective:
                i = dex.find_string(n)
                if i is not None:
                    sidx.append(i)
            hits |= dex.methods_referencing((0x1A,), [i for i in sidx if i < 0x10000])
            hits |= dex.methods_referencing((0x1B,), sidx, wide=True)
            for m in hits:
                if self.program.is_app(m.class_desc):
                    found[m.sig] = m
        for sig, m in self.program.methods.items():
            if m.name + m.proto in self.cat.callback_sources and self.program.is_app(m.class_desc) and m.code_off:
                found[sig] = m
        return [found[k] for k in sorted(found)]

    # --- closure -------------------------------------------------------------------------------------------
    def _closure(self, seeds: list[MethodDef]) -> None:
        need: dict[str, MethodDef] = {m.sig: m for m in seeds}
        for m in seeds:
            self._hops.setdefault(m.sig, 0)
        done: set[str] = set()
        while True:
            self._check_budget()
            for sig, m in list(need.items()):
                if sig not in done:
                    done.add(sig)
                    self.engine.ensure(m)
            self.engine.drain()
            tainted = self._tainted_keys()
            new: dict[str, MethodDef] = {}
            for sig, res in list(self.engine.results.items()):
                escapes = _carries(res.summary.ret, tainted) or any(_carries(v, tainted) for v in res.summary.mutations.values())
                hops = self._hops.get(sig, 0)
                if escapes and hops < self._max_hops:
                    for caller in self._callers(res.method):
                        new.setdefault(caller.sig, caller)
                        self._hops[caller.sig] = min(self._hops.get(caller.sig, hops + 1), hops + 1)
            for key in tainted:
                if isinstance(key, tuple) and key and key[0] == "icc":
                    for m in self._entry_methods_of(key[1]):
                        new.setdefault(m.sig, m)
                else:
                    for m in self._field_readers(key):
                        new.setdefault(m.sig, m)
            fresh = {s: new[s] for s in sorted(new) if s not in done}
            if not fresh:
                return
            need.update(fresh)

    def _tainted_keys(self) -> set[object]:
        """Global cells (fields, own components' incoming intents) that may hold a sensitive value."""
        writes: dict[object, set[Label]] = {}
        for res in self.engine.results.values():
            for key, val in res.writes:
                writes.setdefault(key, set()).update(val)
        tainted: set[object] = set()
        changed = True
        while changed:
            changed = False
            for key, cell in writes.items():
                if key not in tainted and _carries(cell, tainted):
                    tainted.add(key)
                    changed = True
            for res in self.engine.results.values():
                for icc in res.iccs:
                    if not _carries(icc.intent, tainted):
                        continue
                    results_to = self._result_targets(res.method.sig, icc) or []
                    for target in results_to:
                        if ("result", target) not in tainted:
                            tainted.add(("result", target))
                            changed = True
                    for target in self._internal_targets(icc, icc.intent):
                        key = ("icc", target)
                        if key not in tainted:
                            tainted.add(key)
                            changed = True
        return tainted

    def _internal_targets(self, icc: IccSend, intent: frozenset[Label]) -> list[str]:
        own: list[str] = []
        if icc.always_external:
            return own
        types = [str(lab[2]) for lab in intent if lab[0] == "IT" and lab[1] == "type"]
        for lab in intent:
            if lab[0] != "IT":
                continue
            if lab[1] == "class" and self.program.is_app(lab[2]):
                own.append(lab[2])
            elif lab[1] == "action":
                own.extend(self._action_handlers(lab[2], types))
        return own

    def _result_targets(self, sender_sig: str, icc: IccSend) -> list[str] | None:
        """setResult in an activity nobody else can start: the result goes back to the app's own activities
        (onActivityResult). None when the intent may leave the app."""
        if not icc.api.split("(")[0].endswith("->setResult"):
            return None
        sender = self.own_components.get(sender_sig.split("->", 1)[0])
        if sender is None or sender.exported:
            return None
        return sorted(d for d, c in self.own_components.items()
                      if c.kind in ("activity", "activity-alias") and any(m.name == "onActivityResult" for m in self._class_methods(d)))

    def _action_handlers(self, action: str, types: list[str] | None = None) -> list[str]:
        """Own components whose intent filters accept this action (and MIME type, when the intent sets one)."""
        out = [d for d, c in self.own_components.items() if c.enabled and any(
            action in f.actions and _type_matches(f.data_mime_types, types or []) for f in c.intent_filters)]
        for res in self.engine.results.values():
            for fact in res.facts:
                if fact[0] == "dynrecv" and action in fact[2]:  # type: ignore[operator]
                    out.append(str(fact[1]))
        return out

    def _entry_methods_of(self, desc: str) -> list[MethodDef]:
        out: list[MethodDef] = []
        for m in self._class_methods(desc):
            if m.name.startswith("on") or m.name in LIFECYCLE_PROVIDER or m.name == "run":
                out.append(m)
        return out

    def _class_methods(self, desc: str) -> list[MethodDef]:
        found: dict[str, MethodDef] = {}
        cur: str | None = desc
        depth = 0
        while cur and depth < 20 and self.program.is_app(cur):
            depth += 1
            for key, m in self.program.classes[cur].methods.items():
                if key not in found and m.code_off and not m.is_static:
                    found[key] = m
            cur = self.program.classes[cur].superclass
        return list(found.values())

    def _callers(self, m: MethodDef) -> list[MethodDef]:
        cached = self._caller_cache.get(m.sig)
        if cached is None:
            cached = self._caller_cache[m.sig] = self._direct_callers(m)
        out = {c.sig: c for c in sorted(cached, key=lambda c: c.sig)}
        if not m.is_static and not m.name.startswith("<"):
            # objects kept in fields are registered later by whoever reads the field (not cached: field
            # contents grow as more methods are analysed)
            for key, info in list(self.engine.field_info.items()):
                if any(lab[0] == "O" and lab[1] == m.class_desc for lab in info):
                    for r in self._field_readers(key):
                        out.setdefault(r.sig, r)
        return list(out.values())

    def _direct_callers(self, m: MethodDef) -> list[MethodDef]:
        out: dict[str, MethodDef] = {}
        # a call site names the method through its class, a superclass or a subclass (virtual dispatch)
        related = {m.class_desc, *self.program.supers(m.class_desc), *self.program.all_subtypes(m.class_desc, 50)}
        if not m.is_static and not m.name.startswith("<"):
            related = {c for c in related if self.program.is_app(c) or c == m.class_desc}
        for dex in self.dexes:
            idxs = [i for i in dex.method_ids_named(m.name)
                    if dex.method_ref(i)[2] == m.proto and dex.method_ref(i)[0] in related]
            refs = dex.methods_referencing(INVOKE_OPS, idxs)
            if not m.is_static and not m.name.startswith("<"):
                t = dex.find_type(m.class_desc)
                if t is not None:
                    refs |= dex.methods_referencing((0x22,), [t])
            for r in refs:
                if self.program.is_app(r.class_desc) and r.sig != m.sig:
                    out[r.sig] = r
        return list(out.values())

    def _field_readers(self, key: object) -> list[MethodDef]:
        if not (isinstance(key, tuple) and len(key) == 2):
            return []
        if key[0] == "prefs":
            return self._invokers("Landroid/content/SharedPreferences;", "get")
        if key[0] == "file":
            found = {m.sig: m for cls in ("Ljava/io/FileInputStream;", "Ljava/io/FileReader;", "Ljava/io/RandomAccessFile;")
                     for m in self._invokers(cls, "<init>")}
            found.update({m.sig: m for m in self._invokers("Landroid/content/Context;", "openFileInput")})
            found.update({m.sig: m for m in self._invokers("Landroid/content/ContextWrapper;", "openFileInput")})
            return [found[k] for k in sorted(found)]
        if key[0] == "work":
            return [m for m in self._class_methods(str(key[1])) if m.name in ("doWork", "startWork")]
        if key[0] in ("saved_state", "result"):
            return [m for m in self._class_methods(str(key[1]))
                    if m.name in ("onCreate", "onRestoreInstanceState", "onPostCreate", "onActivityResult")]
        cached = self._readers_cache.get(key)
        if cached is not None:
            return cached
        self._readers_cache[key] = result = self._field_users(key, list(range(0x52, 0x59)) + list(SGET_ALL))
        return result

    def _field_users(self, key: tuple, ops: list[int]) -> list[MethodDef]:
        cls, name = key
        out: dict[str, MethodDef] = {}
        owners = [str(cls), *self.program.all_subtypes(str(cls), 50)]  # refs may name a subclass
        for dex in self.dexes:
            idxs = [i for owner in owners for i in dex.find_fields(owner, str(name))]
            for r in dex.methods_referencing(ops, idxs):
                if self.program.is_app(r.class_desc):
                    out[r.sig] = r
        return list(out.values())

    def _invokers(self, cls: str, name_prefix: str) -> list[MethodDef]:
        """App methods calling cls->name_prefix* (any overload)."""
        out: dict[str, MethodDef] = {}
        for dex in self.dexes:
            t = dex.find_type(cls)
            if t is None:
                continue
            idxs = [i for i in range(dex.method_ids_size) if dex.method_class_idx(i) == t and dex.method_ref(i)[1].startswith(name_prefix)]
            for m in dex.methods_referencing(INVOKE_OPS, idxs):
                if self.program.is_app(m.class_desc):
                    out[m.sig] = m
        return [out[k] for k in sorted(out)]

    def _check_budget(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded()

    def _field_writers(self, key: object) -> list[MethodDef]:
        if not (isinstance(key, tuple) and len(key) == 2) or not str(key[0]).startswith("L"):
            return []
        cached = self._writers_cache.get(key)
        if cached is not None:
            return cached
        self._writers_cache[key] = result = self._field_users(key, list(range(0x59, 0x60)) + list(range(0x67, 0x6E)))
        return result

    # --- reachability --------------------------------------------------------------------------------------
    def _entries(self) -> dict[str, list[_Entry]]:
        if self._entries_cache is None:
            self._entries_cache = self._compute_entries()
        return self._entries_cache

    def _compute_entries(self) -> dict[str, list[_Entry]]:
        entries: dict[str, list[_Entry]] = {}
        for desc, comp in self.own_components.items():
            if not comp.enabled or not self.program.is_app(desc):
                continue
            for m in self._class_methods(desc):
                if m.access & 0x2:
                    continue  # private: the framework never calls it
                if m.name.startswith("on") or (comp.kind == "provider" and m.name in LIFECYCLE_PROVIDER):
                    entries.setdefault(m.sig, []).append(_Entry(comp, comp.kind))
        app_cls = self.meta.application_class
        for desc, comp in self.own_components.items():
            if comp.enabled and self.program.is_app(desc):
                cdef = self.program.classes[desc]
                for m in cdef.methods.values():
                    if m.name == "<init>" and m.code_off:
                        entries.setdefault(m.sig, []).append(_Entry(None, "static_init"))
        if app_cls:
            desc = dotted_to_desc(app_cls)
            for m in self.program.classes[desc].methods.values() if desc in self.program.classes else []:
                if m.name == "<init>" and m.code_off:
                    entries.setdefault(m.sig, []).append(_Entry(None, "static_init"))
            for m in self._class_methods(desc):
                if m.name.startswith("on") or m.name == "attachBaseContext":
                    entries.setdefault(m.sig, []).append(_Entry(None, "application"))
        for sig, m in self.program.methods.items():
            if m.name == "<clinit>" and m.code_off and self.program.is_app(m.class_desc):
                entries.setdefault(sig, []).append(_Entry(None, "static_init"))
        # fragments the app shows (declared in a layout or created in code) run their lifecycle methods
        for base in FRAGMENT_CLASSES:
            for desc in self.program.all_subtypes(base, 500):
                if not self.program.is_app(desc) or not (self._in_layout(desc_to_dotted(desc)) or self._instantiated(desc)):
                    continue
                for m in self._class_methods(desc):
                    if m.name.startswith("on") and not m.access & 0x2:
                        entries.setdefault(m.sig, []).append(_Entry(None, "fragment"))
        # android:onClick="name" in a layout: public void name(View) of an activity is a UI callback
        if self.layout_blob:
            for desc, comp in self.own_components.items():
                if comp.kind not in ("activity", "activity-alias") or not comp.enabled:
                    continue
                for m in self._class_methods(desc):
                    if m.proto == "(Landroid/view/View;)V" and m.access & 0x1 and self._in_layout(m.name):
                        entries.setdefault(m.sig, []).append(_Entry(comp, "layout_callback"))
        return entries

    def _in_layout(self, text: str) -> bool:
        blob = self.layout_blob
        return bool(blob) and (text.encode("utf-16-le") in blob or text.encode() in blob)

    def _instantiated(self, desc: str) -> bool:
        for dex in self.dexes:
            t = dex.find_type(desc)
            if t is not None and dex.methods_referencing((0x22,), [t]):
                return True
        return False

    def _walk_to_entries(self) -> None:
        """Analyse the callers (up to entry points) of every method where a flow may start or end."""
        tainted = self._tainted_keys()
        interesting: dict[str, MethodDef] = {}
        for res in list(self.engine.results.values()):
            if any(_carries(h.data, tainted) for h in res.hits) or any(_carries(i.intent, tainted) for i in res.iccs):
                interesting[res.method.sig] = res.method
        if not interesting:
            return  # no sensitive value reaches any sink: nothing to prove reachable
        for res in list(self.engine.results.values()):
            if any(_carries(v, tainted) for _k, v in res.writes):
                interesting[res.method.sig] = res.method
        for _kind, _api, loc in self.engine.occurrences:
            m = self.program.methods.get(f"{loc[0]}->{loc[1]}{loc[2]}")
            if m is not None:
                interesting[m.sig] = m
        # writers of fields read by tainted sinks (endpoints in static fields, streams kept in fields)
        keys: set[object] = set()
        for res in list(self.engine.results.values()):
            for h in res.hits:
                if not _carries(h.data, tainted):
                    continue
                for lab in (*h.endpoints, *(h.recv or ())):
                    if lab[0] == "G" and not (isinstance(lab[1], tuple) and lab[1][0] == "icc"):
                        keys.add(lab[1])
        for key in sorted(keys, key=repr)[:200]:
            self._check_budget()
            for w in self._field_writers(key):
                interesting.setdefault(w.sig, w)
        if not interesting:
            return
        # methods that start own components, set alarms/jobs or register receivers: they make triggers
        for m in self._fact_methods():
            interesting.setdefault(m.sig, m)
        entries = self._entries()
        queue = deque(interesting[k] for k in sorted(interesting))
        seen: set[str] = set(interesting)
        walked: list[MethodDef] = []
        for _round in range(4):
            while queue and len(seen) < MAX_METHODS_WALKED:
                self._check_budget()
                m = queue.popleft()
                self.engine.ensure(m)
                if m.sig in entries and m.name != "<init>":
                    continue
                walked.append(m)
                for c in self._callers(m):
                    if c.sig not in seen:
                        seen.add(c.sig)
                        queue.append(c)
            # analysing callers fills fields with objects (listeners kept in fields): look again
            for m in walked:
                for c in self._callers(m):
                    if c.sig not in seen:
                        seen.add(c.sig)
                        queue.append(c)
            if not queue:
                break
        for sig in entries:
            m = self.program.methods.get(sig)
            if m is not None and sig in seen:
                self.engine.ensure(m)
        self.engine.drain()
        # the walk may have made new values escape (e.g. a caller stores into a field): close again
        self._closure([])

    def _fact_methods(self) -> list[MethodDef]:
        names: set[str] = set()
        for api in [*self.cat.icc, *self.cat.alarms, *self.cat.job_schedule, *self.cat.register_receiver]:
            names.add(api.split("->", 1)[1])
        out: dict[str, MethodDef] = {}
        for dex in self.dexes:
            idxs = [i for n in sorted(names) for i in dex.method_ids_named(n)]
            for m in dex.methods_referencing(INVOKE_OPS, idxs):
                if self.program.is_app(m.class_desc):
                    out[m.sig] = m
        return list(out.values())

    # --- resolution ----------------------------------------------------------------------------------------
    def _resolve(self) -> list[Flow]:
        results = self.engine.results
        entries = self._entries()
        # call graph over analysed methods (+ intents to own components)
        edges: dict[str, set[tuple[str, str]]] = {}
        for sig, mres in results.items():
            for callee, kind, _off in mres.edges:
                if not callee.startswith("icc:"):
                    edges.setdefault(sig, set()).add((callee, kind))
        tables: dict[object, set[Label]] = {}
        # reachability needs internal intents, which need tables: iterate
        reach: set[str] = set()
        for _round in range(6):
            reach = self._reachable(entries, edges)
            tables = {}
            for sig in reach:
                res = results.get(sig)
                if res is None:
                    continue
                for key, val in res.writes:
                    tables.setdefault(key, set()).update(lab for lab in val if lab[0] not in ("P", "A", "F"))
            changed = True
            loops = 0
            while changed and loops < 8:
                changed = False
                loops += 1
                for sig in reach:
                    res = results.get(sig)
                    if res is None:
                        continue
                    for icc in res.iccs:
                        exp = _expand(icc.intent, tables)
                        for target in self._result_targets(sig, icc) or []:
                            cell = tables.setdefault(("result", target), set())
                            data = {lab for lab in exp if lab[0] in ("S", "X") or (lab[0] == "KV" and lab[2][0] in ("S", "X"))}
                            if not data <= cell:
                                cell.update(data)
                                changed = True
                        for target in self._internal_targets(icc, exp):
                            key = ("icc", target)
                            data = {lab for lab in exp if lab[0] in ("S", "X") or (lab[0] == "KV" and lab[2][0] in ("S", "X"))}
                            cell = tables.setdefault(key, set())
                            if not data <= cell:
                                cell.update(data)
                                changed = True
                            for m in self._entry_methods_of(target):
                                if (m.sig, "icc") not in edges.setdefault(sig, set()):
                                    edges[sig].add((m.sig, "icc"))
                                    changed = True
            if self._reachable(entries, edges) == reach:
                break
        reverse: dict[str, set[tuple[str, str]]] = {}
        for caller, outs in edges.items():
            for callee, kind in outs:
                reverse.setdefault(callee, set()).add((caller, kind))
        facts = [f for sig in reach if sig in results for f in results[sig].facts]
        flows: dict[tuple[object, ...], Flow] = {}
        perms = set(self.meta.permissions)
        for sig in sorted(reach):
            res = results.get(sig)
            if res is None:
                continue
            for hit in sorted(res.hits, key=repr):
                self._flows_from_hit(sig, hit, tables, reach, reverse, entries, facts, perms, flows)
            for icc in sorted(res.iccs, key=repr):
                exp = _expand(icc.intent, tables)
                if icc.internal_only or self._result_targets(sig, icc) is not None:
                    continue
                internal = self._internal_targets(icc, exp)
                targets = [lab for lab in exp if lab[0] == "IT"]
                types = [str(t[2]) for t in targets if t[1] == "type"]
                if internal and not icc.always_external and all(
                    (t[1] == "class" and self.program.is_app(t[2])) or (t[1] == "action" and self._action_handlers(t[2], types))
                    or t[1] == "type"
                    or (t[1] == "pkg" and t[2] == self.meta.package) for t in targets
                ):
                    continue
                hit = SinkHit("icc", icc.api, icc.intent, None, None, frozenset(targets), icc.path)
                self._flows_from_hit(sig, hit, tables, reach, reverse, entries, facts, perms, flows)
        for flow in flows.values():
            flow.endpoints.sort(key=lambda e: (e.kind, e.value))
            flow.triggers.sort(key=lambda t: (t.kind, t.component or "", t.period_seconds or 0, t.detail or ""))
        return sorted(flows.values(), key=lambda f: (f.source.kind, f.sink.kind, f.id))

    def _reachable(self, entries: dict[str, list[_Entry]], edges: dict[str, set[tuple[str, str]]]) -> set[str]:
        seen = set(entries)
        todo = list(entries)
        while todo:
            cur = todo.pop()
            for callee, _k in edges.get(cur, ()):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        return seen

    def _flows_from_hit(
        self, sig: str, hit: SinkHit, tables: dict[object, set[Label]], reach: set[str],
        reverse: dict[str, set[tuple[str, str]]], entries: dict[str, list[_Entry]], facts: list[tuple[object, ...]],
        perms: set[str], flows: dict[tuple[object, ...], Flow],
    ) -> None:
        data = _flatten(_expand(hit.data, tables))
        srcs = [lab[1] for lab in data if lab[0] == "S"]
        if not srcs:
            return
        if hit.tag is not None:
            recv = _expand(hit.recv or EMPTY, tables)
            if ("T", hit.tag) not in recv:
                return
        else:
            recv = EMPTY
        transforms = sorted({str(lab[1]) for lab in data if lab[0] == "X"})
        endpoints = self._endpoints(hit, tables, recv)
        sink_loc = hit.path[-1]
        sink_spec_perms = self._sink_permissions(hit.kind)
        for n in sorted(set(srcs)):
            kind, api, src_loc = self.engine.occurrences[n]
            src_sig = f"{src_loc[0]}->{src_loc[1]}{src_loc[2]}"
            if src_sig not in reach:
                continue  # the source is read in dead code (or an unregistered callback)
            path = [src_loc] if src_sig != sig or not hit.path or hit.path[0][:3] != src_loc[:3] else []
            path.extend(hit.path)
            key = (kind, src_loc[:3], hit.kind, sink_loc[:3])
            triggers = self._triggers({sig, src_sig}, reverse, entries, facts)
            src_spec = self.cat.source_kinds.get(kind)
            flow_perms = sorted(perms & (set(src_spec.permissions if src_spec else []) | sink_spec_perms))
            existing = flows.get(key)
            if existing is not None:
                # several equivalent calls (two reads of the IMEI, write and print on one stream ...): keep the
                # first in code order, whatever order the analysis met them in (reports must be reproducible)
                new_rank = (src_loc[3], api, sink_loc[3], hit.api)
                old_rank = (existing.source.location.offset or 0, existing.source.api,
                            existing.sink.location.offset or 0, existing.sink.api)
                if new_rank < old_rank:
                    existing.source = FlowPoint(kind=kind, api=api, location=_code_location(src_loc))
                    existing.sink = FlowPoint(kind=hit.kind, api=hit.api, location=_code_location(sink_loc))
                    existing.id = hashlib.sha256(repr((kind, api, src_loc, hit.kind, hit.api, sink_loc)).encode()).hexdigest()[:16]
                new_path = [_code_location(p) for p in path]
                if (len(new_path), [str(p) for p in new_path]) < (len(existing.path), [str(p) for p in existing.path]):
                    existing.path = new_path
                _merge_endpoints(existing.endpoints, endpoints)
                existing.transformations = sorted(set(existing.transformations) | set(transforms))
                for t in triggers:
                    if t not in existing.triggers:
                        existing.triggers.append(t)
                continue
            fid = hashlib.sha256(repr((kind, api, src_loc, hit.kind, hit.api, sink_loc)).encode()).hexdigest()[:16]
            flows[key] = Flow(
                id=fid,
                source=FlowPoint(kind=kind, api=api, location=_code_location(src_loc)),
                sink=FlowPoint(kind=hit.kind, api=hit.api, location=_code_location(sink_loc)),
                path=[_code_location(p) for p in path],
                transformations=transforms,
                endpoints=endpoints,
                triggers=triggers,
                permissions=flow_perms,
            )

    def _sink_permissions(self, kind: str) -> set[str]:
        return {p for s in self.cat.sinks_file.sinks if s.kind == kind for p in s.permissions}

    def _endpoints(self, hit: SinkHit, tables: dict[object, set[Label]], recv: frozenset[Label]) -> list[Endpoint]:
        labels = set(_expand(hit.endpoints, tables)) | {lab for lab in recv if lab[0] in ("C", "N", "SCHEME")}
        out: list[Endpoint] = []
        if hit.kind == "icc":
            pkgs = sorted(str(lab[2]) for lab in labels if lab[0] == "IT" and lab[1] == "pkg")
            for lab in sorted(labels, key=repr):
                if lab[0] != "IT":
                    continue
                if lab[1] == "action":
                    out.append(Endpoint(kind="intent_action", value=str(lab[2]), found_in=["dex"]))
                elif lab[1] == "class" and not self.program.is_app(str(lab[2])):
                    dotted = desc_to_dotted(str(lab[2]))
                    value = f"{pkgs[0]}/{dotted}" if pkgs else dotted
                    out.append(Endpoint(kind="component", value=value, found_in=["dex"]))
            if not out:
                out.extend(Endpoint(kind="component", value=p, found_in=["dex"]) for p in pkgs)
            return out
        for lab in sorted(labels, key=repr):
            if lab[0] == "C" and isinstance(lab[1], str):
                if hit.kind == "file":
                    if _PATH_RE.match(lab[1]):
                        _merge_endpoints(out, [Endpoint(kind="file", value=lab[1], found_in=["dex"])])
                    continue
                ep = classify_endpoint(_strip_open_query(lab[1]))
                if ep is None:
                    continue
                if hit.kind == "sms" and ep.kind != "phone_number":
                    continue
                if hit.kind != "sms" and ep.kind == "phone_number":
                    continue
                if ep.kind in ("host", "ip"):
                    ports = sorted(int(x[1]) for x in labels if x[0] == "N" and 0 < int(x[1]) < 65536)
                    if ports:
                        ep.port = ports[0]
                        scheme = "udp" if "Datagram" in hit.api else ("tls" if ("SCHEME", "tls") in labels else "tcp")
                        url = f"{scheme}://{ep.value}:{ports[0]}"
                        _merge_endpoints(out, [Endpoint(kind="url", value=url, host=ep.value, port=ports[0], scheme=scheme,
                                                        hard_coded_ip=ep.hard_coded_ip, found_in=["dex"])])
                _merge_endpoints(out, [ep])
        return out

    def _triggers(self, sigs: set[str], reverse: dict[str, set[tuple[str, str]]], entries: dict[str, list[_Entry]],
                  facts: list[tuple[object, ...]]) -> list[Trigger]:
        out: list[Trigger] = []
        found: dict[str, bool] = {}
        visited: set[str] = set()
        for start in sigs:
            # reverse BFS: entries reaching `start`, and whether a callback edge was on the way
            todo: deque[tuple[str, bool]] = deque([(start, False)])
            seen: set[tuple[str, bool]] = {(start, False)}
            while todo:
                cur, via_cb = todo.popleft()
                visited.add(cur)
                if cur in entries:
                    found[cur] = found.get(cur, False) or via_cb
                for caller, kind in reverse.get(cur, ()):
                    nxt = (caller, via_cb or kind == "callback")
                    if nxt not in seen and len(seen) < 20000:
                        seen.add(nxt)
                        todo.append(nxt)
        components: set[str] = set()
        for sig, via_cb in sorted(found.items()):
            for entry in entries[sig]:
                if via_cb:
                    _add(out, Trigger(kind="callback"))
                if entry.kind == "static_init":
                    continue
                if entry.kind == "fragment":
                    _add(out, Trigger(kind="activity", detail=f"fragment {self.program.methods[sig].class_desc}"))
                    continue
                if entry.kind == "layout_callback":
                    _add(out, Trigger(kind="callback", detail="android:onClick in a layout"))
                if entry.kind == "application":
                    _add(out, Trigger(kind="application", component=self.meta.application_class))
                    continue
                comp = entry.component
                assert comp is not None
                components.add(dotted_to_desc(comp.target_activity or comp.name) if comp.kind == "activity-alias" else dotted_to_desc(comp.name))
                for t in self._component_triggers(comp):
                    _add(out, t)
        for fact in facts:
            if fact[0] not in ("alarm", "job"):
                continue
            targets = fact[1]
            assert isinstance(targets, tuple)
            hit = any(
                (t[1] == "class" and t[2] in components)
                or (t[1] == "action" and set(self._action_handlers(t[2])) & components)
                for t in targets
            )
            if hit:
                period = fact[2]
                secs = int(period) // 1000 if isinstance(period, int) and period > 0 else None
                _add(out, Trigger(kind=str(fact[0]), component=desc_to_dotted(next(iter(components))) if len(components) == 1 else None,
                                  period_seconds=secs, detail=f"set in {_code_location(fact[3])}"))  # type: ignore[arg-type]
        for fact in facts:
            if fact[0] == "periodic" and fact[1] in visited:
                _add(out, Trigger(kind="callback", period_seconds=int(fact[2]),  # type: ignore[call-overload]
                                  detail=f"repeats, scheduled in {_code_location(fact[3])}"))  # type: ignore[arg-type]
        for sig in sorted(visited):
            m = self.program.methods.get(sig)
            if m is None:
                continue
            for fact in facts:
                if fact[0] == "dynrecv" and fact[1] == m.class_desc:
                    actions = list(fact[2])  # type: ignore[call-overload]
                    kind = "sms_received" if set(actions) & SMS_ACTIONS else ("boot" if set(actions) & BOOT_ACTIONS else "receiver")
                    _add(out, Trigger(kind=kind, component=desc_to_dotted(m.class_desc), exported=True, actions=actions,
                                      detail="registered at run time"))
        return out

    def _component_triggers(self, comp: Component) -> list[Trigger]:
        actions = comp.actions
        out: list[Trigger] = []
        kinds: list[str] = []
        if comp.kind in ("activity", "activity-alias"):
            launcher = any("android.intent.action.MAIN" in f.actions and "android.intent.category.LAUNCHER" in f.categories
                           for f in comp.intent_filters)
            kinds.append("launcher" if launcher else "activity")
        elif comp.kind == "receiver":
            if set(actions) & BOOT_ACTIONS:
                kinds.append("boot")
            if set(actions) & SMS_ACTIONS:
                kinds.append("sms_received")
            if not kinds:
                kinds.append("receiver")
        else:
            kinds.append(comp.kind)
        for k in kinds:
            out.append(Trigger(kind=k, component=comp.name, exported=comp.exported, actions=actions))
        return out

    def _all_endpoints(self) -> list[Endpoint]:
        out: list[Endpoint] = []
        for dex in self.dexes:
            for prefix in ("http://", "https://", "ws://", "wss://", "ftp://"):
                for i in dex.strings_with_prefix(prefix)[:2000]:
                    ep = classify_endpoint(dex.string(i))
                    if ep is not None:
                        _merge_endpoints(out, [ep])
        return out


def _type_matches(filter_types: list[str], intent_types: list[str]) -> bool:
    """Intent resolution by MIME type: a filter without types takes untyped intents only; text/* matches text/plain."""
    if not intent_types:
        return not filter_types
    for it in intent_types:
        for ft in filter_types:
            if ft in ("*/*", "*") or ft == it or (ft.endswith("/*") and it.split("/", 1)[0] == ft[:-2]):
                return True
    return False


def dex_small(m: MethodDef) -> bool:
    return m.dex.insns_size(m) < 2000


def _add(out: list[Trigger], t: Trigger) -> None:
    if t not in out:
        out.append(t)


def _merge_endpoints(into: list[Endpoint], new: list[Endpoint]) -> None:
    known = {(e.kind, e.value) for e in into}
    for e in new:
        if (e.kind, e.value) not in known:
            into.append(e)
            known.add((e.kind, e.value))


def _expand(value: frozenset[Label] | set[Label], tables: dict[object, set[Label]], depth: int = 0) -> frozenset[Label]:
    """Resolve global cells (G), keyed reads of them (GK) and keyed contents (KV) into concrete labels."""
    out: set[Label] = set()
    stack = list(value)
    seen: set[object] = set()
    while stack:
        lab = stack.pop()
        kind = lab[0]
        if kind == "G":
            if lab[1] in seen:
                continue
            seen.add(lab[1])
            stack.extend(tables.get(lab[1], ()))
        elif kind == "GK":
            if depth > 6:
                continue
            for inner in _expand(frozenset({("G", lab[1])}), tables, depth + 1):
                if inner[0] == "KV":
                    if inner[1] == lab[2]:
                        stack.append(inner[2])
                elif inner[0] in ("S", "X"):
                    out.add(inner)
        elif kind == "KV":
            if depth > 6:
                continue
            for inner in _expand(frozenset({lab[2]}), tables, depth + 1):
                out.add(("KV", lab[1], inner))
        elif kind == "FR":
            stack.append(("G", lab[2]))  # a parameter object's field, never resolved by a caller: field-based
        elif kind in ("P", "A", "F", "PK"):
            continue
        else:
            out.add(lab)
    return frozenset(out)


def _flatten(value: frozenset[Label]) -> frozenset[Label]:
    """Contents of key-value containers count as data when the container itself reaches a sink."""
    out: set[Label] = set()
    stack = list(value)
    while stack:
        lab = stack.pop()
        if lab[0] == "KV":
            stack.append(lab[2])
        else:
            out.add(lab)
    return frozenset(out)


def _carries(value: frozenset[Label] | set[Label], tainted: set[object]) -> bool:
    for lab in value:
        kind = lab[0]
        if kind == "S" or (kind in ("G", "GK") and lab[1] in tainted) or (kind == "FR" and lab[2] in tainted):
            return True
        if kind == "KV" and _carries({lab[2]}, tainted):
            return True
    return False


def find_leaks(
    dexes: list[DexFile], meta: ApkMetadata, catalogue: Catalogue, deadline: float | None = None,
    resource_strings: dict[int, str] | None = None, layout_blob: bytes = b"",
) -> LeakResult:
    """Source-to-sink flows of one APK's code (see module docstring)."""
    finder = LeakFinder(dexes, meta, catalogue, deadline if deadline is not None else time.monotonic() + 60)
    finder.layout_blob = layout_blob
    finder.engine.http_proxies = any(d.find_string("Lretrofit2/Retrofit;") is not None or
                                     d.find_string("Lretrofit/RestAdapter;") is not None for d in dexes)
    finder.engine.resource_strings = resource_strings or {}
    return finder.run()
