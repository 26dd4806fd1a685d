"""Calls in the interpreter: which app methods an invoke may reach, and applying their summaries; calls that
reach no app code go to the library semantics registry."""

from __future__ import annotations

from toolkit.analysis.dataflow.heap import HeapOps
from toolkit.analysis.dataflow.program import Loc, param_types
from toolkit.analysis.dataflow.semantics import apply_library
from toolkit.analysis.dataflow.summary import IccSend, SinkHit, State, Substitution, param_cell, set_local_field
from toolkit.analysis.dataflow.values import EMPTY, IDENTITY, Cell, FieldObject, Label, cap, is_tainted
from toolkit.analysis.dex import INVOKE_KIND, Insn, MethodDef

MAX_TARGETS = 64  # app methods one virtual call may dispatch to by class hierarchy (more: dispatch_fanout, recorded)
# ... by the receiver objects it may hold: each is an object the app really created and stored there (netty's
# promise notifies some 100 listener classes), so the bound is higher
MAX_OBJECT_TARGETS = 512
MAX_PATH = 24  # call sites kept in a flow's path


class CallOps(HeapOps):
    """Invoke instructions (MethodInterpreter's base)."""

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
        return apply_library(self, lib, cls, name, proto, args, arg_regs, st, where, static)

    def _proxy_call(self, cls: str, name: str, proto: str, args: list[frozenset[Label]], where: Loc) -> frozenset[Label]:
        """A call to an app interface/abstract method nothing in the app implements: a dynamic proxy at run time.
        With Retrofit in the APK that proxy makes an HTTP request with the arguments; its result is the response
        (not the arguments), so it carries nothing of them."""
        if self.e.http_proxies:
            data: frozenset[Label] = EMPTY
            for a in args[1:]:
                data |= frozenset(lab for lab in a if lab[0] not in IDENTITY)
            if is_tainted(data):
                self.res.hits.add(SinkHit("network", f"{cls}->{name}{proto}", cap(data), None, None, EMPTY, (where,)))
        return EMPTY

    def _targets(self, cls: str, name_proto: str, kind: str, recv: frozenset[Label]) -> list[MethodDef]:
        """App methods the call may run: exact for static/direct/super, by receiver objects when known, else by
        the class hierarchy (a wide hierarchy without a known receiver is recorded as a limit)."""
        p = self.p
        if kind in ("static", "direct", "super"):
            mdef, _lib = p.resolve(cls, name_proto)
            return [mdef] if mdef is not None and mdef.code_off else []
        # receiver objects whose class can actually be the call's class (an AppObject that travelled through a
        # library call, e.g. getSystemService on an activity, must not redirect TelephonyManager calls)
        objs = sorted({lab[1] for lab in recv if lab[0] == "O"
                       and (lab[1] == cls or cls == "Ljava/lang/Object;" or cls in p.supers(lab[1]))})
        out: list[MethodDef] = []
        seen: set[str] = set()
        if objs:
            for o in objs:
                mdef, _lib = p.resolve(o, name_proto)
                if mdef is not None and mdef.code_off and mdef.sig not in seen:
                    seen.add(mdef.sig)
                    out.append(mdef)
            if out or not p.is_app(cls):
                if len(out) > MAX_OBJECT_TARGETS:
                    self.e.limits.hit("dispatch_fanout", f"{cls}->{name_proto}")
                return out[:MAX_OBJECT_TARGETS]
        if not p.is_app(cls):
            # a library interface/class method with app overrides: only taken when the receiver is known (above)
            return []
        out = p.cha_targets(cls, name_proto)
        if len(out) > MAX_TARGETS:
            self.e.limits.hit("dispatch_fanout", f"{self.m.sig} calls {cls}->{name_proto} ({len(out)} targets)")
            return out[:MAX_TARGETS]
        return out

    def _call_app(
        self, t: MethodDef, args: list[frozenset[Label]], arg_regs: list[int | None], st: State,
        where: Loc, kind: str,
    ) -> frozenset[Label]:
        """Apply the summary of app method t at this call site (args[0] = receiver, EMPTY for static)."""
        self.res.edges.add((t.sig, kind, where[3]))
        self._flush_fields(st)
        summ = self.e.summary_of(t, self.m.sig)
        plain = Substitution(args, None)
        for (idx, key), val in summ.relw:
            if idx < len(args):
                # a parameter stored in the object's field: which array/library object of this method it is too
                # (substitution passes data, not identities), so that later writes through the field reach it
                held = frozenset(lab for p in val if p[0] == "P" and p[1] < len(args) for lab in args[p[1]] if lab[0] == "L")
                self._store_object_field(st, args[idx], key, plain.apply(val) | held)
        for (idx, key), val in summ.relm:
            if idx < len(args):
                added = plain.apply(val)
                base = args[idx]
                sites = [lab for lab in base if lab[0] == "O" and len(lab) == 3]
                for site in sites:
                    slot = ("ofld", site[2], key)
                    held = st.get(slot, EMPTY)
                    st[slot] = cap(held | added)
                    for lab in held:
                        if lab[0] == "L":  # the field holds an array/object of this method: it changed too
                            self._mutate_holders(st, lab[1], added)
                for lab in base:
                    if lab[0] == "A":
                        self.relm[(lab[1], key)] = cap(self.relm.get((lab[1], key), EMPTY) | added)
                if not sites:
                    self._write_field(key, added)

        def resolve(i: int, key: object) -> frozenset[Label]:
            base = args[i] if i < len(args) else EMPTY
            own = self._object_field(st, base, key)
            base_x = frozenset(lab for lab in base if lab[0] == "X")
            if own is not None:
                return own | base_x
            return frozenset({Cell(key), FieldObject(key)}) | self.e.field_info.get(key, EMPTY) | base_x

        sub = Substitution(args, resolve)
        for idx, added in summ.mutations.items():
            reg = arg_regs[idx] if idx < len(arg_regs) else None
            if reg is not None:
                self._mutate(st, reg, sub.apply(added))
        if summ.mutations:
            sub = Substitution(args, resolve)  # the mutations may have changed fields of local objects
        tainted_args = [is_tainted(a) for a in args] if summ.hits or summ.iccs else []

        def adds_nothing(needs: frozenset[int] | None) -> bool:
            """None of the parameters the summary value needs carries anything sensitive here."""
            return needs is not None and not any(i < len(tainted_args) and tainted_args[i] for i in needs)

        for hit, needs, recv_fields in summ.hits_by_need:
            if adds_nothing(needs) and not any(
                    i < len(args) and self._object_field_known(st, args[i], key) for i, key in recv_fields):
                continue  # what the caller passes there is nothing sensitive, nor a stream it knows better
            data = sub.apply(hit.data)
            if not is_tainted(data):
                continue  # what the caller passes there is nothing sensitive
            self.res.hits.add(SinkHit(hit.kind, hit.api, cap(data), None if hit.recv is None else cap(sub.apply(hit.recv)),
                                      hit.tag, cap(sub.apply(hit.endpoints)), (where, *hit.path)[:MAX_PATH]))
        for key, val in summ.writes:
            self._write_field(key, sub.apply(val))
        for i in sorted(summ.param_cells):
            if i < len(args):
                self._write_field(param_cell(t.sig, i), args[i])
        for key, i in summ.info_params:
            if i < len(args):
                self.e.record_field_info(key, args[i])
        for icc, needs in summ.iccs_by_need:
            if adds_nothing(needs):
                continue
            intent = sub.apply(icc.intent)
            if is_tainted(intent):
                self.res.iccs.add(IccSend(icc.api, cap(intent), (where, *icc.path)[:MAX_PATH], icc.always_external,
                                          icc.internal_only))
        if summ.thrown:
            self._throw(sub.apply(summ.thrown))
        for key, val in summ.fld_out:
            # the callee always sets this field before returning: what we held locally is overwritten
            set_local_field(st, key, frozenset(lab for lab in sub.apply(val) if lab[0] not in IDENTITY))
        return sub.apply(summ.ret)
