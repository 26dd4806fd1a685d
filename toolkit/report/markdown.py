"""Markdown report: the story of the scan (toolkit.report.story) for pasting into a ticket or an advisory.

The same summary sentences and flow tables as the HTML and terminal reports, in GitHub-flavoured Markdown. Text
from the evidence is escaped so that it stays text: no link, emphasis, HTML or table cell can be injected by a
package name or a URL in an APK.
"""

from __future__ import annotations

import re

from toolkit.models import ScanResult, Status
from toolkit.report.story import AppStory, FlowStory, Sentence, Story, build_story, duration, plural, remote_ip
from toolkit.text import printable

# Enough to keep text inert: no emphasis, code, link ([ ] are escaped, so "(...)" is plain), HTML, entity, cell or
# heading can start from evidence text; parentheses stay readable.
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


def md(text: str) -> str:
    """Untrusted text as inert Markdown: one line, control characters shown as escapes, specials backslashed."""
    return _SPECIAL.sub(r"\\\1", printable(" ".join(str(text).split())))


def code(text: str) -> str:
    """A code span that no backtick inside can close; pipes escaped so that a table cell stays one cell."""
    value = printable(" ".join(str(text).split()))
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value.replace('|', chr(92) + '|')}{pad}{fence}"


def render_markdown(result: ScanResult) -> str:
    """The scan result as a Markdown document (summary first, then one flow table per app)."""
    story = build_story(result)
    lines = [f"# phonehome report: {md(_title(result))}", "", "## What phonehome found", "", md(story.examined.text), ""]
    if story.headline:
        lines += [f"**{md(story.headline.text)}**", ""]
    lines += [_sentence(s) for s in story.sentences]
    if story.sentences:
        lines.append("")
    if story.glossary:
        lines += ["*Words used:* " + "; ".join(f"*{md(t)}*: {md(m)}" for t, m in story.glossary) + ".", ""]
    lines += ["## Apps and their data flows", ""]
    if not story.apps and not story.device_findings:
        lines += ["No findings and no data flow.", ""]
    for app in story.apps:
        lines += _app(app)
    if story.device_findings:
        lines += ["### The device", ""]
        lines += [f"- **{v.finding.severity.value}** {code(v.finding.rule_id)}: {md(v.finding.message)}"
                  for v in story.device_findings]
        lines.append("")
    lines += _device(story)
    lines += _problems(result)
    if result.suppressed:
        lines += [f"{plural(len(result.suppressed), 'finding')} suppressed by baseline {code(result.baseline_file or '')}: "
                  + ", ".join(code(r) for r in sorted({s.finding.rule_id for s in result.suppressed})), ""]
    lines += ["---", "", f"{md(result.tool.name)} {md(result.tool.version)} (engine {md(result.tool.engine_version or '-')}, "
              f"rules {md(result.tool.rules_version or '-')}), JSON schema {md(result.schema_version)}. Every sentence is "
              "generated from the findings; the JSON report holds the evidence.", ""]
    return "\n".join(lines)


def _title(result: ScanResult) -> str:
    identity = result.target.identity
    if identity and (identity.brand or identity.model):
        return " ".join(x for x in (identity.brand, identity.model) if x)
    if result.firmware:
        return result.firmware.file
    return ", ".join(result.target.inputs[:3]) or result.target.kind


def _sentence(sentence: Sentence) -> str:
    flows = [label for label, anchor in sentence.links if anchor.startswith("flow-")]
    tail = f" (flows {', '.join(code(f) for f in flows)})" if flows else ""
    return f"{'  ' if sentence.continues else ''}- {md(sentence.text)}{tail}"


def _flow_row(flow: FlowStory) -> str:
    sev = flow.severity.value if flow.severity else "none"
    cells = [sev, md(flow.data), md(flow.short_destination or flow.sink_kind), md(flow.when), md(flow.how or "as is"),
             code(flow.source_api), code(flow.sink_api), ", ".join(code(lab.rule_id) for lab in flow.labels) or "-",
             code(flow.id)]
    return "| " + " | ".join(cells) + " |"


def _app(app: AppStory) -> list[str]:
    sev = app.severity.value if app.severity else "none"
    lines = [f"### {code(app.package)}: {sev}", "", md(app.who[0].upper() + app.who[1:]) + "; "
             + plural(len(app.copies), "distinct APK") + " (by SHA-256):", ""]
    for copy in app.copies:
        role = f"{md(copy.role)}, " if copy.role else ""
        status = "" if copy.status is Status.analysed else f", {md(copy.status.value)}: {md(copy.reason or '')}"
        lines.append(f"- {role}version {md(copy.version or '?')}: " + ", ".join(code(p) for p in copy.locations)
                     + f" (SHA-256 {code(copy.sha256 or 'unknown')}){status}")
    lines.append("")
    if app.flows:
        lines += ["| Severity | Data | Sent to | When | How | Read with | Sent with | Rules | Flow |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [_flow_row(f) for f in app.flows]
        lines.append("")
    if app.findings:
        lines += [f"- **{v.finding.severity.value}** {code(v.finding.rule_id)}: {md(v.finding.message)}"
                  for v in app.findings]
        lines.append("")
    return lines


def _device(story: Story) -> list[str]:
    state = story.device
    if state is None:
        return []
    lines = ["## The phone's state when it was examined", ""]
    if state.connections:
        lines += ["### Live connections", "", "| App | UID | Remote address | State | Country | In the app's code |", "|---|---|---|---|---|---|"]
        for c in state.connections:
            s = c.socket
            lines.append(f"| {md(', '.join(c.apps) or '-')} | {s.uid} | {code(f'{remote_ip(s)}:{s.remote_port}')} | "
                         f"{md(s.protocol)} {md(s.state)} | {md(s.remote_country or '-')} | "
                         + ("yes: " + ", ".join(code(v) for v in c.in_code) if c.in_code else "no") + " |")
        lines.append("")
    tasks = [(a.package, f"alarm {a.type}", a.interval_seconds, a.action or a.tag or "") for a in state.alarms]
    tasks += [(j.package, f"job {j.job_id}", j.interval_seconds if j.periodic else None, j.service) for j in state.jobs]
    if tasks:
        lines += ["### Scheduled tasks (alarms and jobs)", "", "| App | Kind | Runs | Action / service |", "|---|---|---|---|"]
        lines += [f"| {md(p)} | {md(k)} | {'every ' + duration(i) if i else 'once'} | {code(a) if a else '-'} |"
                  for p, k, i, a in tasks]
        lines.append("")
    facts = [f"- setting {code(f'{ns} {key}')} = {code(value if value is not None else 'null')}"
             for ns, key, value in state.opt_in_settings]
    facts += [f"- {code(p.name)} is an updated system app: factory copy in {code(p.factory_code_path or '?')}, "
              f"update in {', '.join(code(x) for x in p.apk_paths)}" for p in state.updated_system_apps]
    return lines + (["### Settings and updates", "", *facts, ""] if facts else [])


def _problems(result: ScanResult) -> list[str]:
    items = [f"- {code(a.path)}: {md(a.status.value)}: {md(a.reason or 'no reason recorded')}"
             for a in result.apks if a.status is not Status.analysed]
    items += [f"- {code(e.path)}: {'input error' if e.level == 'error' else 'not collected'}: {md(e.reason)}"
              for e in result.input_errors]
    return ["## Problems: not (fully) analysed, not collected", "", *items, ""] if items else []
