"""The default for a library call no other handler ended: clean calls (sizes, comparisons) carry nothing;
otherwise the result carries the receiver's and the arguments' data, a constructor or a mutator (add, append,
put ...: `mutators` in models.yml) adds the arguments to the receiver, and a wrapping constructor (new
BufferedWriter(w)) makes wrapper and wrapped one object."""

from __future__ import annotations

from toolkit.analysis.dataflow.semantics import LibraryCall
from toolkit.analysis.dataflow.values import EMPTY, NOT_PROPAGATED, Label, Transform, cap, is_tainted


def clean_or_propagate(call: LibraryCall) -> frozenset[Label]:
    cat = call.cat
    it = call.it
    st = call.st
    name = call.name
    regs = call.arg_regs
    xform = call.xform
    if name in cat.clean_names or call.matches(cat.clean_apis):
        return call.tagged
    data: frozenset[Label] = EMPTY
    for a in call.args[1:]:
        data |= a
    if name == "<init>":
        if regs[0] is not None:
            added = data | ({Transform(xform)} if xform and is_tainted(data) else set())
            it._mutate(st, regs[0], frozenset(added))
            if call.lib.endswith(cat.wrapper_suffixes) and len(regs) > 1 and regs[1] is not None:
                # new BufferedWriter(w) / new GZIPOutputStream(buf): writing to the wrapper writes to the
                # wrapped object, so both registers must hold the same object
                it._mutate(st, regs[1], st.get(regs[0], EMPTY))
                st[regs[0]] = st.get(regs[1], EMPTY)
        return EMPTY
    data = frozenset(lab for lab in data if lab[0] not in NOT_PROPAGATED)
    if not call.static and name.startswith(cat.mutators) and regs[0] is not None and data:
        carries = is_tainted(data) or (xform == "intent_extra" and any(lab[0] == "O" for lab in data))
        added = data | ({Transform(xform)} if xform and carries else set())
        it._mutate(st, regs[0], frozenset(added))
        ret_type = call.proto[call.proto.index(")") + 1 :]
        if ret_type in (call.ref_cls, call.lib):
            # fluent mutator (StringBuilder.append, JSONObject.put, Builder.url ...): the result IS the
            # receiver object, so later mutations through either register must reach both
            return st.get(regs[0], EMPTY)
    out = data | frozenset(lab for lab in call.recv if lab[0] not in NOT_PROPAGATED) | call.extra
    if xform and is_tainted(out):
        out = out | {Transform(xform)}
    return cap(call.it.p.typed(out, call.proto[call.proto.index(")") + 1 :]) | call.tagged)
