"""Findings: rule verdicts over flows and facts, and the metadata of the rules that make them."""

from __future__ import annotations

import hashlib

from pydantic import Field

from toolkit.models.common import Confidence, PhModel, Severity


class RuleInfo(PhModel):
    """Metadata of a detection rule, carried in the scan result so reporters need nothing else."""

    id: str
    title: str
    description: str
    why: str = Field("", description="Why it matters to the person affected")
    severity: Severity
    confidence: Confidence
    references: list[str] = Field(default_factory=list, description="CWE, OWASP MASVS and other references")
    tags: list[str] = Field(default_factory=list)


def finding_fingerprint(*parts: str | None) -> str:
    """A stable fingerprint for Finding.fingerprint from its identifying parts (rule, package, APK digest, detail)."""
    return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:32]


class Finding(PhModel):
    """One rule that matched in one APK (or on the device), with the evidence it rests on."""

    rule_id: str
    title: str
    severity: Severity
    confidence: Confidence
    message: str = Field(description="Specific to this match: what was seen, where")
    package: str | None = None
    apk_sha256: str | None = None
    flow_ids: list[str] = Field(default_factory=list, description="Ids of the flows in the APK report this rests on")
    evidence: list[str] = Field(default_factory=list, description="Other facts it rests on, one per line")
    fingerprint: str = Field(description="Stable across runs: used by baselines to suppress reviewed findings")
