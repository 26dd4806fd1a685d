"""Sinks: calls that send a value away (network, SMS, log, file ...: sinks.yml), and Intents handed to the
framework (ICC), which leave the app unless they target its own components (decided when flows are built)."""

from __future__ import annotations

from toolkit.analysis.catalogue import Catalogue, SinkSpec
from toolkit.analysis.dataflow.semantics import Api, LibraryCall
from toolkit.analysis.dataflow.summary import IccSend, SinkHit
from toolkit.analysis.dataflow.values import EMPTY, ENDPOINT_PARTS, IDENTITY, Label, StreamTag, cap, is_tainted


def sink_or_icc(api: Api, cat: Catalogue) -> bool:
    named = any(s.receiver_tag for s in cat.sink_names.get(api.name, ()))
    return api.named(cat.sink_apis) or api.named(cat.icc) or (named and not api.static and api.lib not in cat.families.not_streams)


def sink_and_icc(call: LibraryCall) -> frozenset[Label] | None:
    """Record a SinkHit per sink spec the call matches, and an IccSend for intents; never ends the call."""
    cat = call.cat
    for key in call.keys:
        for spec in cat.sink_apis.get(key, ()):
            _hit(call, spec)
    for spec in cat.sink_names.get(call.name, ()):
        if spec.receiver_tag and not call.static and call.lib not in cat.families.not_streams:
            _hit(call, spec)
    for key in call.keys:
        icc = cat.icc.get(key)
        if icc is not None:
            intent = call.arg(icc.intent)
            call.it.res.iccs.add(IccSend(call.api_sig, cap(frozenset(lab for lab in intent if lab[0] not in IDENTITY)),
                                         (call.where,), icc.always_external, icc.internal))
            call.it.res.edges.add((f"icc:{key}", "icc", call.where[3]))
            break
    return None


def _hit(call: LibraryCall, spec: SinkSpec) -> None:
    data_refs = spec.data if spec.data is not None else list(range(1, 8))
    data: frozenset[Label] = EMPTY
    for ref in data_refs:
        data |= call.arg(ref)
    data = frozenset(lab for lab in data if lab[0] not in IDENTITY)
    recv = None
    if spec.receiver_tag:
        # write() on any stream is a sink only for a stream of the right kind (or one that may be: symbolic)
        recv = frozenset(lab for lab in call.arg("this") if lab[0] not in IDENTITY)
        if StreamTag(spec.receiver_tag) not in recv and not any(lab[0] in ("P", "G") for lab in recv):
            return
    if not is_tainted(data):
        return
    ends: frozenset[Label] = EMPTY
    for ref in spec.endpoint:
        ends |= frozenset(lab for lab in call.arg(ref) if lab[0] in ENDPOINT_PARTS)
    call.it.res.hits.add(SinkHit(spec.kind, call.api_sig, cap(data), recv, spec.receiver_tag, cap(ends), (call.where,)))
