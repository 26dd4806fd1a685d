"""Strings: constants built by concatenation (endpoints are often BASE + "/path"; reflection targets are often
"get" + "DeviceId"), reversed or cut with substring; StringBuilder.setLength(0); toString() of app objects
appended to text; resource strings (getString(R.string.x))."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.values import (
    EMPTY,
    IDENTITY,
    NOT_PROPAGATED,
    ConcatParam,
    Const,
    Label,
    NotConstant,
    Transform,
    cap,
    int_label,
    is_tainted,
)

_OPEN = NotConstant()
_NUMBER_TYPES = ("I", "J", "S", "B", "C")
MAX_FOLDED = 16  # possible constant texts of one builder before it counts as "not a constant"  # Dalvik descriptors of integral parameters (C: a char)


def clears_builder(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    return api.lib in fam.string_builders and api.name in fam.builder_clear


def clear_builder(call: LibraryCall) -> frozenset[Label] | None:
    """sb.setLength(0): the builder is empty again (what it held is gone)."""
    fam = call.cat.families
    reg = call.arg_regs[0]
    if call.lib not in fam.string_builders or call.name not in fam.builder_clear or reg is None:
        return None
    if len(call.args) < 2 or ("I", 0) not in call.args[1]:
        return None
    st = call.st
    old_value = call.args[0]
    cleared = frozenset(lab for lab in old_value if lab[0] in IDENTITY)
    for r, v in list(st.items()):
        if v is old_value:
            st[r] = cleared
    st[reg] = cleared
    return EMPTY


def reads_resource(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    return api.name in fam.resource_getters and api.lib in fam.resource_holders


def resource_string(call: LibraryCall) -> frozenset[Label] | None:
    """getString(R.string.x): the default value from resources.arsc, as a constant."""
    fam = call.cat.families
    if call.name not in fam.resource_getters or call.lib not in fam.resource_holders or len(call.args) < 2:
        return None
    texts = [call.it.e.resource_strings.get(int(lab[1])) for lab in call.args[1] if lab[0] == "N"]
    found = frozenset(Const(t) for t in texts if t)
    return found or None


def calls_to_string(api: Api, cat: Catalogue) -> bool:
    return api.name in cat.families.to_string_calls


def to_string(call: LibraryCall) -> frozenset[Label] | None:
    """"x " + obj calls obj.toString() (StringBuilder.append(Object), String.valueOf(Object), print(Object))."""
    fam = call.cat.families
    if call.name not in fam.to_string_calls or len(call.args) < 2:
        return None
    it = call.it
    args = list(call.args)
    for k in range(1, len(args)):
        extra: frozenset[Label] = EMPTY
        # objects in sorted order: each call changes the state the next one sees (not the set's order)
        for desc in sorted({lab[1] for lab in args[k] if lab[0] == "O"}):
            if it.p.is_app(desc):
                ts_m, _lib = it.p.resolve(desc, fam.to_string)
                if ts_m is not None and ts_m.code_off:
                    reg = call.arg_regs[k] if k < len(call.arg_regs) else None
                    extra |= it._call_app(ts_m, [args[k]], [reg], call.st, call.where, "call")
        if extra:
            args[k] = args[k] | extra
    call.args = args
    return None


def constant_operation(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    if api.lib in fam.string_builders and api.name in fam.builder_reverse:
        return True
    return api.lib == fam.string_class and (api.name in fam.string_substring or api.name in fam.string_length)


def constant_operations(call: LibraryCall) -> frozenset[Label] | None:
    """StringBuilder.reverse() and String.substring(i[, j]) of complete constants give constants (reflection
    targets are hidden this way: "dIebircsbuSteg" reversed, "xq7getSimSerialNumberZ" cut), and the length() of
    one constant is a number (for bounds computed from it)."""
    fam = call.cat.families
    base = call.args[0] if not call.static else EMPTY
    consts = [lab[1] for lab in base if lab[0] == "C" and isinstance(lab[1], str)]
    if not consts or _OPEN in base or is_tainted(base):
        return None
    if call.lib in fam.string_builders and call.name in fam.builder_reverse:
        value = frozenset(lab for lab in base if lab[0] != "C") | frozenset(Const(c[::-1]) for c in consts)
        reg = call.arg_regs[0]
        if reg is not None:
            old = call.st.get(reg, EMPTY)
            for r, v in list(call.st.items()):
                if v is old:
                    call.st[r] = value
            call.st[reg] = value
        return value
    if call.lib == fam.string_class and call.name in fam.string_length and len(consts) == 1 and len(base) == 1:
        return frozenset({int_label(len(consts[0]))})
    if call.lib == fam.string_class and call.name in fam.string_substring:
        bounds = []
        for a in call.args[1:]:
            ints = [lab[1] for lab in a if lab[0] in ("I", "N")]
            if len(ints) != 1 or len(a) != 1:
                return None
            bounds.append(int(ints[0]))
        if len(bounds) in (1, 2):
            return frozenset(Const(c[slice(*bounds)] if len(bounds) == 2 else c[bounds[0]:]) for c in consts)
    return None


def folds_constants(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    return ((api.lib in fam.string_builders and api.name in fam.builder_append)
            or (api.lib == fam.string_class and api.name in fam.string_concat))


def fold_constants(call: LibraryCall) -> frozenset[Label] | None:
    """append/<init> of a StringBuilder and String.concat: constants combine into constants; anything else
    makes the result 'not constant' (its constants are then prefixes)."""
    fam = call.cat.families
    lib = call.lib
    name = call.name
    if not ((lib in fam.string_builders and name in fam.builder_append) or (lib == fam.string_class and name in fam.string_concat)):
        return None
    args = call.args
    base = EMPTY if name == "<init>" else args[0]
    arg = args[1] if len(args) > 1 else EMPTY
    # constants in sorted order: the combinations kept below (first 8, first 4 prefixes) must not follow the
    # order a set of labels iterates in (hash seeds)
    arg_consts = sorted(lab[1] for lab in arg if lab[0] == "C")
    params = call.proto[1 : call.proto.index(")")]
    if not arg_consts and params in _NUMBER_TYPES and len(arg) == 1 and next(iter(arg))[0] in ("I", "N"):
        number = next(iter(arg))[1]  # "get" + "Line" + 1 + "Number": a constant int appended is text too
        arg_consts = [chr(number) if params == "C" and 0 <= number < 0x110000 else str(number)]
        arg = frozenset({Const(arg_consts[0])})
    base_consts = sorted(lab[1] for lab in base if lab[0] == "C")
    arg_rest = frozenset(lab for lab in arg if lab[0] != "C" and lab[0] not in NOT_PROPAGATED)
    constant_arg = bool(arg_consts) and not is_tainted(arg)
    if name == "<init>":
        consts = arg_consts if constant_arg else []
        opened = not constant_arg and bool(arg)
    elif _OPEN in base or not constant_arg:
        consts = base_consts
        opened = True
        if _OPEN not in base and base_consts:
            # BASE + parameter: the constant completes at the call site (see Substitution)
            pidx = sorted({lab[1] for lab in arg if lab[0] == "P"})
            if pidx and not any(lab[0] in ("S", "G", "FR", "GK", "KV") for lab in arg):
                arg_rest = arg_rest | frozenset(ConcatParam(b, i) for b in base_consts[:4] for i in pidx[:2])
    elif base_consts:
        consts = [b + a for b in base_consts for a in arg_consts][:8]
        opened = False
    else:
        consts = arg_consts
        opened = False
    if len(base_consts) > MAX_FOLDED:
        # a builder appended to in a loop or after a switch: its possible texts multiply each round, and such text
        # is no endpoint; it is "not a constant" from here on (widening, so the loop's fixpoint settles)
        consts, opened = [], True
    rest = frozenset(lab for lab in base if lab[0] != "C") | arg_rest
    if call.xform and is_tainted(arg_rest):
        rest = rest | {Transform(call.xform)}
    value = cap(rest | frozenset(Const(c) for c in consts) | ({_OPEN} if opened else set()))
    if lib == fam.string_class:
        return value
    reg = call.arg_regs[0]
    if reg is None:
        return value
    st = call.st
    it = call.it
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
                it.mut[lab[1]] = cap(it.mut.get(lab[1], EMPTY) | added)
            elif lab[0] == "F":
                it._write_field(lab[1], added)
    return value if name != "<init>" else EMPTY
