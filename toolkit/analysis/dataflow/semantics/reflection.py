"""Reflection: Class.forName / getMethod / Method.invoke / newInstance with names the engine can fold to
constants (concatenation, StringBuilder, reverse, substring of constants: see strings.py)."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.program import dotted_to_desc, param_types
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.values import EMPTY, AppObject, ClassConst, Label, ReflectedMethod, Transform, is_tainted


def reflective(api: Api, cat: Catalogue) -> bool:
    return any(api.named(apis) for apis in (cat.for_name, cat.get_method, cat.reflect_invoke, cat.new_instance))


def reflect(call: LibraryCall) -> frozenset[Label] | None:
    cat = call.cat
    it = call.it
    if call.matches(cat.for_name):
        return frozenset(ClassConst(dotted_to_desc(lab[1])) for lab in call.args[1] if lab[0] == "C" and isinstance(lab[1], str))
    if call.matches(cat.get_method):
        names = [lab[1] for lab in call.arg(1) if lab[0] == "C"]
        classes = [lab[1] for lab in call.recv if lab[0] == "K"]
        if not classes:
            # obj.getClass().getMethod("getDeviceId"): the class is the receiver's; resolve by name
            classes = sorted({api.split("->", 1)[0] for n in names for api in cat.source_apis if api.endswith("->" + n)})
        return frozenset(ReflectedMethod(c, n) for c in classes for n in names)
    if call.matches(cat.reflect_invoke):
        out: frozenset[Label] = EMPTY
        # targets in sorted order: each call changes the state the next one sees (mutations, fields it always
        # sets), so the order must not be the set's (hash seeds)
        for tcls, tname in sorted({(lab[1], lab[2]) for lab in call.recv if lab[0] == "M"}):
            if it.p.is_app(tcls):
                for t in it.p.methods_named(tcls, tname)[:4]:
                    n_params = len(param_types(t.proto))
                    args = [call.arg(1) if not t.is_static else EMPTY] + [call.arg(2)] * n_params
                    out |= it._call_app(t, args, [None] * len(args), call.st, call.where, "reflection")
            else:
                from toolkit.analysis.dataflow.semantics import apply_library

                regs = [call.arg_regs[2] if len(call.arg_regs) > 2 else None, None]
                out |= apply_library(it, tcls, tcls, tname, "()Ljava/lang/Object;", [call.arg(1), call.arg(2)], regs,
                                     call.st, call.where, False)
        if out:
            return out | ({Transform("reflection")} if is_tainted(out) else set())
    if call.matches(cat.new_instance) and any(lab[0] == "K" for lab in call.recv):
        return frozenset(AppObject(lab[1]) for lab in call.recv if lab[0] == "K" and it.p.is_app(lab[1]))
    return None
