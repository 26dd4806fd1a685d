"""SARIF 2.1.0 reporter for code-scanning tools (GitHub code scanning, VS Code SARIF viewer, DefectDojo ...).

One run; the rules with their metadata (CWE as a taxonomy and as `external/cwe/...` tags); each finding a result
with its rule, level, message, the APK as artifact location, classes/methods as logical locations and one code
flow per source-to-sink flow. Findings hidden by a baseline stay in the log with an external suppression, as the
SARIF spec intends. APKs that could not be analysed become tool execution notifications.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from toolkit.models import ApkReport, CodeLocation, Finding, Flow, RuleInfo, ScanResult, Severity, Status

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
APK_MIME = "application/vnd.android.package-archive"
FINGERPRINT_KEY = "phonehome/v1"

_LEVEL = {
    Severity.critical: "error",
    Severity.high: "error",
    Severity.medium: "warning",
    Severity.low: "note",
    Severity.info: "note",
}
# GitHub code scanning reads `security-severity` (0.0-10.0) to rank security results.
_SECURITY_SEVERITY = {
    Severity.critical: "9.5",
    Severity.high: "8.0",
    Severity.medium: "5.5",
    Severity.low: "3.0",
    Severity.info: "1.0",
}
_CWE = re.compile(r"^CWE-(\d+)$", re.I)


def render_sarif(result: ScanResult) -> str:
    """The scan result as a SARIF 2.1.0 log (indented JSON, stable order)."""
    return json.dumps(sarif_log(result), indent=2, ensure_ascii=False) + "\n"


def sarif_log(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as plain JSON data (the serialisation format itself, not a model crossing layers)."""
    rules = _rules(result)
    rule_index = {rule.id: i for i, rule in enumerate(rules)}
    artifacts, artifact_index = _artifacts(result)
    results: list[dict[str, Any]] = []
    for apk in result.apks:
        for finding in apk.findings:
            results.append(_result(finding, apk, rule_index, artifact_index))
    device = _device_location(result)
    for finding in result.device_findings:
        results.append(_result(finding, None, rule_index, artifact_index, device))
    apk_by_sha = {a.sha256: a for a in result.apks if a.sha256}
    for suppression in result.suppressed:
        finding = suppression.finding
        owner = apk_by_sha.get(finding.apk_sha256) if finding.apk_sha256 else None
        entry = _result(finding, owner, rule_index, artifact_index, None if owner else device)
        entry["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": suppression.note or f"accepted in baseline {suppression.baseline_file}",
            }
        ]
        results.append(entry)

    driver: dict[str, Any] = {
        "name": result.tool.name,
        "version": result.tool.version,
        "semanticVersion": result.tool.version,
        "rules": [_rule(rule) for rule in rules],
    }
    cwes = sorted({cwe for rule in rules for cwe in _cwes(rule)}, key=int)
    if cwes:
        driver["supportedTaxonomies"] = [{"name": "CWE", "index": 0}]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        # Lets code-scanning services keep runs on different targets apart (e.g. phonehome/device/SERIAL).
        "automationDetails": {"id": f"phonehome/{result.target.kind}/{_target_id(result)}"},
        "invocations": [_invocation(result)],
        "artifacts": artifacts,
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": _run_properties(result),
    }
    if cwes:
        run["taxonomies"] = [
            {
                "name": "CWE",
                "organization": "MITRE",
                "informationUri": "https://cwe.mitre.org/",
                "taxa": [{"id": cwe, "helpUri": f"https://cwe.mitre.org/data/definitions/{cwe}.html"} for cwe in cwes],
            }
        ]
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _rules(result: ScanResult) -> list[RuleInfo]:
    """The rules of the result, plus a stub for any rule id a finding uses without metadata (never drop one)."""
    rules = {rule.id: rule for rule in result.rules}
    every = result.all_findings() + [s.finding for s in result.suppressed]
    for finding in every:
        if finding.rule_id not in rules:
            rules[finding.rule_id] = RuleInfo(
                id=finding.rule_id, title=finding.title, description=finding.title,
                severity=finding.severity, confidence=finding.confidence,
            )
    return sorted(rules.values(), key=lambda r: r.id)


def _cwes(rule: RuleInfo) -> list[str]:
    return [m.group(1) for ref in rule.references if (m := _CWE.match(ref.strip()))]


def _pascal(rule_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part)


