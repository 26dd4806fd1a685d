"""Terminal reporter: a readable summary rendered with rich."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from toolkit.models import ScanResult, Status

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def render_terminal(result: ScanResult, console: Console) -> None:
    """Print a summary of `result` on `console` (the CLI owns the console)."""
    console.print(Group(*_summary(result)))


def _summary(result: ScanResult) -> list[RenderableType]:
    parts: list[RenderableType] = []
    identity = result.target.identity
    if identity and (identity.model or identity.fingerprint):
        parts.append(Text(f"Device: {identity.brand or ''} {identity.model or ''}  {identity.fingerprint or ''}".strip()))
    counts = {status: sum(1 for a in result.apks if a.status == status) for status in Status}
    parts.append(
        Text(
            f"APKs: {len(result.apks)} scanned, {counts[Status.analysed]} analysed, "
            f"{counts[Status.partial]} partial, {counts[Status.not_analysed]} not analysed"
        )
    )
    table = Table(title="APKs", show_lines=False)
    for column in ("APK", "package", "status", "findings"):
        table.add_column(column)
    for apk in result.apks:
        worst = max((f.severity for f in apk.findings), key=lambda s: s.rank, default=None)
        label = f"{len(apk.findings)}" + (f" (max {worst.value})" if worst else "")
        status = apk.status.value + (f": {apk.reason}" if apk.reason else "")
        table.add_row(apk.path, apk.package or "-", status, label)
    parts.append(table)
    findings = result.all_findings()
    if findings:
        ftable = Table(title="Findings")
        for column in ("severity", "rule", "package", "message"):
            ftable.add_column(column)
        for finding in sorted(findings, key=lambda f: -f.severity.rank):
            ftable.add_row(
                Text(finding.severity.value, style=_SEVERITY_STYLE[finding.severity.value]),
                finding.rule_id,
                finding.package or "-",
                finding.message,
            )
        parts.append(ftable)
    else:
        parts.append(Text("No findings.", style="green"))
    for error in result.input_errors:
        parts.append(Text(f"error: {error.path}: {error.reason}", style="red"))
    return parts
