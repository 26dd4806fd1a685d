"""Tracker/SDK detection from class-name and host signatures (apk_rules/trackers/), offline.

Presence is not use: a hit says the SDK's classes (or hosts) are in the APK; `on_leak_flow` says whether the
source, sink or a method on the call path of one of the APK's leak flows runs in the SDK's code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from toolkit.models import ApkReport, Flow
from toolkit.models.store import TrackerHit
from toolkit.store.data import TrackerSignature

EXAMPLES = 5


def prefix_matches(class_name: str, prefix: str) -> bool:
    """`prefix` is the class itself or a package/outer class of it."""
    return class_name == prefix or class_name.startswith((prefix + ".", prefix + "$"))


def host_matches(host: str, pattern: str) -> bool:
    host = host.lower().rstrip(".")
    return host == pattern or host.endswith("." + pattern)


def descriptor_class(api: str) -> str | None:
    """'Lokhttp3/Call;->execute()...' -> 'okhttp3.Call'."""
    if not api.startswith("L") or ";" not in api:
        return None
    return api[1 : api.index(";")].replace("/", ".")


def flow_classes(flow: Flow) -> set[str]:
    """Classes whose code the flow runs through: source and sink call sites, the path, and the two APIs."""
    names = {flow.source.location.class_name, flow.sink.location.class_name}
    names |= {loc.class_name for loc in flow.path}
    for api in (flow.source.api, flow.sink.api):
        owner = descriptor_class(api)
        if owner:
            names.add(owner)
    return names


def match_signature(signature: TrackerSignature, classes: Iterable[str]) -> list[str]:
    return sorted(c for c in classes if any(prefix_matches(c, p) for p in signature.code))


def detect_trackers(
    report: ApkReport, classes: set[str], signatures: Sequence[TrackerSignature]
) -> list[TrackerHit]:
    """Every signature whose classes or hosts appear in the APK, with the leak flows that run in its code."""
    hosts = {e.host.lower() for e in report.endpoints if e.host}
    hits: list[TrackerHit] = []
    for signature in signatures:
        matched = match_signature(signature, classes)
        matched_hosts = sorted(h for h in hosts if any(host_matches(h, p) for p in signature.hosts))
        if not matched and not matched_hosts:
            continue
        flow_ids = [
            f.id for f in report.flows
            if any(prefix_matches(c, p) for c in flow_classes(f) for p in signature.code)
            or any(e.host and any(host_matches(e.host, p) for p in signature.hosts) for e in f.endpoints)
        ]
        hits.append(
            TrackerHit(
                tracker_id=signature.id, name=signature.name, categories=list(signature.categories),
                package=report.package, apk_path=report.path, matched_classes=len(matched),
                class_examples=matched[:EXAMPLES], matched_hosts=matched_hosts,
                on_leak_flow=bool(flow_ids), flow_ids=flow_ids,
            )
        )
    return hits
