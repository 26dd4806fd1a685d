"""Detection rules as data: `apk_rules/rules/<id>.yml`, one rule per file, each with `<id>.test.yml` beside it.

A rule turns an APK's flows (and manifest facts) into a finding. Its file documents it (what, why, references,
severity, confidence) and says what it matches; the loader enforces the schema below and names the file and the
field when something is wrong. Adding a rule needs no code change.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from toolkit import yamlio
from toolkit.analysis.catalogue import RULES_DIR, CatalogueError
from toolkit.models import ApkReport, Confidence, Finding, Flow, RuleInfo, Severity
from toolkit.models.common import PhModel

SINK_KINDS = ("network", "sms", "log", "file", "icc")
TRIGGER_KINDS = ("launcher", "activity", "service", "receiver", "boot", "sms_received", "alarm", "job", "provider",
                 "application", "callback", "unknown")


class AppFacts(PhModel):
    """Manifest facts a rule may require."""

    shared_user_id: str | None = None
    persistent: bool | None = None


class RuleMatch(PhModel):
    """What a flow must look like for the rule to fire (all given conditions must hold)."""

    sources: list[str] = Field(min_length=1, description="source kinds (any of)")
    sinks: list[Literal["network", "sms", "log", "file", "icc"]] = Field(min_length=1, description="sink kinds (any of)")
    triggers: list[str] = Field(default_factory=list, description="trigger kinds (any of); empty = any")
    min_period_seconds: int | None = Field(None, description="a trigger must repeat at least this often (<=)")
    periodic: bool = Field(False, description="a trigger must carry a repeat period")
    transformations: list[str] = Field(default_factory=list, description="the value went through one of these")
    app: AppFacts = Field(default_factory=AppFacts)

    @field_validator("triggers")
    @classmethod
    def _known_triggers(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if t not in TRIGGER_KINDS]
        if bad:
            raise ValueError(f"unknown trigger kind(s) {bad}; known: {list(TRIGGER_KINDS)}")
        return value


class Rule(PhModel):
    """One detection rule (the content of apk_rules/rules/<id>.yml)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")
    title: str = Field(min_length=5)
    description: str = Field(min_length=10)
    why: str = Field(min_length=10, description="why it matters to the person affected")
    severity: Severity
    confidence: Confidence
    references: list[str] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    match: RuleMatch

    def info(self) -> RuleInfo:
        return RuleInfo(id=self.id, title=self.title, description=self.description, why=self.why,
                        severity=self.severity, confidence=self.confidence, references=self.references, tags=self.tags)

    def matches(self, flow: Flow, report: ApkReport) -> bool:
        m = self.match
        if flow.source.kind not in m.sources or flow.sink.kind not in m.sinks:
            return False
        if m.triggers and not any(t.kind in m.triggers for t in flow.triggers):
            return False
        periods = [t.period_seconds for t in flow.triggers if t.period_seconds]
        if m.periodic and not periods:
            return False
        if m.min_period_seconds is not None and not any(p <= m.min_period_seconds for p in periods):
            return False
        if m.transformations and not set(m.transformations) & set(flow.transformations):
            return False
        meta = report.metadata
        if m.app.shared_user_id is not None and (meta is None or meta.shared_user_id != m.app.shared_user_id):
            return False
        return not (m.app.persistent is not None and (meta is None or meta.persistent != m.app.persistent))


class RuleTest(PhModel):
    """apk_rules/rules/<id>.test.yml: fixture APK names (fixtures/apks/<name>.apk) that must / must not fire."""

    positive: list[str] = Field(min_length=1)
    negative: list[str] = Field(min_length=1)


def _load_yaml(path: Path) -> object:
    try:
        return yamlio.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc


def _validate(path: Path, model: type[PhModel], raw: object) -> PhModel:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CatalogueError(f"{path}: field {where}: {first['msg']} ({exc.error_count()} error(s))") from exc


def load_rule(path: Path) -> Rule:
    """Load and check one rule file; the id must match the file name."""
    rule = _validate(path, Rule, _load_yaml(path))
    assert isinstance(rule, Rule)
    if path.name != f"{rule.id}.yml":
        raise CatalogueError(f"{path}: field id: rule id {rule.id!r} does not match the file name")
    return rule


def load_rule_test(path: Path) -> RuleTest:
    test = _validate(path, RuleTest, _load_yaml(path))
    assert isinstance(test, RuleTest)
    return test


def load_rules(root: Path = RULES_DIR) -> list[Rule]:
    """Every rule under root/rules, sorted by id. Raises CatalogueError on the first bad file."""
    rules = [load_rule(p) for p in sorted((root / "rules").glob("*.yml")) if not p.name.endswith(".test.yml")]
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise CatalogueError(f"{root / 'rules'}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    return rules


@functools.lru_cache(maxsize=4)
def _cached_rules(root: Path = RULES_DIR) -> tuple[Rule, ...]:
    return tuple(load_rules(root))


def rules_version(root: Path = RULES_DIR) -> str:
    """Short hash of all rule and catalogue data: two results with the same value used the same rules."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.yml")):
        if path.name.endswith(".test.yml"):
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def rule_infos(root: Path = RULES_DIR) -> list[RuleInfo]:
    """Metadata of every rule (for ScanResult.rules)."""
    return [r.info() for r in _cached_rules(root)]


def _flow_key(flow: Flow) -> str:
    return f"{flow.source.kind}:{flow.source.api}@{flow.source.location.qualified_method}->" \
           f"{flow.sink.kind}:{flow.sink.api}@{flow.sink.location.qualified_method}"


def evaluate(report: ApkReport, rules: list[Rule] | tuple[Rule, ...] | None = None) -> list[Finding]:
    """Findings of one analysed APK: one per rule that matches at least one flow."""
    rules = _cached_rules() if rules is None else rules
    findings: list[Finding] = []
    for rule in rules:
        hits = [f for f in report.flows if rule.matches(f, report)]
        if not hits:
            continue
        kinds = sorted({f"{f.source.kind} -> {f.sink.kind}" for f in hits})
        endpoints = sorted({e.value for f in hits for e in f.endpoints})
        where = sorted({f.sink.location.qualified_method for f in hits})
        message = f"{', '.join(kinds)} in {', '.join(where[:3])}{' …' if len(where) > 3 else ''}"
        if endpoints:
            message += f"; to {', '.join(endpoints[:3])}{' …' if len(endpoints) > 3 else ''}"
        fingerprint = hashlib.sha256(
            "|".join([rule.id, report.package or "", *sorted({_flow_key(f) for f in hits})]).encode()
        ).hexdigest()[:32]
        evidence = [f"flow {f.id}: {f.source.api} at {f.source.location} -> {f.sink.api} at {f.sink.location}" for f in hits]
        findings.append(Finding(
            rule_id=rule.id, title=rule.title, severity=rule.severity, confidence=rule.confidence, message=message,
            package=report.package, apk_sha256=report.sha256, flow_ids=[f.id for f in hits], evidence=evidence,
            fingerprint=fingerprint,
        ))
    return findings
