"""Findings of the store check, built from the rule metadata in apk_rules/signers/checks.yml."""

from __future__ import annotations

from toolkit.models import ApkReport, Finding, RuleInfo
from toolkit.models.finding import finding_fingerprint


def make_finding(rule: RuleInfo, report: ApkReport, message: str, evidence: list[str], detail: str = "") -> Finding:
    """A finding of `rule` about the APK of `report`."""
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        confidence=rule.confidence,
        message=message,
        package=report.package,
        apk_sha256=report.sha256,
        evidence=evidence,
        fingerprint=finding_fingerprint(rule.id, report.package, report.sha256, detail),
    )


def add_finding(report: ApkReport, finding: Finding) -> bool:
    """Attach a finding unless the same one (fingerprint) is already there; True when added."""
    if any(f.fingerprint == finding.fingerprint for f in report.findings):
        return False
    report.findings.append(finding)
    return True
