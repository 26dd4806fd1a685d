"""`store check`: is each app genuine, what was added to it, which SDKs it carries, and where it talks to.

Inputs: APK files/folders (a store's download folder, a firmware's extracted apps) or an evidence folder from a
phone acquisition (detected by its acquisition.json). Every APK goes through the normal analysis pipeline
(metadata, flows, endpoints); then the store checks run on the reports: signer checks (findings on each APK),
reference comparison (--reference), tracker/SDK detection and endpoint-to-flow linking.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from toolkit.acquisition.evidence import MANIFEST, EvidenceError
from toolkit.acquisition.files import collect_apk_inputs
from toolkit.analysis import rule_infos
from toolkit.analysis.geo import annotate_endpoints, database_info
from toolkit.correlate import add_device_findings
from toolkit.models import ApkInput, ApkReport, Endpoint, Flow, InputError, Provenance, RuleInfo, ScanResult, Target
from toolkit.models.acquisition import AcquisitionManifest
from toolkit.models.common import PhModel
from toolkit.models.device import DeviceIdentity, DeviceInventory
from toolkit.models.store import AppEndpoints, EndpointUse, ReferenceDiff, StoreCheckResult
from toolkit.pipeline import ProgressCallback, ScanOptions, analyse_inputs, build_result
from toolkit.store.data import load_check_rules, load_pins, load_test_keys, load_trackers
from toolkit.store.findings import add_finding, make_finding
from toolkit.store.reference import ClassList, diff_reports, pair_with_references, read_class_list
from toolkit.store.signers import NOTHING_TO_COMPARE, check_signers, find_platform_key
from toolkit.store.trackers import detect_trackers

log = logging.getLogger(__name__)


class StoreCheckOptions(PhModel):
    """Options of `store check`."""

    references: list[Path] = Field(default_factory=list, description="Reference APK files/folders (--reference)")
    pin_files: list[Path] = Field(default_factory=list, description="Extra signer pin files (--pins)")
    tracker_files: list[Path] = Field(default_factory=list, description="Extra tracker signature files (--trackers)")
    builtin_pins: bool = True
    scan: ScanOptions = Field(default_factory=ScanOptions)


class StoreInputs(PhModel):
    inputs: list[ApkInput]
    errors: list[InputError]
    kind: str = "store"
    identity: DeviceIdentity | None = None
    inventory: DeviceInventory | None = Field(None, description="Parsed inventory of an evidence folder")
    acquisition: AcquisitionManifest | None = Field(None, description="Manifest of an evidence folder")


def collect_store_inputs(paths: Sequence[Path]) -> StoreInputs:
    """APK inputs from files/folders; a folder holding acquisition.json is read as an evidence folder."""
    inputs: list[ApkInput] = []
    errors: list[InputError] = []
    identity: DeviceIdentity | None = None
    inventory: DeviceInventory | None = None
    acquisition: AcquisitionManifest | None = None
    kind = "store"
    plain: list[Path] = []
    for path in paths:
        if path.is_dir() and (path / MANIFEST).is_file():
            from toolkit.acquisition.device import evidence_inputs  # heavy (adb); only for evidence folders

            try:
                loaded = evidence_inputs(path)
            except EvidenceError as exc:
                errors.append(InputError(path=str(path), reason=str(exc)))
                continue
            kind = "evidence"
            identity = loaded.manifest.device
            inventory = loaded.inventory
            acquisition = loaded.manifest
            inputs.extend(loaded.inputs)
            errors.extend(loaded.errors)
            errors.extend(InputError(path=str(path), reason=f"evidence integrity: {p}") for p in loaded.integrity_problems)
        else:
            plain.append(path)
    if plain:
        found, problems = collect_apk_inputs(plain)
        for item in found:
            inputs.append(item.model_copy(update={"provenance": Provenance(origin="store", chain=item.provenance.chain)}))
        errors.extend(problems)
    return StoreInputs(inputs=inputs, errors=errors, kind=kind, identity=identity, inventory=inventory,
                       acquisition=acquisition)


def link_endpoints(report: ApkReport) -> AppEndpoints:
    """The APK's endpoints, each with the ids of the flows that send data to it."""
    uses = [EndpointUse(endpoint=e, flow_ids=[f.id for f in report.flows if _flow_uses(f, e)]) for e in report.endpoints]
    return AppEndpoints(apk_path=report.path, package=report.package, endpoints=uses)


