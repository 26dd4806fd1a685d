"""Reference comparison: pair each store APK with the reference APK of the same package and say what differs.

Classes come from the DEX class_defs tables (toolkit.analysis.dex.read_dex_tables), read with plain zipfile: no second
androguard pass. Flows are matched on (source kind, sink kind, source method, sink method), so the same leak in
both copies is not reported as new even when its id differs.
"""

from __future__ import annotations

import logging
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.analysis.dex import DexFormatError, read_dex_tables
from toolkit.models import ApkReport, Component, Flow
from toolkit.models.store import CodeAddition, ComponentChange, FlowChange, ReferenceDiff
from toolkit.store.data import TrackerSignature
from toolkit.store.trackers import match_signature

log = logging.getLogger(__name__)

BOOT_ACTIONS = frozenset({
    "android.intent.action.BOOT_COMPLETED", "android.intent.action.LOCKED_BOOT_COMPLETED",
    "android.intent.action.QUICKBOOT_POWERON", "com.htc.intent.action.QUICKBOOT_POWERON",
    "android.intent.action.REBOOT",
})
GROUP_DEPTH = 3  # added classes are grouped by their first three package labels (com.vendor.analytics)
EXAMPLES = 5


@dataclass
class ClassList:
    """Classes defined in an APK's DEX files (dotted names) and what could not be read."""

    classes: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def read_class_list(path: str | Path) -> ClassList:
    """Dotted names of every class defined in the APK's classes*.dex; unreadable DEX files are listed, not fatal."""
    result = ClassList()
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.startswith("classes") and n.endswith(".dex") and "/" not in n]
            for name in sorted(names):
                try:
                    tables = read_dex_tables(zf.read(name))
                except (DexFormatError, zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
                    result.problems.append(f"{name}: {exc}")
                    continue
                for descriptor in tables.class_defs:
                    if descriptor.startswith("L") and descriptor.endswith(";"):
                        result.classes.add(descriptor[1:-1].replace("/", "."))
    except (zipfile.BadZipFile, OSError) as exc:
        result.problems.append(f"cannot open as zip: {exc}")
    return result


def _version(report: ApkReport) -> str | None:
    if report.metadata is None:
        return None
    name, code = report.metadata.version_name, report.metadata.version_code
    if name and code:
        return f"{name} ({code})"
    return name or code


def _flow_key(flow: Flow) -> tuple[str, str, str, str]:
    return (flow.source.kind, flow.sink.kind, flow.source.location.qualified_method, flow.sink.location.qualified_method)


def _package_of(class_name: str) -> str:
    outer = class_name.split("$", 1)[0]
    return outer.rsplit(".", 1)[0] if "." in outer else ""


def _common_package(packages: list[str]) -> str:
    parts = [p.split(".") for p in packages]
    common: list[str] = []
    for labels in zip(*parts, strict=False):
        if all(label == labels[0] for label in labels):
            common.append(labels[0])
        else:
            break
    return ".".join(common)


def summarise_added_code(added: set[str], signatures: Sequence[TrackerSignature]) -> list[CodeAddition]:
    """Group added classes by package (first three labels) and name each group as an SDK when recognised."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in added:
        package = _package_of(name)
        key = ".".join(package.split(".")[:GROUP_DEPTH]) if package else "(default package)"
        groups[key].append(name)
    out: list[CodeAddition] = []
    for key in sorted(groups):
        classes = sorted(groups[key])
        packages = sorted({_package_of(c) for c in classes})
        common = _common_package(packages) if key != "(default package)" else key
        sdk: TrackerSignature | None = None
        best = 0
        for signature in signatures:
            hits = len(match_signature(signature, classes))
            if hits > best:
                sdk, best = signature, hits
        out.append(
            CodeAddition(
                package=common or key, classes=len(classes), examples=classes[:EXAMPLES],
                sdk=sdk.name if sdk else None, tracker_id=sdk.id if sdk else None,
            )
        )
    return out


def _component_change(component: Component) -> ComponentChange:
    return ComponentChange(kind=component.kind, name=component.name, exported=component.exported,
                           actions=component.actions)


def diff_reports(
    store: ApkReport,
    reference: ApkReport,
    store_classes: ClassList,
    reference_classes: ClassList,
    signatures: Sequence[TrackerSignature] = (),
) -> ReferenceDiff:
    """What the store copy has that the reference APK of the same package has not."""
    sm, rm = store.metadata, reference.metadata
    package = (sm.package if sm else None) or store.package or ""
    diff = ReferenceDiff(
        package=package, store_apk=store.path, store_sha256=store.sha256, reference_apk=reference.path,
        reference_sha256=reference.sha256, identical=bool(store.sha256 and store.sha256 == reference.sha256),
        same_signer=False, store_version=_version(store), reference_version=_version(reference),
    )
    if sm is None or rm is None:
        diff.problems.append(
            f"{'store copy' if sm is None else 'reference'} not readable: {(store if sm is None else reference).reason}"
        )
        return diff
    diff.store_signers = sorted(c.sha256 for c in sm.certificates)
    diff.reference_signers = sorted(c.sha256 for c in rm.certificates)
    diff.same_signer = bool(diff.store_signers) and set(diff.store_signers) == set(diff.reference_signers)
    diff.permissions_added = sorted(set(sm.permissions) - set(rm.permissions))
    diff.permissions_removed = sorted(set(rm.permissions) - set(sm.permissions))
    reference_components = {c.name for c in rm.components}
    added_components = [c for c in sm.components if c.name not in reference_components]
    diff.components_added = [_component_change(c) for c in added_components]
    diff.boot_triggers_added = sorted(c.name for c in added_components if BOOT_ACTIONS & set(c.actions))
    for problem in store_classes.problems:
        diff.problems.append(f"store copy: {problem}")
    for problem in reference_classes.problems:
        diff.problems.append(f"reference: {problem}")
    added = store_classes.classes - reference_classes.classes
    diff.classes_added = len(added)
    diff.classes_removed = len(reference_classes.classes - store_classes.classes)
    diff.code_added = summarise_added_code(added, signatures)
    reference_endpoints = {(e.kind, e.value) for e in reference.endpoints}
    diff.endpoints_added = [e for e in store.endpoints if (e.kind, e.value) not in reference_endpoints]
    reference_flows = {_flow_key(f) for f in reference.flows}
    for flow in store.flows:
        if _flow_key(flow) in reference_flows:
            continue
        diff.flows_added.append(
            FlowChange(
                flow_id=flow.id, source=flow.source.kind, sink=flow.sink.kind,
                source_method=flow.source.location.qualified_method, sink_method=flow.sink.location.qualified_method,
                endpoints=[e.value for e in flow.endpoints], triggers=[t.kind for t in flow.triggers],
            )
        )
    if store.status.value != "analysed" or reference.status.value != "analysed":
        diff.problems.append("flows compared on partial analyses: a flow missing on one side may be a time-out")
    return diff


def pair_with_references(
    store: Sequence[ApkReport], references: Sequence[ApkReport]
) -> tuple[list[tuple[ApkReport, ApkReport]], list[ApkReport], list[ApkReport]]:
    """Pair each store APK with the reference of the same package (same version code preferred).

    Returns (pairs, store APKs without a reference, references nobody matched)."""
    by_package: dict[str, list[ApkReport]] = defaultdict(list)
    for ref in references:
        if ref.metadata:
            by_package[ref.metadata.package].append(ref)
    used: set[int] = set()
    pairs: list[tuple[ApkReport, ApkReport]] = []
    alone: list[ApkReport] = []
    for item in store:
        candidates = by_package.get(item.metadata.package, []) if item.metadata else []
        if not candidates:
            alone.append(item)
            continue
        code = item.metadata.version_code if item.metadata else None
        same_version = [c for c in candidates if c.metadata and c.metadata.version_code == code]
        chosen = (same_version or candidates)[0]
        used.add(id(chosen))
        pairs.append((item, chosen))
    unused = [r for r in references if id(r) not in used]
    return pairs, alone, unused
