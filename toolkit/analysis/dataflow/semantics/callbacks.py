"""Callbacks: calls that make the framework run app code later (Thread.start, Handler.post, executors,
observers, timers ...: `callbacks` in models.yml), and the generic rule that an app object handed to a
framework registration call (setOnClickListener, registerListener ...) has its callback methods run."""

from __future__ import annotations

from toolkit.analysis.catalogue import CallbackSpec, Catalogue
from toolkit.analysis.dataflow.program import param_types
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.values import EMPTY, IDENTITY, AppObject, Cell, Label, cap, channel_cell, passed_cell
from toolkit.analysis.dex import MethodDef

MAX_CALLBACK_METHODS = 12


def may_run_callbacks(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    if api.named(cat.callbacks):
        return True
    lambdas = api.lib.startswith(tuple(fam.lambda_runners))
    return (lambdas or api.name.startswith(tuple(fam.registration_prefixes))) and not api.lib.startswith(tuple(fam.not_registration))


def run_callbacks(call: LibraryCall) -> frozenset[Label] | None:
    """Run the callback methods now (their effects are the call's effects); what they return comes back
    through e.g. Future.get, so it joins the call's result."""
    spec = next((s for key in call.keys if (s := call.cat.callbacks.get(key)) is not None), None)
    ret = _declared(call, spec) if spec is not None else _generic(call)
    call.extra = call.extra | ret
    return None


def _declared(call: LibraryCall, spec: CallbackSpec) -> frozenset[Label]:
    it = call.it
    args = call.args
    if spec.object == "this":
        obj = args[0]
    elif isinstance(spec.object, int) and spec.object < len(args):
        obj = args[spec.object]
    else:
        obj = EMPTY
    passed: frozenset[Label] = EMPTY
    if spec.pass_all_args:
        for a in args[1:]:
            passed |= a
    if spec.pass_receiver:
        passed |= frozenset(lab for lab in args[0] if lab[0] not in IDENTITY)
    if spec.pass_cell is not None:
        passed |= {Cell(passed_cell(spec.pass_cell))}
    last_ret: frozenset[Label] = EMPTY
    period = _period_seconds(call, spec)
    for o in sorted({lab[1] for lab in obj if lab[0] == "O"}):
        for mspec in spec.methods:
            mname = mspec.split("(", 1)[0]
            for t in it.p.methods_named(o, mname)[:4]:
                if not t.code_off or t.is_static:
                    continue
                n_params = len(param_types(t.proto))
                pv = cap(passed | last_ret)
                params = [obj] + [pv] * n_params
                if spec.receiver_param is not None and n_params:
                    # only that parameter is the registering object (e.g. the Call given to onFailure)
                    recv_val = frozenset(lab for lab in args[0] if lab[0] not in IDENTITY)
                    params = [obj] + [recv_val if k == spec.receiver_param else EMPTY for k in range(1, n_params + 1)]
                last_ret = last_ret | it._call_app(t, params, [None] * len(params), call.st, call.where, "callback")
                if spec.pass_receiver:
                    # an observer also sees what is posted later in this method: run it again at the end
                    for lab in args[0]:
                        if lab[0] == "OF":
                            it.later.append((t, obj, lab[1], call.where))
                if period:
                    it._fact(("periodic", t.sig, period, call.where))
    return frozenset(lab for lab in last_ret if lab[0] not in IDENTITY)


def sends_on_channel(api: Api, cat: Catalogue) -> bool:
    return api.named(cat.channel_sends)


def send_on_channel(call: LibraryCall) -> frozenset[Label] | None:
    """A send on a channel (models.yml `channels`): its argument's data goes into the channel's cell, which the
    callbacks registered with that `pass_cell` receive (the Handler of any Messenger the app wraps one in)."""
    spec = next(s for key in call.keys if (s := call.cat.channel_sends.get(key)) is not None)
    call.it._write_field(channel_cell(spec.name), call.arg(spec.arg))
    return None


def _period_seconds(call: LibraryCall, spec: CallbackSpec) -> int | None:
    """The repeat period of a timer/scheduled executor: milliseconds unless a TimeUnit is passed."""
    if not spec.period_arg or spec.period_arg >= len(call.args):
        return None
    values = sorted(lab[1] for lab in call.args[spec.period_arg] if lab[0] == "N" and lab[1] > 0)
    if not values:
        return None
    units = sorted(lab[1] for a in call.args for lab in a if lab[0] == "UNIT")
    seconds_per_unit = call.cat.families.time_unit_seconds.get(units[0], 0.001) if units else 0.001
    return int(values[0] * seconds_per_unit * 1000) // 1000


def _generic(call: LibraryCall) -> frozenset[Label]:
    """App objects handed to a framework registration call have their framework callback methods run by it."""
    it = call.it
    fam = call.cat.families
    lib = call.lib
    if not call.cat.is_library(lib) and lib in it.p.classes:
        return EMPTY
    lambdas = lib.startswith(tuple(fam.lambda_runners))  # thread { }, launch { }: lambdas run
    if not (lambdas or call.name.startswith(tuple(fam.registration_prefixes))) or lib.startswith(tuple(fam.not_registration)):
        return EMPTY
    out: frozenset[Label] = EMPTY
    for a in call.args[1:]:
        # objects in sorted order: each call changes the state the next one sees (not the set's order)
        for o in sorted({lab[1] for lab in a if lab[0] == "O"}):
            if o in it.e.components or not it.p.is_app(o) or not _has_framework_super(call, o):
                continue
            for t in _callback_methods(call, o):
                params = [frozenset({AppObject(o)})] + [EMPTY] * len(param_types(t.proto))
                out |= it._call_app(t, params, [None] * len(params), call.st, call.where, "callback")
    return frozenset(lab for lab in out if lab[0] in ("S", "G", "X", "C"))


def _has_framework_super(call: LibraryCall, cls: str) -> bool:
    """Implements or extends a library type (a listener, Runnable, Handler ...), not just Object."""
    p = call.it.p
    return any(sup != "Ljava/lang/Object;" and not p.is_app(sup) for sup in p.supers(cls))


def _callback_methods(call: LibraryCall, cls: str) -> list[MethodDef]:
    """Methods of cls (and app superclasses) whose names look like framework callbacks (on*, run, call ...)."""
    p = call.it.p
    prefixes = call.cat.generic_prefixes
    out: dict[str, MethodDef] = {}
    cur: str | None = cls
    depth = 0
    while cur and depth < 10 and p.is_app(cur):
        depth += 1
        for key, mdef in p.classes[cur].methods.items():
            if key in out or mdef.is_static or not mdef.code_off or mdef.name.startswith("<"):
                continue
            if mdef.name.startswith(prefixes) and not (mdef.access & 0x1000 and mdef.name.startswith("access$")):
                out[key] = mdef
        cur = p.classes[cur].superclass
    return list(out.values())[:MAX_CALLBACK_METHODS]