def _flow_uses(flow: Flow, endpoint: Endpoint) -> bool:
    for used in flow.endpoints:
        if used.value == endpoint.value:
            return True
        if endpoint.kind == "url" and used.value.startswith(endpoint.value):
            return True  # "http://host/pns" + "/register": the constant is the prefix of what the flow sends to
        if endpoint.kind in ("host", "ip") and endpoint.host and used.host == endpoint.host:
            return True
    return False


def _classes_for(reports: Sequence[ApkReport]) -> dict[str, ClassList]:
    return {r.path: read_class_list(r.path) for r in reports if r.metadata is not None}


def run_store_check(
    paths: Sequence[Path], options: StoreCheckOptions | None = None, progress: ProgressCallback | None = None
) -> ScanResult:
    """Run the whole store check and return a ScanResult with `store` filled and signer findings on the APKs.

    Raises StoreDataError when a data file (pins, trackers) is unusable: that is a usage error, not bad evidence.
    """
    options = options or StoreCheckOptions()
    started = datetime.now(UTC)
    rules = load_check_rules()
    pins = load_pins(options.pin_files, include_builtin=options.builtin_pins)
    test_keys = load_test_keys().keys
    signatures, trackers_version = load_trackers(options.tracker_files)

    collected = collect_store_inputs(paths)
    reports = analyse_inputs(collected.inputs, options.scan, progress)
    reference_reports: list[ApkReport] = []
    reference_errors: list[InputError] = []
    if options.references:
        ref_inputs, reference_errors = collect_apk_inputs(options.references)
        ref_inputs = [i.model_copy(update={"provenance": Provenance(origin="file", chain=["reference", *i.provenance.chain])})
                      for i in ref_inputs]
        reference_reports = analyse_inputs(ref_inputs, options.scan, progress)
        reference_errors = [InputError(path=e.path, reason=f"reference: {e.reason}") for e in reference_errors]

    for report in [*reports, *reference_reports]:
        for flow in report.flows:
            annotate_endpoints(flow.endpoints)  # the engine's endpoints get countries too
    platform = find_platform_key(reports)
    signer_checks, used_rules = check_signers(reports, pins, test_keys, rules, platform)
    checks_by_path = {c.apk_path: c for c in signer_checks}

    classes = _classes_for(reports)
    diffs: list[ReferenceDiff] = []
    without_reference: list[str] = []
    unused: list[str] = []
    if reference_reports:
        ref_classes = _classes_for(reference_reports)
        pairs, alone, unused_refs = pair_with_references(reports, reference_reports)
        without_reference = [r.path for r in alone]
        unused = [r.path for r in unused_refs]
        for store_report, ref_report in pairs:
            diff = diff_reports(store_report, ref_report, classes.get(store_report.path, ClassList()),
                                ref_classes.get(ref_report.path, ClassList()), signatures)
            diffs.append(diff)
            if not diff.identical and diff.changed:
                _flag_modified_copy(store_report, diff, rules, used_rules)
                check = checks_by_path.get(store_report.path)
                if check is not None and check.verdict.verdict in ("genuine", "unverified", "suspicious"):
                    check.verdict.verdict = "tampered"
                    check.verdict.reasons = [f"differs from reference {ref_report.path}"] + [
                        r for r in check.verdict.reasons if r != NOTHING_TO_COMPARE
                    ]
            elif diff.identical or not diff.changed:
                check = checks_by_path.get(store_report.path)
                if check is not None and check.verdict.verdict == "unverified":
                    check.verdict.verdict = "genuine"
                    check.verdict.reasons = [f"same signer and content as reference {ref_report.path}"]

    tracker_hits = [
        hit for r in reports if r.metadata is not None
        for hit in detect_trackers(r, classes.get(r.path, ClassList()).classes, signatures)
    ]
    store = StoreCheckResult(
        signer_checks=signer_checks, reference_diffs=diffs, without_reference=without_reference,
        reference_unused=unused, trackers=tracker_hits,
        endpoints=[link_endpoints(r) for r in reports if r.endpoints],
        platform_certificates=sorted(platform.certificates), platform_source=platform.source,
        pins_loaded=len(pins), trackers_version=trackers_version, geo_database=database_info().label,
    )
    target = Target(kind="evidence" if collected.kind == "evidence" else "store",
                    inputs=[str(p) for p in paths], identity=collected.identity)
    # The engine's own findings on the same APKs need their rule metadata beside the store rules'.
    engine_used = {f.rule_id for r in reports for f in r.findings} - set(rules)
    rule_list = [rules[r] for r in sorted(used_rules)] + [i for i in rule_infos() if i.id in engine_used]
    # Classes that could not be listed leave SDK detection (and a reference diff) incomplete: say for which APK.
    class_errors = [InputError(path=path, reason=f"class list incomplete (SDK detection may miss code): {problem}",
                               level="warning") for path, listed in classes.items() for problem in listed.problems]
    result = build_result(target, reports, [*collected.errors, *reference_errors, *class_errors], started,
                          inventory=collected.inventory, rules=rule_list)
    result.store = store
    result.acquisition = collected.acquisition  # its commands and pulls go into the CSV timeline
    add_device_findings(result)  # an evidence folder: socket countries, live connections to the apps' endpoints
    return result


