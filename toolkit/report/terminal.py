"""Terminal reporter: a readable summary rendered with rich.

What was scanned (device or image identity), how many apps were analysed and which were not (with the reason),
findings by severity, the findings themselves, the top flows as source -> sink -> endpoint, indicator matches and
what a baseline suppressed. Progress bars belong to the CLI, not here.
"""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from toolkit.models import ApkReport, Flow, ScanResult, Severity, Status
from toolkit.text import printable_lines

SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
TOP_FLOWS = 10
MAX_PROBLEM_LINES = 30  # a folder of 1,000 damaged files would bury the summary; stderr and the reports list all
MAX_FINDING_ROWS = 40  # beyond this the terminal is the wrong place: the JSON/HTML reports hold them all
_SEVERITIES = [Severity.critical, Severity.high, Severity.medium, Severity.low, Severity.info]


def _row(table: Table, *cells: str | Text) -> None:
    """Add a row whose text comes from APKs, phones or images: never read as rich markup ("[/]" in a URL would
    crash the report), control characters shown as escapes."""
    table.add_row(*(Text(printable_lines(c)) if isinstance(c, str) else c for c in cells))


def _stacked(first: str, second: str, first_style: str = "") -> Text:
    """Two untrusted strings in one cell, the second dimmed below the first (keeps tables readable at 80 columns)."""
    text = Text(printable_lines(first), style=first_style)
    if second:
        text.append("\n" + printable_lines(second), style="dim")
    return text


def render_terminal(result: ScanResult, console: Console) -> None:
    """Print a summary of `result` on `console` (the CLI owns the console)."""
    console.print(Group(*summary(result)))