def _rule(rule: RuleInfo) -> dict[str, Any]:
    cwes = _cwes(rule)
    links = [ref for ref in rule.references if ref.startswith(("http://", "https://"))]
    others = [ref for ref in rule.references if ref not in links]
    help_lines = [rule.why or rule.description]
    if rule.references:
        help_lines.append("References: " + ", ".join(rule.references))
    markdown = [rule.why or rule.description]
    if rule.references:
        markdown.append("")
        markdown.extend(f"- [{ref}]({ref})" if ref in links else f"- {ref}" for ref in rule.references)
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _pascal(rule.id),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": "\n".join(help_lines), "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "tags": ["security", "privacy", *rule.tags, *[f"external/cwe/cwe-{c}" for c in cwes]],
            "precision": {"high": "high", "medium": "medium", "low": "low"}[rule.confidence.value],
            # GitHub code scanning's own scale: error, warning or recommendation.
            "problem.severity": {"error": "error", "warning": "warning"}.get(_LEVEL[rule.severity], "recommendation"),
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "severity": rule.severity.value,
            "confidence": rule.confidence.value,
            "references": others,
        },
    }
    # Deduplicate tags but keep their order: viewers show them as given.
    descriptor["properties"]["tags"] = list(dict.fromkeys(descriptor["properties"]["tags"]))
    if links:
        descriptor["helpUri"] = links[0]
    if cwes:
        descriptor["relationships"] = [
            {"target": {"id": cwe, "toolComponent": {"name": "CWE", "index": 0}}, "kinds": ["superset"]}
            for cwe in cwes
        ]
    return descriptor


def _target_id(result: ScanResult) -> str:
    identity = result.target.identity
    if identity and identity.serial:
        return identity.serial
    if result.firmware:
        return result.firmware.sha256[:16]
    return ""


def _device_location(result: ScanResult) -> dict[str, Any]:
    identity = result.target.identity
    name = " ".join(x for x in (identity.brand, identity.model) if x) if identity else ""
    if result.firmware and not name:
        name = result.firmware.file
    qualified = identity.fingerprint if identity and identity.fingerprint else (name or result.target.kind)
    return {"name": name or result.target.kind, "fullyQualifiedName": qualified, "kind": "module"}


def _uri(path: str) -> str:
    posix = path.replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return "file://" + quote(posix, safe="/")
    return quote(posix, safe="/")


def _artifacts(result: ScanResult) -> tuple[list[dict[str, Any]], dict[str, int]]:
    artifacts: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for apk in result.apks:
        if apk.path in index:
            continue
        artifact: dict[str, Any] = {
            "location": {"uri": _uri(apk.path)},
            "mimeType": APK_MIME,
            "roles": ["analysisTarget"],
        }
        if apk.size is not None:
            artifact["length"] = apk.size
        if apk.sha256:
            artifact["hashes"] = {"sha-256": apk.sha256}
        properties: dict[str, Any] = {"status": apk.status.value, "origin": apk.provenance.origin}
        if apk.package:
            properties["package"] = apk.package
        if apk.provenance.chain:
            properties["provenance"] = apk.provenance.chain
        if apk.provenance.device_path:
            properties["devicePath"] = apk.provenance.device_path
        artifact["properties"] = properties
        index[apk.path] = len(artifacts)
        artifacts.append(artifact)
    return artifacts, index


def _physical(apk: ApkReport, artifact_index: dict[str, int]) -> dict[str, Any]:
    return {"artifactLocation": {"uri": _uri(apk.path), "index": artifact_index[apk.path]}}


def _logical(where: CodeLocation) -> list[dict[str, Any]]:
    method = {
        "name": where.method,
        "fullyQualifiedName": where.qualified_method,
        "decoratedName": f"{where.qualified_method}{where.descriptor}",
        "kind": "function",
    }
    return [method, {"name": where.class_name.rsplit(".", 1)[-1], "fullyQualifiedName": where.class_name, "kind": "type"}]


