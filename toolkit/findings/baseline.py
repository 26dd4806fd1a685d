"""Baselines: findings a person reviewed and accepted, suppressed on the next run by their stable fingerprint.

A baseline is a small JSON file (`phonehome baseline create REPORT.json --out FILE`). Suppressed findings are not
deleted: they move to `ScanResult.suppressed` with the baseline's name, so every report can say what was hidden.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field, ValidationError

from toolkit import __version__
from toolkit.models import Finding, ScanResult
from toolkit.models.common import PhModel, Severity
from toolkit.models.indicators import Suppression

BASELINE_FORMAT = "phonehome-baseline"
BASELINE_VERSION = 1


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class BaselineEntry(PhModel):
    """One accepted finding. Only `fingerprint` is used for matching; the rest helps the reviewer."""

    fingerprint: str = Field(min_length=8)
    rule_id: str | None = None
    package: str | None = None
    severity: Severity | None = None
    title: str | None = None
    note: str | None = Field(None, description="Why it was accepted (free text, kept in suppressed findings)")


class Baseline(PhModel):
    format: str = BASELINE_FORMAT
    version: int = BASELINE_VERSION
    created_at: datetime
    created_by: str = Field(description="Tool and version that wrote it")
    source_report: str | None = None
    entries: list[BaselineEntry] = Field(default_factory=list)


def create_baseline(result: ScanResult, source_report: str | None = None) -> Baseline:
    """A baseline accepting every finding of `result` (suppressed ones included, so re-baselining keeps them)."""
    entries: dict[str, BaselineEntry] = {}
    findings = result.all_findings() + [s.finding for s in result.suppressed]
    notes = {s.finding.fingerprint: s.note for s in result.suppressed}
    for finding in sorted(findings, key=lambda f: (f.package or "", f.rule_id, f.fingerprint)):
        entries.setdefault(
            finding.fingerprint,
            BaselineEntry(
                fingerprint=finding.fingerprint, rule_id=finding.rule_id, package=finding.package,
                severity=finding.severity, title=finding.title, note=notes.get(finding.fingerprint),
            ),
        )
    return Baseline(
        created_at=datetime.now(UTC).replace(microsecond=0),
        created_by=f"phonehome {__version__}",
        source_report=source_report,
        entries=list(entries.values()),
    )


def write_baseline(baseline: Baseline, path: str | Path) -> None:
    """Write a baseline as indented JSON."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(baseline.model_dump_json(indent=2, exclude_none=True) + "\n", encoding="utf-8")


def load_baseline(path: str | Path) -> Baseline:
    """Read a baseline file. Raises BaselineError naming the file and the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BaselineError(path, f"cannot read baseline file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BaselineError(path, f"not UTF-8 text (byte {exc.start})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise BaselineError(path, f"not a phonehome baseline (\"format\" must be {BASELINE_FORMAT!r})")
    if data.get("version") != BASELINE_VERSION:
        raise BaselineError(path, f"unsupported baseline version {data.get('version')!r} (expected {BASELINE_VERSION})")
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)[:5]
        )
        raise BaselineError(path, f"invalid baseline: {problems}") from exc


def apply_baseline(result: ScanResult, baseline: Baseline, baseline_file: str | Path) -> ScanResult:
    """A copy of `result` where findings whose fingerprint is in the baseline move to `suppressed`."""
    accepted = {entry.fingerprint: entry for entry in baseline.entries}
    out = result.model_copy(deep=True)
    out.baseline_file = str(baseline_file)

    def keep(findings: list[Finding]) -> list[Finding]:
        kept: list[Finding] = []
        for finding in findings:
            entry = accepted.get(finding.fingerprint)
            if entry is None:
                kept.append(finding)
            else:
                out.suppressed.append(Suppression(finding=finding, baseline_file=str(baseline_file), note=entry.note))
        return kept

    for apk in out.apks:
        apk.findings = keep(apk.findings)
    out.device_findings = keep(out.device_findings)
    return out
