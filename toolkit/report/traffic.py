"""Render a TrafficReport for the terminal (plain lines; the CLI prints them). Identifiers are masked unless asked."""

from __future__ import annotations

from toolkit.models.traffic import TrafficReport
from toolkit.traffic.identifiers import mask


def _size(n: float) -> str:
    return f"{n / 1000:.1f} KB" if n >= 1000 else f"{n:.0f} B"


def traffic_lines(report: TrafficReport, show_identifiers: bool = False) -> list[str]:
    cap = report.capture
    lines = [f"capture {cap.path} ({cap.format}, {cap.size} bytes, sha256 {cap.sha256})",
             f"  {cap.packets} packets ({cap.decoded} IP) from {cap.first_time} to {cap.last_time}"
             + ("" if cap.complete else "  [INCOMPLETE]")]
    lines += [f"  warning: {w}" for w in cap.warnings]
    if report.identifiers:
        shown = ", ".join(f"{i.kind} {i.value if show_identifiers else mask(i.value)}" for i in report.identifiers)
        lines.append(f"identifiers searched (raw, URL, Base64, MD5/SHA-1/SHA-256): {shown}")
    if report.destinations:
        lines.append("destinations (by bytes sent):")
        for d in report.destinations[:15]:
            names = f" {', '.join(d.names[:3])}" if d.names else ""
            lines.append(f"  {d.ip}:{d.port}/{d.protocol}{names} [{d.country or '-'}] {d.connections} conn, "
                         f"{_size(d.bytes_out)} out" + (" TLS" if d.tls else "") + (" HTTP" if d.http else ""))
    if report.attributions:
        lines.append("attributed to apps:")
        lines += [f"  {a.destination} -> {a.package} (via {', '.join(a.via)})" for a in report.attributions]
    if report.observed_flows:
        lines.append("static flows confirmed by the capture (observed):")
        lines += [f"  {o.package}: {o.source} -> {o.sink}: {o.summary}" for o in report.observed_flows]
    if report.findings:
        lines.append("findings:")
        lines += [f"  [{f.severity.value.upper()}] {f.title}: {f.message}" for f in report.findings]
    else:
        lines.append("no findings")
    lines += [f"note: {n}" for n in report.notes]
    return lines
