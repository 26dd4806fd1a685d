"""Streams, files and serialisation: object tags (network/file streams: `tags` in models.yml), transformations
(`transforms`), argument-to-argument copies (System.arraycopy ...), files as stores (what one method writes to
a named file another reads back), and serialisers that read every field of an app object."""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.values import EMPTY, NOT_PROPAGATED, Cell, Label, Scheme, StreamTag

_WRITTEN = frozenset(("S", "G", "P", "X", "FR", "GK", "PK"))


def tags_or_transforms(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    if api.named(cat.tags) or api.api_sig in cat.tags or api.named(cat.transforms):
        return True
    return api.name in fam.tls_socket_factories and any(m in api.lib for m in fam.tls_class_markers)


def tags_and_transforms(call: LibraryCall) -> frozenset[Label] | None:
    cat = call.cat
    fam = cat.families
    for key in [*call.keys, call.api_sig]:
        tag = cat.tags.get(key)
        if tag is not None:
            if tag[1] == "result":
                call.tagged = frozenset({StreamTag(tag[0])})
            elif call.arg_regs[0] is not None:
                call.it._mutate(call.st, call.arg_regs[0], frozenset({StreamTag(tag[0])}))
    call.xform = next((x for key in call.keys if (x := cat.transforms.get(key))), None)
    if call.name in fam.tls_socket_factories and any(m in call.lib for m in fam.tls_class_markers):
        call.tagged = call.tagged | {Scheme("tls")}
    return None


def copies_arguments(api: Api, cat: Catalogue) -> bool:
    return api.named(cat.copies)


def copy_between_arguments(call: LibraryCall) -> frozenset[Label] | None:
    """System.arraycopy(src, i, dst, j, n) and friends copy into an argument."""
    for key in call.keys:
        copy = call.cat.copies.get(key)
        if copy is not None:
            src, dst = copy
            reg = call.arg_regs[dst] if dst < len(call.arg_regs) else None
            if reg is not None:
                call.it._mutate(call.st, reg, frozenset(lab for lab in call.args[src] if lab[0] not in NOT_PROPAGATED))
                return EMPTY
    return None


def file_related(api: Api, cat: Catalogue) -> bool:
    fam = cat.families
    if not api.static and api.name.startswith(tuple(fam.file_writes)):
        return True
    return (api.name == "<init>" and api.lib in fam.file_readers) or api.named(cat.file_openers)


def files(call: LibraryCall) -> frozenset[Label] | None:
    """Writes to a file stream fill the cell ("file", name); opening the named file for reading reads it."""
    fam = call.cat.families
    it = call.it
    name = call.name
    args = call.args
    if not call.static and name.startswith(tuple(fam.file_writes)) and StreamTag("filestream") in args[0]:
        written = frozenset(lab for a in args[1:] for lab in a if lab[0] in _WRITTEN)
        if written:
            for fname in file_names(args[0]):
                it._write_field(("file", fname), written)
    if (name == "<init>" and call.lib in fam.file_readers) or call.matches(call.cat.file_openers):
        cells = frozenset(Cell(("file", f)) for a in args[1:] for f in file_names(a))
        if cells:
            reg = call.arg_regs[0]
            if name == "<init>" and reg is not None:
                it._mutate(call.st, reg, cells)
                return EMPTY
            return cells
    return None


def serialises(api: Api, cat: Catalogue) -> bool:
    return api.named(cat.serializers)


def serialise(call: LibraryCall) -> frozenset[Label] | None:
    """Gson.toJson(obj), ObjectOutputStream.writeObject(obj) ... read every field of the app object."""
    if call.matches(call.cat.serializers) and len(call.args) > 1:
        args = list(call.args)
        for k in range(1, len(args)):
            args[k] = args[k] | call.it._object_fields(call.st, args[k])
        call.args = args
    return None


def file_names(value: Iterable[Label]) -> list[str]:
    """File names among the constants of a value (the last path segment: where the app keeps the file)."""
    out = []
    for lab in value:
        if lab[0] == "C" and isinstance(lab[1], str) and lab[1] and " " not in lab[1] and "://" not in lab[1]:
            base = lab[1].rstrip("/").rsplit("/", 1)[-1]
            if "." in base or "/" in lab[1]:
                out.append(base)
    return sorted(set(out))
