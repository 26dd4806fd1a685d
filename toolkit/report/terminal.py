"""Terminal reporter: a readable summary rendered with rich, in 80 columns.

What was scanned (device or image identity), how many apps were analysed and which were not (with the reason),
findings by severity, then the story of the scan (toolkit.report.story, the same as the HTML and Markdown
reports): the summary sentences, and per app one line per flow with its rules (`verbose` adds the call path) and
one line per finding that rests on no flow; then the apps table, indicator matches, what a baseline suppressed and
the problems. Progress bars belong to the CLI, not here.
"""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from toolkit.models import ApkReport, ScanResult, Severity, Status
from toolkit.report.story import Sentence, Story, build_story, duration, readable_method, remote_ip
from toolkit.text import printable_lines

SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
MAX_PROBLEM_LINES = 30  # a folder of 1,000 damaged files would bury the summary; stderr and the reports list all
MAX_FLOW_LINES = 60  # flows and findings; beyond this the terminal is the wrong place: the JSON/HTML reports hold all
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


def render_terminal(result: ScanResult, console: Console, verbose: bool = False) -> None:
    """Print a summary of `result` on `console` (the CLI owns the console); `verbose` adds each flow's call path."""
    console.print(Group(*summary(result, verbose)))


def render_text(result: ScanResult, width: int = 120, verbose: bool = False) -> str:
    """The same summary as plain text (no colours), e.g. for a file."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, record=True)
    render_terminal(result, console, verbose)
    return console.export_text()


def summary(result: ScanResult, verbose: bool = False) -> list[RenderableType]:
    """The renderables of the summary, in order (usable by other rich layouts)."""
    story = build_story(result)
    parts: list[RenderableType] = [_identity(result), _counts(result)]
    parts.append(_severity_line(result))
    parts.extend(_story(story))
    if not result.all_findings():
        parts.append(Text("No findings.", style="green"))
    if story.apps or story.device_findings:
        parts.extend(_flows(story, verbose))
    parts.extend(_device(story))
    if result.apks:
        parts.append(_apps(result))
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


def _indent(text: RenderableType, left: int) -> Padding:
    """Wrapped lines stay under their first (rich wraps inside the padding)."""
    return Padding(text, (0, 0, 0, left))


def _sentence(sentence: Sentence) -> Padding:
    style = SEVERITY_STYLE.get(sentence.severity.value, "") if sentence.severity else ""
    text = Text("• ", style=style)
    text.append(printable_lines(sentence.text))
    ids = [label for label, anchor in sentence.links if anchor.startswith("flow-")]  # flow ids, as in json/html
    if ids:
        text.append(f" [{', '.join(ids)}]", style="dim")
    return _indent(text, 4 if sentence.continues else 2)


def _story(story: Story) -> list[RenderableType]:
    out: list[RenderableType] = [Text("\nWhat phonehome found", style="bold"), _indent(Text(printable_lines(
        story.examined.text)), 2)]
    if story.headline:
        out.append(_indent(Text(printable_lines(story.headline.text), style="bold"), 2))
    out.extend(_sentence(s) for s in story.sentences)
    return out


def _flows(story: Story, verbose: bool) -> list[RenderableType]:
    """Per app: one line per flow (data -> where, when, how, [flow id] and its rules), one per other finding."""
    total = sum(len(a.flows) + len(a.findings) for a in story.apps) + len(story.device_findings)
    out: list[RenderableType] = [Text(f"\nApps and flows ({total}; -v adds rules and call paths)", style="bold")]
    shown = 0
    for app in story.apps:
        if shown >= MAX_FLOW_LINES:
            break
        sev = app.severity.value if app.severity else "none"
        head = Text(f"{sev.upper()} ", style=SEVERITY_STYLE.get(sev, ""))
        head.append(printable_lines(app.package), style="bold")
        copies = len(app.copies)
        places = sum(len(c.locations) for c in app.copies)
        head.append(printable_lines(f": {app.who}; {copies} distinct APK{'s' if copies != 1 else ''}"
                                    + (f" in {places} places" if places != copies else "")), style="dim")
        out.append(head)
        # Two columns: the severity, and the flow's line; wrapped text stays in its column (hanging indent).
        table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
        table.add_column(no_wrap=True, min_width=8)
        table.add_column(overflow="fold", ratio=1)
        for flow in app.flows:
            if shown >= MAX_FLOW_LINES:
                break
            shown += 1
            fsev = flow.severity.value if flow.severity else "none"
            rules = len(flow.labels)
            text = Text(printable_lines(flow.line()))
            text.append(printable_lines(f" [{flow.id}, {rules} rule{'' if rules == 1 else 's'}]"),
                        style="dim")
            if verbose:  # the rules by name, the call path with readable names, the triggers
                steps = [readable_method(step) for step in flow.path] or [flow.entry or "-"]
                text.append(printable_lines(
                    f"\nrules: {', '.join(lab.rule_id for lab in flow.labels) or 'none'}"
                    f"\npath: {flow.source_api} in {steps[0]} -> " + " -> ".join(steps[1:] + [flow.sink_api])
                    + (f"\ntriggers: {'; '.join(flow.triggers)}" if flow.triggers else "")), style="dim")
            table.add_row(Text(fsev, style=SEVERITY_STYLE.get(fsev, "dim")), text)
        for view in app.findings:
            if shown >= MAX_FLOW_LINES:
                break
            shown += 1
            f = view.finding
            table.add_row(Text(f.severity.value, style=SEVERITY_STYLE[f.severity.value]),
                          Text(printable_lines(f"{f.rule_id}: {f.message}")))
        if table.row_count:
            out.append(_indent(table, 2))
    for view in story.device_findings if shown < MAX_FLOW_LINES else []:
        f = view.finding
        line = Text(f"{f.severity.value:<8} ", style=SEVERITY_STYLE[f.severity.value])
        line.append(printable_lines(f"device: {f.rule_id}: {f.message}"))
        out.append(_indent(line, 2))
        shown += 1
    if shown < total:
        out.append(Text(f"… and {total - shown} more flows and findings: see the json or html report for all",
                        style="yellow"))
    return out


def _device(story: Story) -> list[RenderableType]:
    state = story.device
    if state is None:
        return []
    lines: list[str] = []
    for c in state.connections:
        s = c.socket
        who = ", ".join(c.apps) or "-"
        lines.append(f"connection {s.protocol} {s.state} {who} (uid {s.uid}) -> {remote_ip(s)}:{s.remote_port}"
                     + (f" ({s.remote_country})" if s.remote_country else "")
                     + (f"; in its code: {', '.join(c.in_code)}" if c.in_code else "; not in its code"))
    for a in state.alarms:
        if a.interval_seconds:
            lines.append(f"alarm of {a.package} every {duration(a.interval_seconds)} ({a.type}"
                         + (f", {a.action}" if a.action else "") + ")")
    for j in state.jobs:
        if j.periodic and j.interval_seconds:
            lines.append(f"job {j.service} every {duration(j.interval_seconds)}")
    lines += [f"setting {ns} {key}={value}" for ns, key, value in state.opt_in_settings]
    lines += [f"{p.name} is an updated system app (factory copy in {p.factory_code_path})"
              for p in state.updated_system_apps]
    if not lines:
        return []
    return [Text("\nThe phone's state when it was examined", style="bold"),
            *(_indent(Text(printable_lines("- " + line)), 2) for line in lines)]


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