def render_text(result: ScanResult, width: int = 120) -> str:
    """The same summary as plain text (no colours), e.g. for a file."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, record=True)
    render_terminal(result, console)
    return console.export_text()


def summary(result: ScanResult) -> list[RenderableType]:
    """The renderables of the summary, in order (usable by other rich layouts)."""
    parts: list[RenderableType] = [_identity(result), _counts(result)]
    parts.append(_severity_line(result))
    if result.apks:
        parts.append(_apps(result))
    findings = result.all_findings()
    if findings:
        parts.append(_findings(result))
    else:
        parts.append(Text("No findings.", style="green"))
    flows = _top_flows(result)
    if flows is not None:
        parts.append(flows)
    if result.indicator_sources:
        parts.append(_iocs(result))
    if result.suppressed:
        parts.append(
            Text(
                f"{len(result.suppressed)} findings suppressed by baseline {result.baseline_file}: "
                + ", ".join(sorted({s.finding.rule_id for s in result.suppressed})),
                style="dim",
            )
        )
    problems: list[Text] = []
    for apk in result.apks:
        if apk.status is not Status.analysed:
            status = apk.status.value.replace("_", " ")
            reason = apk.reason or "no reason recorded"
            problems.append(Text(printable_lines(f"{status}: {apk.path}: {reason}"), style="yellow"))
    for error in result.input_errors:
        # level: an unusable input the user named is an error; a part of the evidence that could not be collected
        # (e.g. an APK the phone refused to hand over) is a warning and the rest of the scan stands.
        style = "red" if error.level == "error" else "yellow"
        problems.append(Text(printable_lines(f"{error.level}: {error.path}: {error.reason}"), style=style))
    parts.extend(problems[:MAX_PROBLEM_LINES])
    if len(problems) > MAX_PROBLEM_LINES:  # every one is also a line on stderr and in the json/html reports
        parts.append(Text(f"… and {len(problems) - MAX_PROBLEM_LINES} more problems: see stderr or the json/html "
                          "report for all", style="yellow"))
    return parts


def _identity(result: ScanResult) -> Text:
    identity = result.target.identity
    text = Text()
    text.append("phonehome ", style="bold")
    text.append(f"{result.tool.version} ", style="dim")
    text.append(f"{result.target.kind}: ")
    if identity and (identity.brand or identity.model or identity.fingerprint):
        who = " ".join(x for x in (identity.brand, identity.model) if x)
        text.append(who, style="bold")
        details = [
            f"Android {identity.android_version}" if identity.android_version else "",
            f"patch {identity.security_patch}" if identity.security_patch else "",
            f"serial {identity.serial}" if identity.serial else "",
            f"SELinux {identity.selinux}" if identity.selinux else "",
        ]
        extra = ", ".join(d for d in details if d)
        if extra:
            text.append(f" ({extra})")
        if identity.fingerprint:
            text.append(f"\n  {identity.fingerprint}", style="dim")
    elif result.firmware:
        text.append(f"{result.firmware.file} sha256 {result.firmware.sha256}", style="bold")
    else:
        text.append(", ".join(result.target.inputs) or "-", style="bold")
    return text


def _counts(result: ScanResult) -> Text:
    status = Counter(a.status for a in result.apks)
    text = Text(
        f"APKs: {len(result.apks)} scanned, {status[Status.analysed]} analysed, {status[Status.partial]} partial, "
        f"{status[Status.not_analysed]} not analysed"
    )
    errors = sum(1 for e in result.input_errors if e.level == "error")
    warnings = len(result.input_errors) - errors
    if errors:
        text.append(f"; {_plural(errors, 'input')} unusable", style="red")
    if warnings:
        text.append(f"; {_plural(warnings, 'part')} of the evidence not collected", style="yellow")
    if result.inventory is not None:
        remote = sum(1 for s in result.inventory.sockets if s.is_remote)
        text.append(f"\nInventory: {len(result.inventory.packages)} packages, {remote} remote connections")
        if result.inventory.parse_problems:
            text.append(f", {len(result.inventory.parse_problems)} parse problems", style="yellow")
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _severity_line(result: ScanResult) -> Text:
    counts = Counter(f.severity for f in result.all_findings())
    text = Text("Findings: ")
    for i, severity in enumerate(_SEVERITIES):
        if i:
            text.append("  ")
        style = SEVERITY_STYLE[severity.value] if counts[severity] else "dim"
        text.append(f"{counts[severity]} {severity.value}", style=style)
    return text


def _apps(result: ScanResult) -> Table:
    table = Table(title="Apps", title_justify="left")
    table.add_column("verdict", no_wrap=True)
    table.add_column("package / where", overflow="fold", ratio=1)
    table.add_column("version", overflow="fold")
    table.add_column("findings", justify="right")
    table.add_column("flows", justify="right")
    ordered = sorted(result.apks, key=lambda a: (-_rank(a), a.package or a.path))
    for apk in ordered:
        _row(
            table,
            _verdict(apk),
            _stacked(apk.package or "-", apk.provenance.device_path or apk.provenance.display or apk.path),
            (apk.metadata.version_name or "") if apk.metadata else "",
            str(len(apk.findings)),
            str(len(apk.flows)),
        )
    return table


def _rank(apk: ApkReport) -> int:
    return max((f.severity.rank for f in apk.findings), default=-1)


def _verdict(apk: ApkReport) -> Text:
    worst = max((f.severity for f in apk.findings), key=lambda s: s.rank, default=None)
    if worst is not None:
        return Text(worst.value, style=SEVERITY_STYLE[worst.value])
    if apk.status is Status.not_analysed:
        return Text("not analysed", style="yellow")
    return Text("clean" if apk.status is Status.analysed else "clean (partial)", style="green")


def _findings(result: ScanResult) -> Table:
    findings = sorted(result.all_findings(), key=lambda f: (-f.severity.rank, f.package or "", f.rule_id))
    shown = findings[:MAX_FINDING_ROWS]
    title = "Findings" if len(shown) == len(findings) else f"Findings (most severe {len(shown)} of {len(findings)}: see the json or html report for all)"
    table = Table(title=title, title_justify="left")
    table.add_column("severity", no_wrap=True)
    table.add_column("rule / package", overflow="fold", ratio=2)
    table.add_column("message", overflow="fold", ratio=5)
    for finding in shown:
        _row(
            table,
            Text(finding.severity.value, style=SEVERITY_STYLE[finding.severity.value]),
            _stacked(finding.rule_id, finding.package or "device"),
            finding.message,
        )
    return table


def _flow_rank(apk: ApkReport, flow: Flow) -> int:
    ranks = [f.severity.rank for f in apk.findings if flow.id in f.flow_ids]
    return max(ranks, default=-1)


def _top_flows(result: ScanResult) -> Table | None:
    flows = [(apk, flow) for apk in result.apks for flow in apk.flows]
    if not flows:
        return None
    flows.sort(key=lambda pair: (-_flow_rank(*pair), pair[0].package or "", pair[1].id))
    table = Table(title=f"Top flows ({min(TOP_FLOWS, len(flows))} of {len(flows)})", title_justify="left")
    table.add_column("flow: app, source -> sink, methods", overflow="fold", ratio=3)
    table.add_column("endpoint / trigger", overflow="fold", ratio=2)
    for apk, flow in flows[:TOP_FLOWS]:
        _row(
            table,
            _stacked(
                f"{apk.package or apk.path}: {flow.source.kind} -> {flow.sink.kind}",
                f"{flow.source.location.qualified_method} ->\n{flow.sink.location.qualified_method}",
            ),
            _stacked("\n".join(e.value for e in flow.endpoints) or "-", ", ".join(t.kind for t in flow.triggers) or "-"),
        )
    return table


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _iocs(result: ScanResult) -> RenderableType:
    files = ", ".join(f"{s.file} ({s.indicators} indicators, {len(s.skipped)} skipped)" for s in result.indicator_sources)
    if not result.ioc_matches:
        return Text(f"Indicators: no match ({files})", style="green")
    # One row per indicator: what it is, what kind of evidence it hit, which packages (details in json/html).
    rows: dict[tuple[str, str, str], tuple[set[str], set[str]]] = {}
    for m in result.ioc_matches:
        targets, packages = rows.setdefault((m.campaign or "-", m.kind, m.indicator_value), (set(), set()))
        targets.add(m.target)
        packages.add(m.package or m.location or "device")
    table = Table(title=f"Indicator matches: {len(result.ioc_matches)} ({files})", title_justify="left")
    table.add_column("indicator / campaign: kind", overflow="fold", ratio=3)
    table.add_column("packages / matched in", overflow="fold", ratio=2)
    for (campaign, kind, value), (targets, packages) in sorted(rows.items()):
        names = sorted(packages)
        shown = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
        # URLs and domains are shown whole (folded): a cut URL is no indicator; only long hashes are shortened.
        indicator = _short(value, 24) if "sha" in kind or "hash" in kind else value
        _row(table, _stacked(indicator, f"{campaign}: {kind}"), _stacked(shown, ", ".join(sorted(targets))))
    return table
