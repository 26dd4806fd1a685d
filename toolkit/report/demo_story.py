"""The three-line story of a phone scan: what the phone does, which app is not what it claims, where to look.

Used at the end of `phonehome demo`; it only reads the ScanResult (leak flows, signer verdicts, device findings).
"""

from __future__ import annotations

from pathlib import Path

from toolkit.models import ScanResult, Severity

_WORST = (Severity.critical, Severity.high)


def _join(items: list[str], limit: int = 4) -> str:
    shown = items[:limit] + ([f"{len(items) - limit} more"] if len(items) > limit else [])
    return ", ".join(shown)


def story_lines(result: ScanResult, html: Path | None = None) -> list[str]:
    """Three sentences: what the worst apps send where; what was found tampered; where to look in the report."""
    sent: dict[str, tuple[set[str], set[str]]] = {}  # package -> (data kinds, hosts), worst apps first
    for apk in sorted(result.apks, key=lambda a: min((-f.severity.rank for f in a.findings), default=0)):
        if not any(f.severity in _WORST for f in apk.findings) or not apk.flows:
            continue
        data, hosts = sent.setdefault(apk.package or Path(apk.path).name, (set(), set()))
        data.update(f.source.kind for f in apk.flows)
        hosts.update(e.host or e.value for f in apk.flows for e in f.endpoints)
    sends = [f"{name} sends {_join(sorted(data), 8)}" + (f" to {_join(sorted(hosts), 3)}" if hosts else "")
             for name, (data, hosts) in sent.items()]
    first = ("The phone: " + "; ".join(sends[:3]) + ".") if sends else "The phone: no app was seen sending personal data."
    tampered = []
    if result.store is not None:
        diffs = {d.package: d for d in result.store.reference_diffs}
        for check in result.store.signer_checks:
            if check.verdict.verdict != "tampered":
                continue
            diff = diffs.get(check.package or "")
            added = f", {diff.classes_added} classes added ({_join([c.package for c in diff.code_added], 2)})" \
                if diff is not None and diff.code_added else ""
            tampered.append(f"{check.package} is a tampered copy (signed by another key than the genuine app{added})")
    second = ("Not what it claims: " + "; ".join(tampered) + ".") if tampered else \
        "Not what it claims: no app was found tampered (no pin or reference matched)."
    where = f"open {html}" if html is not None else "open the HTML report"
    third = (f"Where to look: {where}: Findings (worst first, each with its evidence), Apps (the signer check of "
             f"each app), Data flows (source -> sink -> endpoint).")
    return [first, second, third]
