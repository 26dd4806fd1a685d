"""Intents and scheduling: Intent targets (explicit classes, actions, packages, MIME types), the intent that
started a component, alarms, jobs, receivers registered at run time, and WorkManager requests."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.program import dotted_to_desc, param_types
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.values import (
    EMPTY,
    AppObject,
    Cell,
    IntentTarget,
    JobPeriod,
    Label,
    Scheme,
    Transform,
)


def intent_related(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    if any(c in cat.intent_classes for c in api.cands) or api.name.startswith(tuple(fam.object_extras)):
        return True
    if any(marker in api.lib for marker in fam.tls_class_markers):
        return True
    named = (cat.get_intent, cat.alarms, cat.job_schedule, cat.job_periodic, cat.register_receiver)
    return any(api.named(apis) for apis in named)


def intent_plumbing(call: LibraryCall) -> frozenset[Label] | None:
    cat = call.cat
    fam = cat.families
    it = call.it
    if any(c in cat.intent_classes for c in call.cands):
        _intent_targets(call)
    if call.name.startswith(tuple(fam.object_extras)):
        call.extra = call.extra | {Transform("intent_extra")}  # an object that travelled in an Intent/Bundle
    if any(marker in call.lib for marker in fam.tls_class_markers):
        call.extra = call.extra | {Scheme("tls")}
    if call.matches(cat.get_intent):
        comps = [lab[1] for lab in call.recv if lab[0] == "O" and lab[1] in it.e.components]
        if not comps and it.m.class_desc in it.e.components:
            comps = [it.m.class_desc]
        return frozenset(Cell(("icc", c)) for c in comps)
    for key in call.keys:
        interval_arg = cat.alarms.get(key)
        if interval_arg is not None:
            pending = call.args[-1]
            period = sorted({lab[1] for lab in call.arg(interval_arg) if lab[0] == "N"}) if interval_arg else []
            it._fact(("alarm", _targets_of(pending), period[0] if period else None, call.where))
        if key in cat.job_schedule:
            job = call.arg(1)
            periods = sorted({lab[1] for lab in job if lab[0] == "PER"})
            it._fact(("job", _targets_of(job), periods[0] if periods else None, call.where))
        if key in cat.job_periodic and call.arg_regs[0] is not None:
            it._mutate(call.st, call.arg_regs[0], frozenset(JobPeriod(lab[1]) for lab in call.arg(1) if lab[0] == "N"))
        if key in cat.register_receiver:
            receivers = [lab[1] for lab in call.arg(1) if lab[0] == "O"]
            actions = sorted(lab[1] for lab in call.arg(2) if lab[0] == "C")
            for o in receivers:
                it._fact(("dynrecv", o, tuple(actions), call.where))
    return None


def work_related(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    enqueue = api.lib in fam.work_managers and api.name.startswith(fam.work_enqueue_prefix)
    return enqueue or (api.name in fam.worker_input and not api.static)


def work_manager(call: LibraryCall) -> frozenset[Label] | None:
    """WorkManager: the library creates the Worker class named in the request and runs doWork(), which reads
    the request's input Data with getInputData(); a PeriodicWorkRequest repeats."""
    fam = call.cat.families
    it = call.it
    if call.lib in fam.work_managers and call.name.startswith(fam.work_enqueue_prefix):
        request: frozenset[Label] = EMPTY
        for a in call.args[1:]:
            request |= a
        work_data = frozenset(lab for lab in request if lab[0] in ("S", "G", "X", "KV", "GK", "FR", "C"))
        periods = sorted(lab[1] for lab in request if lab[0] == "N" and lab[1] > 0)
        units = sorted(lab[1] for lab in request if lab[0] == "UNIT")
        scale = fam.time_unit_seconds.get(units[0], 0) if units else 0
        # workers in sorted order: each doWork() run changes the state the next one sees (not the set's order)
        for worker in sorted({lab[1] for lab in request if lab[0] == "K"}):
            if it.p.is_app(worker):
                it._write_field(("work", worker), work_data)
                period_s = int(periods[0] * scale) if periods and scale else 0
                if period_s:
                    it._fact(("job", (IntentTarget("class", worker),), period_s * 1000, call.where))
                for name in fam.worker_methods:
                    for t in it.p.methods_named(worker, name):
                        if t.code_off:
                            it._call_app(t, [frozenset({AppObject(worker)})], [None], call.st, call.where, "callback")
                            if period_s:
                                it._fact(("periodic", t.sig, period_s, call.where))
    if call.name in fam.worker_input and not call.static:
        workers = [lab[1] for lab in call.recv if lab[0] == "O"] or [it.m.class_desc]
        return frozenset(Cell(("work", w)) for w in workers)
    return None


def _intent_targets(call: LibraryCall) -> None:
    """new Intent(ctx, Foo.class), setAction, setClassName, setPackage, setType ...: label the intent object."""
    reg = call.arg_regs[0]
    if reg is None:
        return
    name = call.name
    args = call.args
    labels: set[Label] = set()
    types = param_types(call.proto)
    if name == "<init>" and types and types[0] == "Ljava/lang/String;" and "Landroid/net/Uri;" in types:
        # Intent(String action, Uri data[, Context, Class]): an action, maybe also an explicit class
        labels.update(IntentTarget("action", lab[1]) for lab in args[1] if lab[0] == "C")
        labels.update(IntentTarget("class", lab[1]) for a in args[2:] for lab in a if lab[0] == "K")
        call.it._mutate(call.st, reg, frozenset(labels))
        return
    consts = [[lab[1] for lab in a if lab[0] == "C" and isinstance(lab[1], str)] for a in args]
    klass = [[lab[1] for lab in a if lab[0] == "K"] for a in args]
    if name in ("<init>", "setClass", "setComponent", "setClassName"):
        for ks in klass[1:]:
            labels.update(IntentTarget("class", k) for k in ks)
    if name in ("<init>", "setAction") and len(args) > 1:
        first = consts[1]
        if name == "setAction" or (len(args) <= 3 and not klass[-1] and not (len(args) == 3 and consts[2])):
            labels.update(IntentTarget("action", c) for c in first)
    if name == "setClassName" or (name == "<init>" and len(args) == 3 and consts[2]):
        labels.update(IntentTarget("class", dotted_to_desc(c)) for c in consts[2])
        labels.update(IntentTarget("pkg", c) for c in consts[1])
    if name == "setPackage":
        labels.update(IntentTarget("pkg", c) for c in consts[1])
    if name in ("setType", "setDataAndType", "setTypeAndNormalize"):
        labels.update(IntentTarget("type", c) for c in consts[-1])
    if labels:
        call.it._mutate(call.st, reg, frozenset(labels))


def _targets_of(value: frozenset[Label]) -> tuple[Label, ...]:
    return tuple(sorted((lab for lab in value if lab[0] == "IT"), key=repr))