def _flag_modified_copy(report: ApkReport, diff: ReferenceDiff, rules: dict[str, RuleInfo], used: set[str]) -> None:
    rule = rules["store-copy-modified"]
    parts: list[str] = []
    evidence: list[str] = []
    if not diff.same_signer:
        parts.append("different signer")
        evidence += [f"store signer {d}" for d in diff.store_signers] + [f"reference signer {d}" for d in diff.reference_signers]
    if diff.permissions_added:
        parts.append("permissions added: " + ", ".join(diff.permissions_added))
        evidence += [f"permission added {p}" for p in diff.permissions_added]
    if diff.components_added:
        parts.append("components added: " + ", ".join(c.name for c in diff.components_added))
        evidence += [f"{c.kind} added {c.name} {' '.join(c.actions)}".rstrip() for c in diff.components_added]
    if diff.boot_triggers_added:
        parts.append("started at boot: " + ", ".join(diff.boot_triggers_added))
    if diff.code_added:
        names = [f"{c.package} ({c.sdk})" if c.sdk else c.package for c in diff.code_added]
        parts.append(f"{diff.classes_added} classes added under " + ", ".join(names))
        evidence += [f"code added {c.package}: {c.classes} classes, e.g. {', '.join(c.examples[:3])}" for c in diff.code_added]
    if diff.endpoints_added:
        parts.append("endpoints added: " + ", ".join(e.value for e in diff.endpoints_added))
        evidence += [f"endpoint added {e.value}" for e in diff.endpoints_added]
    if diff.flows_added:
        parts.append("leak flows only in the store copy: "
                     + ", ".join(f"{f.source}->{f.sink} in {f.sink_method}" for f in diff.flows_added))
        evidence += [f"flow added {f.flow_id}: {f.source} -> {f.sink} ({f.source_method} -> {f.sink_method})"
                     for f in diff.flows_added]
    message = f"{diff.package}: store copy differs from reference {Path(diff.reference_apk).name}: " + "; ".join(parts)
    finding = make_finding(rule, report, message, evidence, detail=diff.reference_sha256 or diff.reference_apk)
    finding.flow_ids = [f.flow_id for f in diff.flows_added]
    if add_finding(report, finding):
        used.add(rule.id)
