"""Containers: key-value containers (Bundle, Intent extras, Map, JSONObject: values kept per constant key),
lists created in the method (positions tracked), arrays allocated by a call (Array.newInstance), and
SharedPreferences (a key-value store that outlives the component: written in one run, read in another)."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.summary import read_at_key
from toolkit.analysis.dataflow.values import (
    EMPTY,
    IDENTITY,
    NOT_PROPAGATED,
    Cell,
    Const,
    Keyed,
    Label,
    LibObject,
    SmallInt,
    Transform,
    cap,
    is_tainted,
)

# what a key-value container keeps of a stored value (its data, constants and app objects)
_KEPT = frozenset(("S", "P", "G", "X", "C", "O", "KV", "GK", "PK", "FR"))
_DATA_URI = "<data>"  # the pseudo-key of an Intent's data URI
_ALL_KEYS = "<all>"  # the preferences cell holding every value written to a file (read by getAll())


def keyed_container(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    if api.static:
        return False
    intent_data = cat.components.intent_type in api.cands and api.name in (*fam.intent_data_setters, *fam.intent_data_getters)
    return intent_data or any(c in cat.keyed_classes for c in api.cands)


def keyed(call: LibraryCall) -> frozenset[Label] | None:
    """put(key, value) / get(key) on a key-value container, with the key a constant."""
    cat = call.cat
    fam = cat.families
    it = call.it
    st = call.st
    name = call.name
    args = call.args
    regs = call.arg_regs
    if not call.static and cat.components.intent_type in call.cands and name in (*fam.intent_data_setters, *fam.intent_data_getters):
        if name in fam.intent_data_setters and len(args) > 1 and regs[0] is not None:
            it._mutate(st, regs[0], frozenset(Keyed(_DATA_URI, lab) for lab in args[1]
                                              if lab[0] in ("S", "P", "G", "X", "C", "GK", "PK", "FR")))
            return st.get(regs[0], EMPTY)
        if name in fam.intent_data_getters:
            args = [args[0], frozenset({Const(_DATA_URI)})]
            name = "get"
    if call.static or len(args) < 2 or not any(c in cat.keyed_classes for c in call.cands):
        return None
    keys = [lab[1] for lab in args[1] if lab[0] == "C"]
    recv = args[0]
    if len(keys) != 1:
        if name.startswith(cat.keyed_get) and len(args) == 2 and not any(lab[0] == "C" for lab in args[1]):
            # map.get(someValue): the result is one of the stored values, not the lookup key
            return cap(frozenset(lab[2] if lab[0] == "KV" else lab for lab in recv if lab[0] not in NOT_PROPAGATED))
        return None
    key = keys[0]
    if name.startswith(cat.keyed_put) and len(args) >= 3 and regs[0] is not None:
        value = args[2]
        xform = next((cat.transforms[f"{c}->{name}"] for c in call.cands if f"{c}->{name}" in cat.transforms), None)
        added: set[Label] = {Keyed(key, lab) for lab in value if lab[0] in _KEPT}
        if xform and is_tainted(value):
            added.add(Transform(xform))
        if added:
            it._mutate(st, regs[0], frozenset(added))
        return st.get(regs[0], EMPTY)
    if name.startswith(cat.keyed_get) and len(args) in (2, 3):
        out = read_at_key(recv, key)
        if len(args) == 3:
            out.update(lab for lab in args[2] if lab[0] == "C")  # default value
        if name.startswith(tuple(fam.object_extras)):
            out.add(Transform("intent_extra"))  # an object that travelled in an Intent/Bundle
        return cap(frozenset(out))
    return None


def allocates_array(api: Api, cat: Catalogue) -> bool:
    return api.named(cat.families.array_factories)


def array_factory(call: LibraryCall) -> frozenset[Label] | None:
    """Array.newInstance(type, dims...): a new array of this method, allocated at the call (dx makes it of every
    `new T[n][m]`, so it is an array of arrays when given several dimensions)."""
    if not any(k in call.cat.families.array_factories for k in call.keys):
        return None
    site = call.where[3]
    if call.proto.endswith("[I)Ljava/lang/Object;"):
        call.it.nested_arrays.add(site)
    return frozenset({LibObject(site)})


def list_operation(api: Api, cat: Catalogue) -> bool:
    return not api.static and api.lib in cat.families.lists


def positional_list(call: LibraryCall) -> frozenset[Label] | None:
    """ArrayList/LinkedList add(x)/get(i) on a list created in this method: positions are tracked."""
    if call.static or call.lib not in call.cat.families.lists:
        return None
    st = call.st
    args = call.args
    name = call.name
    sites = [lab[1] for lab in args[0] if lab[0] == "L"]
    if len(sites) != 1:
        return None
    site = sites[0]
    size_key = ("lsize", site)
    if name == "<init>" and len(args) == 1:
        st[size_key] = frozenset({SmallInt(0)})
        return None  # the default <init> handling follows
    known = [lab[1] for lab in st.get(size_key) or () if lab[0] == "I"]
    if name == "add" and len(args) == 2:
        if len(known) == 1:
            stored = frozenset(lab for lab in args[1] if lab[0] not in IDENTITY)
            st[("lidx", site, known[0])] = stored | {Transform("collection")} if is_tainted(stored) else stored
            st[size_key] = frozenset({SmallInt(known[0] + 1)})
        else:
            st[size_key] = frozenset({SmallInt(-1)})
        return None  # the default mutation still records the element in the list as a whole
    if name == "get" and len(args) == 2 and len(known) == 1 and known[0] >= 0:
        slot = call.it._slot(args[0], args[1], "lidx")
        if slot is not None and slot in st:
            return st[slot]
    if name not in ("add", "get", "size", "isEmpty", "contains", "indexOf"):
        st[size_key] = frozenset({SmallInt(-1), SmallInt(-2)})  # any other change: positions unknown
    return None


def preferences_operation(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    return api.lib in fam.preference_editors or api.lib in fam.preferences


def preferences(call: LibraryCall) -> frozenset[Label] | None:
    """Editor.putX(key, v) writes the cell prefs:<file>:<key>; SharedPreferences.getX(key) reads it (the file is
    the constant given to getSharedPreferences, carried by the objects; '*' when unknown)."""
    fam = call.cat.families
    args = call.args
    name = call.name
    if call.lib in fam.preference_editors and name.startswith("put") and len(args) > 2:
        files = [lab[1] for lab in args[0] if lab[0] == "C"]
        pfile = files[0] if len(files) == 1 else "*"
        for k in [lab[1] for lab in args[1] if lab[0] == "C"] or ["*"]:
            call.it._write_field(("prefs", f"{pfile}:{k}"), args[2])
        call.it._write_field(("prefs", f"{pfile}:{_ALL_KEYS}"), args[2])  # what getAll() of this file returns
        if pfile != "*":
            call.it._write_field(("prefs", f"*:{_ALL_KEYS}"), args[2])
        return None
    if call.lib in fam.preferences and name in fam.preference_all and len(args) == 1:
        files = [lab[1] for lab in args[0] if lab[0] == "C"]
        pfiles = [files[0]] if len(files) == 1 else ["*"]
        return frozenset(Cell(("prefs", f"{f}:{_ALL_KEYS}")) for f in pfiles)
    if call.lib in fam.preferences and name.startswith("get") and len(args) > 1:
        files = [lab[1] for lab in args[0] if lab[0] == "C"]
        pfiles = [files[0], "*"] if len(files) == 1 else sorted({*files, "*"})
        keys = [lab[1] for lab in args[1] if lab[0] == "C"]
        vals = frozenset(Cell(("prefs", f"{f}:{k}")) for f in pfiles for k in [*keys, "*"])
        if len(files) != 1:
            vals = vals | frozenset(Cell(("prefs", f"*:{k}")) for k in keys)
        if len(args) > 2:
            return vals | frozenset(lab for lab in args[2] if lab[0] == "C")  # the default value
        return vals
    return None


