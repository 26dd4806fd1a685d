"""Network captures of the phone: read (capture.py), analyse (scan.py), write scenario captures (writer.py), and
the use case that ties a capture to an evidence folder (`traffic_scan`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.behaviour.observed import mark_from_capture
from toolkit.models import ScanResult
from toolkit.models.traffic import TrafficReport
from toolkit.models.usage import DeviceIdentifier
from toolkit.traffic.capture import CaptureError
from toolkit.traffic.scan import RULES, scan_capture

__all__ = ["CaptureError", "TrafficOutcome", "apply_capture", "scan_capture", "traffic_scan"]


@dataclass
class TrafficOutcome:
    report: TrafficReport
    scan: ScanResult | None  # the evidence folder's scan result, with the capture's observed marks


def apply_capture(result: ScanResult, traffic: TrafficReport) -> None:
    """Put a capture's findings and observed marks into a scan result (the demo and `traffic scan --evidence`)."""
    mark_from_capture(result, traffic)
    known = {f.fingerprint for f in result.device_findings}
    result.device_findings.extend(f for f in traffic.findings if f.fingerprint not in known)
    have = {r.id for r in result.rules}
    result.rules.extend(r for r in RULES if r.id not in have and any(f.rule_id == r.id for f in traffic.findings))


def traffic_scan(capture: Path, scan: ScanResult | None = None, identifiers: list[DeviceIdentifier] | None = None,
                 show_identifiers: bool = False, max_seconds: float | None = 600.0,
                 keylog: Path | None = None) -> TrafficOutcome:
    """Analyse a capture against a phone's scan result (its apps' endpoints, identifiers and netstats), when given.
    Identifiers: the evidence's, then the examiner's extra ones. `keylog`: TLS secrets (NSS key log format) to
    search inside TLS (through tshark)."""
    usage = scan.inventory.usage if scan is not None and scan.inventory is not None else None
    idents = list(usage.identifiers if usage else []) + list(identifiers or [])
    report = scan_capture(capture, idents, scan.apks if scan is not None else [], usage, max_seconds,
                          show_identifiers, keylog)
    if scan is not None:
        report.evidence_folder = scan.target.inputs[0] if scan.target.inputs else None
        apply_capture(scan, report)
        _overlap_note(report, scan)
    return TrafficOutcome(report=report, scan=scan)


def _overlap_note(report: TrafficReport, scan: ScanResult) -> None:
    usage = scan.inventory.usage if scan.inventory is not None else None
    starts = [b.start for h in (usage.netstats if usage else []) for b in h.buckets]
    cap = report.capture
    if not starts or cap.first_time is None or cap.last_time is None:
        report.notes.append("no netstats history in the evidence: traffic volumes not matched to UIDs")
        return
    lo, hi = min(starts), max(starts) + max(h.bucket_seconds for h in usage.netstats)  # type: ignore[union-attr]
    if cap.last_time.timestamp() < lo or cap.first_time.timestamp() > hi:
        report.notes.append("the capture and the phone's netstats history do not overlap in time: traffic volumes "
                            "not matched to UIDs")