def _location(apk: ApkReport, artifact_index: dict[str, int], where: CodeLocation, text: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {"physicalLocation": _physical(apk, artifact_index), "logicalLocations": _logical(where)}
    if where.offset is not None:
        # Dalvik code offsets are in 16-bit units inside the method: kept as a property, not a byte region of the APK.
        location["properties"] = {"dexOffset": where.offset}
    if text:
        location["message"] = {"text": text}
    return location


def _code_flow(flow: Flow, apk: ApkReport, artifact_index: dict[str, int]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {
            "location": _location(apk, artifact_index, flow.source.location, f"source: {flow.source.kind} via {flow.source.api}"),
            "kinds": ["acquire", "taint"],
            "nestingLevel": 0,
        }
    ]
    inner = [p for p in flow.path if p not in (flow.source.location, flow.sink.location)]
    for point in inner:
        steps.append({"location": _location(apk, artifact_index, point, f"via {point.qualified_method}"), "kinds": ["call"], "nestingLevel": 1})
    endpoints = ", ".join(e.value for e in flow.endpoints)
    sink_text = f"sink: {flow.sink.kind} via {flow.sink.api}" + (f" to {endpoints}" if endpoints else "")
    steps.append({"location": _location(apk, artifact_index, flow.sink.location, sink_text), "kinds": ["release", "taint"], "nestingLevel": 0})
    message = f"{flow.source.kind} -> {flow.sink.kind}" + (f" -> {endpoints}" if endpoints else "")
    return {"message": {"text": message}, "threadFlows": [{"locations": steps}], "properties": {"flowId": flow.id}}


def _result(
    finding: Finding,
    apk: ApkReport | None,
    rule_index: dict[str, int],
    artifact_index: dict[str, int],
    device: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index[finding.rule_id],
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    flows = {f.id: f for f in apk.flows} if apk else {}
    used = [flows[i] for i in finding.flow_ids if i in flows]
    if apk is not None:
        location: dict[str, Any] = {"physicalLocation": _physical(apk, artifact_index)}
        if used:
            location["logicalLocations"] = _logical(used[0].sink.location)
        entry["locations"] = [location]
        entry["analysisTarget"] = {"uri": _uri(apk.path), "index": artifact_index[apk.path]}
    elif device is not None:
        # Not tied to an APK: a logical location naming the device or image, so viewers still show where.
        entry["locations"] = [{"logicalLocations": [device]}]
    if used and apk is not None:
        entry["codeFlows"] = [_code_flow(flow, apk, artifact_index) for flow in used]
    properties: dict[str, Any] = {
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
        "security-severity": _SECURITY_SEVERITY[finding.severity],
        "title": finding.title,
    }
    if finding.package:
        properties["package"] = finding.package
    if finding.apk_sha256:
        properties["apkSha256"] = finding.apk_sha256
    if finding.flow_ids:
        properties["flowIds"] = finding.flow_ids
        missing = [i for i in finding.flow_ids if i not in flows]
        if missing:
            properties["missingFlowIds"] = missing
    if finding.evidence:
        properties["evidence"] = finding.evidence
    if used:
        properties["endpoints"] = sorted({e.value for f in used for e in f.endpoints})
        properties["triggers"] = sorted({t.kind + (f" {t.component}" if t.component else "") for f in used for t in f.triggers})
        properties["permissions"] = sorted({p for f in used for p in f.permissions})
    entry["properties"] = properties
    return entry


def _invocation(result: ScanResult) -> dict[str, Any]:
    notifications: list[dict[str, Any]] = []
    for apk in result.apks:
        if apk.status is Status.analysed:
            continue
        notifications.append(
            {
                "level": "error" if apk.status is Status.not_analysed else "warning",
                "message": {"text": f"{apk.status.value}: {apk.reason or 'no reason recorded'}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(apk.path)}}}],
                "descriptor": {"id": f"apk-{apk.status.value.replace('_', '-')}"},
            }
        )
    for error in result.input_errors:
        notifications.append(
            {
                "level": error.level,
                "message": {"text": error.reason},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(error.path)}}}],
                "descriptor": {"id": "input-error" if error.level == "error" else "evidence-not-collected"},
            }
        )
    for source in result.indicator_sources:
        for skipped in source.skipped:
            notifications.append(
                {
                    "level": "note",
                    "message": {"text": f"indicator {skipped.id} not used: {skipped.reason}"},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(source.file)}}}],
                    "descriptor": {"id": "indicator-skipped"},
                }
            )
    for problem in result.inventory.parse_problems if result.inventory else []:
        notifications.append(
            {
                "level": "warning",
                "message": {"text": f"inventory: {problem}"},
                "descriptor": {"id": "inventory-parse-problem"},
            }
        )
    invocation: dict[str, Any] = {
        "executionSuccessful": not (result.apks and all(a.status is Status.not_analysed for a in result.apks)),
        "startTimeUtc": _utc(result.started_at),
        "endTimeUtc": _utc(result.finished_at),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _run_properties(result: ScanResult) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "schemaVersion": result.schema_version,
        "engineVersion": result.tool.engine_version,
        "rulesVersion": result.tool.rules_version,
        "target": result.target.model_dump(mode="json", exclude_none=True),
    }
    if result.firmware:
        properties["firmware"] = {"file": result.firmware.file, "sha256": result.firmware.sha256}
    if result.indicator_sources:
        properties["indicatorFiles"] = [
            {"file": s.file, "sha256": s.sha256, "indicators": s.indicators} for s in result.indicator_sources
        ]
    if result.ioc_matches:
        properties["iocMatches"] = len(result.ioc_matches)
    if result.baseline_file:
        properties["baseline"] = result.baseline_file
    return properties
