"""Sources: calls that read a sensitive value (sources.yml), including content-provider queries of a
sensitive URI."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.values import Label


def reads_source(api: Api, cat: Catalogue) -> bool:
    return api.named(cat.source_apis) or api.named(cat.provider_queries)


def read_source(call: LibraryCall) -> frozenset[Label] | None:
    """A new Source label for this call site (one occurrence per source kind and place)."""
    cat = call.cat
    occ = call.it.e.occ
    for key in call.keys:
        src = cat.source_apis.get(key)
        if src is not None:
            cond = src.when_arg_const
            if cond is not None:
                values = {lab[1] for lab in call.arg(cond.arg) if lab[0] == "C"}
                if not values & set(cond.values):
                    return None  # e.g. Settings.Secure.getString of a key that is not ANDROID_ID
            return frozenset({occ(src.kind, call.api_sig, call.where)})
        uri_arg = cat.provider_queries.get(key)
        if uri_arg is not None:
            kinds = {lab[1] for lab in call.arg(uri_arg) if lab[0] == "U"}
            for lab in call.arg(uri_arg):
                if lab[0] == "C" and isinstance(lab[1], str):
                    pk = cat.provider_kind(lab[1])
                    if pk:
                        kinds.add(pk)
            if kinds:
                return frozenset(occ(k, call.api_sig, call.where) for k in sorted(kinds))
    return None
