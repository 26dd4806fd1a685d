"""Self-contained HTML report: one file, inline CSS, JS and SVG, nothing loaded from the network when opened.

It renders the story of the scan (toolkit.report.story), in this order: what phonehome found, in plain sentences
that link to their evidence; apps by verdict (store and firmware scans); the phone's state (live connections,
scheduled tasks, opt-in settings, a timeline); one section per app with one card per flow (rules are labels on it,
with a diagram) and a card for each finding that rests on no flow; every app in a sortable table; the details of
the examination; indicator matches; what could not be analysed. The page is complete without JS (the inline
script adds sorting, filtering and the live count), and a print stylesheet makes an A4 document with every
section expanded.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from html import escape

from toolkit.models import ApkReport, Finding, ScanResult, Severity, Status
from toolkit.models.indicators import IocMatch
from toolkit.report import svg
from toolkit.report.observed_html import observed_section
from toolkit.report.story import (
    AppStory,
    CopyView,
    DeviceState,
    FindingView,
    FlowStory,
    RuleLabel,
    Sentence,
    Story,
    build_story,
    duration,
    plural,
    remote_ip,
)

_SEVERITIES = [Severity.critical, Severity.high, Severity.medium, Severity.low, Severity.info]

_CSS = """
:root{--crit:#8b0000;--high:#d32f2f;--med:#ef8f00;--low:#1e88e5;--info:#607d8b;--ok:#2e7d32;--bg:#f6f7f9;--fg:#1d232a;
--muted:#5f6b7a;--card:#fff;--line:#dde2e8}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{background:#1d232a;color:#fff;padding:18px 28px}header nav{margin-top:8px}header nav a{color:#9ecbff}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9d1d9}
main{padding:18px 28px;max-width:1400px}section{margin:0 0 26px}h2{font-size:18px;margin:0 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:16px;margin:0 0 4px}h4{font-size:14px;margin:0 0 4px}
#summary{background:var(--card);border:1px solid var(--line);border-left:6px solid #1d232a;padding:12px 18px}
#summary h2{border:0;font-size:20px}#summary .glossary{font-size:12.5px;color:#333;margin:10px 0 4px}#summary .examined{margin:0 0 8px}#summary .headline{font-size:16px;font-weight:600;margin:0 0 8px}
ul.story{margin:0;padding-left:0;list-style:none}ul.story li{margin:0 0 8px;padding-left:16px;border-left:4px solid var(--line);font-size:15px}
ul.story li.critical{border-left-color:var(--crit)}ul.story li.high{border-left-color:var(--high)}ul.story li.medium{border-left-color:var(--med)}
ul.story li.low{border-left-color:var(--low)}ul.story li.cont{margin-left:24px}
.evidence{font-size:12px;color:var(--muted);white-space:nowrap}.evidence a{font-family:ui-monospace,Menlo,Consolas,monospace}
table{border-collapse:collapse;width:100%;background:var(--card)}th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}th.sortable{cursor:pointer;user-select:none}th.sortable:after{content:" \\2195";color:var(--muted)}
th[aria-sort=ascending]:after{content:" \\2191"}th[aria-sort=descending]:after{content:" \\2193"}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0;background:var(--card);padding:10px 14px;border:1px solid var(--line)}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-all}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.sev{display:inline-block;min-width:64px;text-align:center;border-radius:3px;padding:1px 6px;color:#fff;font-weight:600;font-size:12px;text-transform:uppercase}
.sev-critical{background:var(--crit)}.sev-high{background:var(--high)}.sev-medium{background:var(--med)}.sev-low{background:var(--low)}.sev-info{background:var(--info)}
.sev-clean{background:var(--ok)}.sev-none{background:#9e9e9e}
.chips{display:flex;gap:8px;flex-wrap:wrap}.chip{border:1px solid var(--line);background:var(--card);padding:4px 10px;border-radius:4px;cursor:pointer}
.chip b{font-size:16px;margin-right:6px}.chip[aria-pressed=false]{opacity:.45}
.controls{display:flex;gap:12px;align-items:center;margin:0 0 10px;flex-wrap:wrap}.controls input[type=search]{padding:5px 8px;width:320px}
section.app{background:#eef1f5;border:1px solid var(--line);padding:10px 14px;margin:0 0 16px}
section.app>p{margin:2px 0 6px}ul.copies{margin:0 0 8px;padding-left:18px;font-size:12px}
.card{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--info);padding:10px 14px;margin:0 0 10px}
.card.none{border-left-color:#9e9e9e}
.card.critical{border-left-color:var(--crit)}.card.high{border-left-color:var(--high)}.card.medium{border-left-color:var(--med)}.card.low{border-left-color:var(--low)}
.card .meta{color:var(--muted);font-size:12px;margin-bottom:6px}.card .why{background:#fff8e1;padding:6px 8px;margin:6px 0}
.rule{display:inline-block;border-radius:10px;padding:0 8px;margin:1px 4px 1px 0;font-size:12px;color:#fff;text-decoration:none}
.rule-def{background:var(--card);border:1px solid var(--line);padding:8px 12px;margin:0 0 8px}
td.mono{word-break:normal;overflow-wrap:break-word}.figure{break-inside:avoid}
svg.diagram{width:100%;max-width:1000px;height:auto;margin:6px 0;display:block}
svg.timeline,svg.schedule,svg.verdicts{width:100%;max-width:1000px;height:auto;display:block;background:var(--card);border:1px solid var(--line);margin:6px 0}
.path{margin:4px 0;padding-left:18px}.path li{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}.muted{color:var(--muted)}
abbr[title]{text-decoration:underline dotted;cursor:help}
details{margin:4px 0}details>summary{cursor:pointer;color:var(--muted)}
.scroll{overflow-x:auto}.hidden{display:none}.tag{display:inline-block;background:#eef1f5;border-radius:3px;padding:0 5px;margin:1px 3px 1px 0;font-size:12px}
.tag.warn{background:#fde8e8;color:#8b0000}
footer{color:var(--muted);padding:10px 28px 30px;font-size:12px}
@media print{
 @page{size:A4;margin:14mm 12mm}
 body{background:#fff;font-size:10.5pt}header{background:#fff;color:#000;padding:0 0 6px;border-bottom:2px solid #000}
 header p{color:#333}header nav,.controls,.no-print{display:none}main{padding:8px 0;max-width:none}
 #summary{border:1px solid #000;border-left:6px solid #000}
 .card,svg,tr,ul.story li,section.app>h3,dl.kv,.rule-def,.figure{break-inside:avoid}h2,h3,h4{break-after:avoid}
 .card.hidden:not([data-suppressed=true]),section.app.hidden{display:block}
 details::details-content{content-visibility:visible;display:contents}details>summary{list-style:none;color:#000;font-weight:600}
 a{color:#000;text-decoration:none}.scroll{overflow:visible}
 #sections-after-summary{break-before:page}
}
"""

_JS = """
(function(){
  function cellValue(row,i){var c=row.cells[i];return c?(c.getAttribute('data-sort')||c.textContent.trim()):'';}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var heads=table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads,function(th,i){
      th.classList.add('sortable');
      th.addEventListener('click',function(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=cellValue(a,i),y=cellValue(b,i),nx=parseFloat(x),ny=parseFloat(y),r;
          if(!isNaN(nx)&&!isNaN(ny)&&String(nx)===x&&String(ny)===y){r=nx-ny;}else{r=x.localeCompare(y);}
          return asc?r:-r;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  var search=document.getElementById('finding-search');
  var suppressedBox=document.getElementById('show-suppressed');
  var chips=document.querySelectorAll('.chip[data-severity]');
  var cards=document.querySelectorAll('.card[data-severity]');
  var apps=document.querySelectorAll('section.app');
  var count=document.getElementById('finding-count');
  function apply(){
    var q=(search.value||'').toLowerCase(),on={},shown=0,total=0;
    chips.forEach(function(c){on[c.getAttribute('data-severity')]=c.getAttribute('aria-pressed')!=='false';});
    cards.forEach(function(card){
      var sup=card.getAttribute('data-suppressed')==='true';
      if(!sup){total++;}
      var app=card.closest('section.app');
      var text=card.textContent+' '+(app?app.getAttribute('data-package'):'');
      var ok=on[card.getAttribute('data-severity')]!==false&&(!sup||suppressedBox.checked)&&
        (!q||text.toLowerCase().indexOf(q)>=0);
      card.classList.toggle('hidden',!ok);
      if(ok&&!sup){shown++;}
    });
    apps.forEach(function(app){app.classList.toggle('hidden',!app.querySelector('.card:not(.hidden)'));});
    count.textContent='Showing '+shown+' of '+total+' cards';
  }
  chips.forEach(function(c){c.addEventListener('click',function(){
    c.setAttribute('aria-pressed',c.getAttribute('aria-pressed')==='false'?'true':'false');apply();});});
  search.addEventListener('input',apply);suppressedBox.addEventListener('change',apply);
  document.querySelectorAll('[data-filter-package]').forEach(function(a){a.addEventListener('click',function(ev){
    ev.preventDefault();search.value=a.getAttribute('data-filter-package');apply();
    document.getElementById('findings').scrollIntoView();});});
  // A link can carry a filter: report.html#q=com.example.app
  if(location.hash.indexOf('#q=')===0){search.value=decodeURIComponent(location.hash.slice(3));}
  apply();
  // A link to a card hidden by a filter shows it again.
  window.addEventListener('hashchange',function(){var t=document.getElementById(location.hash.slice(1));
    if(t&&t.classList.contains('hidden')){search.value='';chips.forEach(function(c){c.setAttribute('aria-pressed','true');});
    apply();t.scrollIntoView();}});
  document.body.setAttribute('data-ready','1');
})();
"""


def render_html(result: ScanResult) -> str:
    """The scan result as one self-contained HTML page."""
    story = build_story(result)
    title = _title(result)
    nav = [("summary", "Summary")]
    if story.device:
        nav.append(("device", "Phone state"))
    nav += [("findings", "Apps and flows"), ("rules", "Rules"), ("apps", "All apps"), ("overview", "Examination")]
    if result.indicator_sources:
        nav.append(("iocs", "Indicators"))
    if _has_problems(result):
        nav.append(("not-analysed", "Problems"))
    body = [
        f"<header><h1>phonehome report: {escape(title)}</h1>"
        f"<p>{escape(_counts_line(result))}</p><nav>"
        + " &middot; ".join(f"<a href=\"#{a}\">{t}</a>" for a, t in nav)
        + "</nav></header>",
        "<main>",
        _summary(story),
        "<div id=\"sections-after-summary\"></div>",
        _verdicts(story, result),
        _device(story),
        _apps_and_flows(story, result),
        _rules(story, result),
        _apps_table(result),
        _overview(result),
        observed_section(result),  # static and observed evidence side by side (empty if none)
        _ioc_section(result, story),
        _not_analysed(result),
        "</main>",
        f"<footer>{escape(result.tool.name)} {escape(result.tool.version)} (engine {escape(result.tool.engine_version or '-')}, "
        f"rules {escape(result.tool.rules_version or '-')}) &middot; schema {escape(result.schema_version)} &middot; "
        "this file loads nothing from the network; its pictures are drawn by phonehome from the findings</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>phonehome report: {escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + f"\n<script>{_JS}</script>\n</body>\n</html>\n"
    )


def _links(links: list[tuple[str, str]]) -> str:
    if not links:
        return ""
    return (" <span class=\"evidence\">evidence: "
            + ", ".join(f"<a href=\"#{escape(anchor)}\">{escape(label[:12])}</a>" for label, anchor in links)
            + "</span>")


def _sentence(sentence: Sentence) -> str:
    css = (sentence.severity.value if sentence.severity else "") + (" cont" if sentence.continues else "")
    return f"<li class=\"{css.strip()}\">{escape(sentence.text)}{_links(sentence.links)}</li>"


def _summary(story: Story) -> str:
    """Page 1: what was examined, what leaves the phone, to where, how often, from which app; each with its evidence."""
    headline = (f"<p class=\"headline\">{escape(story.headline.text)}</p>" if story.headline else "")
    items = "".join(_sentence(s) for s in story.sentences)
    return (
        "<section id=\"summary\"><h2>What phonehome found</h2>"
        f"<p class=\"examined\">{escape(story.examined.text)}{_links(story.examined.links)}</p>{headline}"
        + (f"<ul class=\"story\">{items}</ul>" if items else "")
        + _glossary(story)
        + "<p class=\"muted\">Every sentence is generated from the findings below; the links lead to the evidence "
        "(the data flow in the app's code, or the phone's records).</p></section>"
    )


def _glossary(story: Story) -> str:
    words = story.glossary
    if not words:
        return ""
    return ("<p class=\"glossary\"><b>Words used:</b> "
            + "; ".join(f"<i>{escape(term)}</i>: {escape(meaning)}" for term, meaning in words) + ".</p>")


def _verdicts(story: Story, result: ScanResult) -> str:
    """Store and firmware scans: how many apps got each verdict, as bars and as a table."""
    if result.target.kind not in ("store", "firmware", "apk_files") or not result.apks:
        return ""
    rows = "".join(
        f"<tr><td data-sort=\"{i}\"><span class=\"sev sev-{v.css}\">{escape(v.verdict)}</span></td>"
        f"<td data-sort=\"{len(v.apps)}\">{len(v.apps)}</td><td class=\"mono\">{escape(', '.join(v.apps[:40]))}"
        + (f" … and {len(v.apps) - 40} more" if len(v.apps) > 40 else "") + "</td></tr>"
        for i, v in enumerate(story.verdicts) if v.apps
    )
    signer = ""
    if result.store and result.store.signer_checks:
        counts = Counter(c.verdict.verdict for c in result.store.signer_checks)
        signer = "<p>Signer checks: " + ", ".join(f"{n} {escape(v)}" for v, n in counts.most_common()) + "</p>"
    return (
        "<section id=\"verdicts\"><h2>Apps by verdict</h2>" + svg.verdict_bars(story.verdicts)
        + "<table class=\"sortable\" id=\"verdict-table\"><thead><tr><th>Verdict</th><th>Apps</th><th>Packages</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>{signer}</section>"
    )


def _device(story: Story) -> str:
    state = story.device
    if state is None:
        return ""
    parts = ["<section id=\"device\"><h2>The phone's state when it was examined</h2>", _connections(state)]
    schedule = [(f"{a.package} alarm ({a.type})", a.interval_seconds) for a in state.alarms if a.interval_seconds]
    schedule += [(f"{j.package} job {j.service.split('/')[-1]}", j.interval_seconds) for j in state.jobs
                 if j.periodic and j.interval_seconds]
    rows = "".join(
        f"<tr><td class=\"mono\">{escape(a.package)}</td><td>alarm {escape(a.type)}</td>"
        f"<td>{'every ' + escape(duration(a.interval_seconds)) if a.interval_seconds else 'once'}</td>"
        f"<td class=\"mono\">{escape(a.action or a.tag or '')}</td><td>{escape(a.when or '')}</td></tr>"
        for a in state.alarms
    ) + "".join(
        f"<tr><td class=\"mono\">{escape(j.package)}</td><td>job {j.job_id}</td>"
        f"<td>{'every ' + escape(duration(j.interval_seconds)) if j.periodic and j.interval_seconds else 'once'}</td>"
        f"<td class=\"mono\">{escape(j.service)}</td>"
        f"<td>{'needs network' if j.requires_network else ''}{', survives reboot' if j.persisted else ''}</td></tr>"
        for j in state.jobs
    )
    if rows:
        parts.append("<div class=\"figure\"><h3>Scheduled tasks (alarms and jobs)</h3>" + svg.schedule(schedule)
                     + "</div><div class=\"scroll\"><table id=\"schedule-table\"><thead><tr><th>App</th><th>Kind</th><th>Runs</th>"
                     f"<th>Action / service</th><th>Next / notes</th></tr></thead><tbody>{rows}</tbody></table></div>")
    facts = [f"<li>setting <span class=\"mono\">{escape(ns)} {escape(key)}</span> = "
             f"<b class=\"mono\">{escape(value if value is not None else 'null')}</b></li>"
             for ns, key, value in state.opt_in_settings]
    facts += [f"<li><span class=\"mono\">{escape(p.name)}</span> is an updated system app: factory copy in "
              f"<span class=\"mono\">{escape(p.factory_code_path or '?')}</span>, update in <span class=\"mono\">"
              f"{escape(', '.join(p.apk_paths))}</span>"
              + (f" (updated {escape(p.last_update_time_raw or '')}" + (f" by {escape(p.installer)}" if p.installer else "")
                 + ")" if p.last_update_time_raw else "") + "</li>"
              for p in state.updated_system_apps]
    if facts:
        parts.append(f"<h3>Settings and updates</h3><ul>{''.join(facts)}</ul>")
    if story.timeline:
        parts.append("<div class=\"figure\"><h3>Timeline</h3><p class=\"muted\">Installs and updates (phone's local time, as it reports "
                     "them), signing certificates, and this examination. Blue: install, orange: update, purple: "
                     "certificate, green: acquisition and analysis.</p>" + svg.timeline(story.timeline) + "</div>")
    return "".join(parts) + "</section>"


def _connections(state: DeviceState) -> str:
    if not state.connections:
        return "<p>No connection to another host was open.</p>"
    rows = []
    for c in state.connections:
        s = c.socket
        in_code = ("yes: " + ", ".join(f"<span class=\"mono\">{escape(v)}</span>" for v in c.in_code)
                   + _links(c.flow_anchors)) if c.in_code else "no"
        rows.append(
            f"<tr><td class=\"mono\">{escape(', '.join(c.apps) or '-')}</td><td>{s.uid}"
            + (f" <span class=\"muted\">{escape(s.owner)}</span>" if s.owner else "")
            + f"</td><td class=\"mono\">{escape(remote_ip(s))}:{s.remote_port}</td><td>{escape(s.protocol)} "
            f"{escape(s.state)}</td><td>{escape(s.remote_country or '-')}</td><td>{in_code}</td></tr>"
        )
    return ("<h3>Live connections</h3><div class=\"scroll\"><table class=\"sortable\" id=\"connections-table\">"
            "<thead><tr><th>App</th><th>UID</th><th>Remote address</th><th>State</th><th>Country</th>"
            f"<th>Address in the app's code</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _severity_chips(result: ScanResult) -> str:
    counts = Counter(f.severity for f in result.all_findings())
    return "<div class=\"chips\">" + "".join(
        f"<button class=\"chip\" type=\"button\" data-severity=\"{s.value}\" aria-pressed=\"true\" "
        f"title=\"show or hide {s.value} cards\"><b>{counts[s]}</b><span class=\"sev sev-{s.value}\">{s.value}</span>"
        "</button>"
        for s in _SEVERITIES
    ) + "</div>"


def _apps_and_flows(story: Story, result: ScanResult) -> str:
    cards = sum(len(a.flows) + len(a.findings) for a in story.apps) + len(story.device_findings)
    controls = (
        "<div class=\"controls\">" + _severity_chips(result)
        + "<input type=\"search\" id=\"finding-search\" placeholder=\"Filter (package, data, endpoint, rule ...)\" "
        "aria-label=\"Filter cards\">"
        f"<label><input type=\"checkbox\" id=\"show-suppressed\"> show suppressed ({len(result.suppressed)})</label>"
        f"<span id=\"finding-count\">{cards} cards</span></div>"
    )
    sections = "".join(_app_section(app, story) for app in story.apps)
    device = ""
    if story.device_findings:
        device = ("<section class=\"app\" data-package=\"\" id=\"device-findings\"><h3>The device</h3>"
                  + "".join(_finding_card(v) for v in story.device_findings) + "</section>")
    suppressed = ""
    if story.suppressed:
        suppressed = ("<div id=\"suppressed\">" + "".join(_finding_card(v) for v in story.suppressed) + "</div>")
    empty = "" if (story.apps or story.device_findings) else "<p>No findings and no data flow.</p>"
    flows = sum(len(a.flows) for a in story.apps)
    return (f"<section id=\"findings\"><h2>Apps and their data flows ({plural(flows, 'flow')}, "
            f"{len(result.all_findings())} findings)</h2>"
            "<p class=\"muted\">One card per data flow, grouped by app; the rules that matched a flow are its "
            "labels. Findings that rest on no flow have cards of their own.</p>"
            f"{controls}{empty}{sections}{device}{suppressed}</section>")


def _rules(story: Story, result: ScanResult) -> str:
    """Each rule that matched, explained once (flow cards carry only its label and its words for that flow)."""
    if not result.rules:
        return ""
    items = "".join(
        f"<div class=\"rule-def\" id=\"{escape(story.rule_anchors.get(r.id, ''))}\"><span class=\"sev sev-{r.severity.value}\">"
        f"{r.severity.value}</span> <b>{escape(r.title)}</b> <span class=\"mono muted\">{escape(r.id)}</span> "
        f"<span class=\"muted\">(confidence {r.confidence.value})</span><div>{escape(r.description)}</div>"
        + (f"<div class=\"why\"><b>Why it matters:</b> {escape(r.why)}</div>" if r.why else "")
        + (f"<div class=\"muted\">References: {escape(', '.join(r.references))}</div>" if r.references else "")
        + "</div>"
        for r in sorted(result.rules, key=lambda r: (-r.severity.rank, r.id))
    )
    return f"<section id=\"rules\"><h2>What the rules mean</h2>{items}</section>"


def _copy(copy: CopyView) -> str:
    status = "" if copy.status is Status.analysed else f" &middot; {escape(copy.status.value)}: {escape(copy.reason or '')}"
    role = f" <b>{escape(copy.role)}</b>" if copy.role else ""
    where = ", ".join(f"<span class=\"mono\">{escape(p)}</span>" for p in copy.locations)
    many = f" ({len(copy.locations)} identical copies)" if len(copy.locations) > 1 else ""
    return (f"<li id=\"{escape(copy.anchor)}\">{role} version {escape(copy.version or '?')}{many}: {where} "
            f"&middot; SHA-256 <span class=\"mono\">{escape(copy.sha256 or 'unknown')}</span>{status}</li>")


def _app_section(app: AppStory, story: Story) -> str:
    sev = app.severity.value if app.severity else "none"
    label = f" <span class=\"muted\">({escape(app.label)})</span>" if app.label else ""
    return (
        f"<section class=\"app\" id=\"{escape(app.anchor)}\" data-package=\"{escape(app.package)}\">"
        f"<h3><span class=\"sev sev-{sev}\">{sev}</span> <span class=\"mono\">{escape(app.package)}</span>{label}</h3>"
        f"<p>{escape(app.who[0].upper() + app.who[1:])}; {plural(len(app.copies), 'distinct APK')}"
        f" (by SHA-256):</p><ul class=\"copies\">{''.join(_copy(c) for c in app.copies)}</ul>"
        + "".join(_flow_card(f, app, story) for f in app.flows)
        + "".join(_finding_card(v) for v in app.findings)
        + "</section>"
    )


def _api(name: str, raw: str) -> str:
    return f"<abbr class=\"mono\" title=\"{escape(raw)}\">{escape(name)}</abbr>"


def _label(lab: RuleLabel, anchor: str | None) -> str:
    """A rule on a flow card: a link to the rule's explanation (when the result carries the rule), the finding's
    words for this flow in the tooltip."""
    tag, href = ("a", f" href=\"#{escape(anchor)}\"") if anchor else ("span", "")
    return (f"<{tag} class=\"rule sev-{lab.severity.value}\"{href} title=\"{escape(lab.rule_id)}: "
            f"{escape(' / '.join(lab.messages))}\">{escape(lab.title)}</{tag}>")


def _flow_card(flow: FlowStory, app: AppStory, story: Story) -> str:
    sev = flow.severity.value if flow.severity else "none"
    labels = "".join(_label(lab, story.rule_anchors.get(lab.rule_id)) for lab in flow.labels) or "<span class=\"muted\">no rule matched this flow</span>"
    endpoints = "".join(
        f"<span class=\"tag mono\">{escape(e.value)}</span>"
        + (f"<span class=\"tag\">registered in {escape(e.country)}</span>" if e.country else "")
        + ("<span class=\"tag warn\">hard-coded IP</span>" if e.hard_coded_ip else "")
        for e in flow.endpoints
    ) or "<span class=\"muted\">no constant address found in the code</span>"
    copies = {c.anchor: c for c in app.copies}
    carried = ", ".join(
        f"<a href=\"#{escape(a)}\">{escape(copies[a].role or 'version ' + (copies[a].version or '?'))}</a>"
        for a in flow.copies if a in copies
    )
    steps = "".join(f"<li>{escape(str(step))}</li>" for step in flow.path)
    rules = "".join(
        f"<li><span class=\"sev sev-{lab.severity.value}\">{lab.severity.value}</span> <b>{escape(lab.title)}</b> "
        f"<span class=\"mono muted\">{escape(lab.rule_id)}</span>: " + " / ".join(escape(m) for m in lab.messages)
        + f" <span class=\"muted\">(fingerprint <span class=\"mono\">{escape(', '.join(lab.fingerprints))}</span>)</span></li>"
        for lab in flow.labels
    )
    facts = [
        ("Reads", f"{escape(flow.data)} with {_api(flow.source_api, flow.source_raw)}"),
        ("Sends with", _api(flow.sink_api, flow.sink_raw) + f" <span class=\"muted\">({escape(flow.sink_kind)})</span>"),
        ("To", endpoints),
        ("When", escape(flow.when) + (f" <span class=\"muted\">({escape('; '.join(flow.triggers))})</span>"
                                      if flow.triggers else "")),
        ("Transformed", escape(", ".join(flow.transformations) or "no (sent as read)")),
    ]
    if flow.permissions:
        facts.append(("Permissions", "".join(f"<span class=\"tag mono\">{escape(p)}</span>" for p in flow.permissions)))
    if carried:
        facts.append(("In", carried))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f"<article class=\"card flow-card {sev}\" id=\"{escape(flow.anchor)}\" data-flow-id=\"{escape(flow.id)}\" "
        f"data-severity=\"{sev}\" data-package=\"{escape(flow.package)}\" data-suppressed=\"false\">"
        f"<h4><span class=\"sev sev-{sev}\">{sev}</span> {escape(flow.line())} "
        f"<span class=\"muted mono\">flow {escape(flow.id)}</span></h4>"
        f"<div>{labels}</div>{svg.flow_diagram(flow)}<dl class=\"facts\">{dl}</dl>"
        f"<details><summary>Call path ({len(flow.path)} steps) and raw signatures, for the expert</summary>"
        f"<div class=\"muted mono\">source {escape(flow.source_raw)}</div><ol class=\"path\">{steps}</ol>"
        f"<div class=\"muted mono\">sink {escape(flow.sink_raw)}</div>"
        f"<div class=\"muted\">entry point {escape(flow.entry or '-')}</div></details>"
        + (f"<details><summary>What the {len(flow.labels)} matching rules say about it</summary><ul>{rules}</ul>"
           "</details>" if rules else "")
        + "</article>"
    )


def _finding_card(view: FindingView) -> str:
    finding: Finding = view.finding
    rule = view.rule
    why = (rule.why or rule.description) if rule else ""
    refs = f"<div class=\"muted\">References: {escape(', '.join(rule.references))}</div>" if rule and rule.references else ""
    evidence = "".join(f"<li>{escape(line)}</li>" for line in finding.evidence)
    suppressed = view.suppressed_note is not None
    missing = (f"<div class=\"muted\">Flows this finding names that are not in this report: "
               f"{escape(', '.join(view.missing_flows))}</div>" if view.missing_flows else "")
    return (
        f"<article class=\"card finding-card {finding.severity.value}{' hidden' if suppressed else ''}\" "
        f"id=\"{escape(view.anchor)}\" data-severity=\"{finding.severity.value}\" "
        f"data-package=\"{escape(finding.package or '')}\" data-rule=\"{escape(finding.rule_id)}\" "
        f"data-suppressed=\"{'true' if suppressed else 'false'}\">"
        f"<h4><span class=\"sev sev-{finding.severity.value}\">{finding.severity.value}</span> {escape(finding.title)}</h4>"
        f"<div class=\"meta\"><span class=\"mono\">{escape(finding.package or 'device')}</span> &middot; rule "
        f"<span class=\"mono\">{escape(finding.rule_id)}</span> &middot; confidence {finding.confidence.value} &middot; "
        f"fingerprint <span class=\"mono\">{escape(finding.fingerprint)}</span></div>"
        + (f"<div class=\"why\">Suppressed by baseline: {escape(view.suppressed_note or '')}</div>" if suppressed else "")
        + f"<p>{escape(finding.message)}</p>"
        + (f"<div class=\"why\"><b>Why it matters:</b> {escape(why)}</div>" if why else "")
        + refs
        + (f"<ul>{evidence}</ul>" if evidence else "")
        + missing
        + "</article>"
    )


def _title(result: ScanResult) -> str:
    identity = result.target.identity
    if identity and (identity.brand or identity.model):
        return " ".join(x for x in (identity.brand, identity.model) if x)
    if result.firmware:
        return result.firmware.file
    return ", ".join(result.target.inputs[:3]) or result.target.kind


def _counts_line(result: ScanResult) -> str:
    status = Counter(a.status for a in result.apks)
    findings = result.all_findings()
    errors = sum(1 for e in result.input_errors if e.level == "error")
    warnings = len(result.input_errors) - errors
    return (
        f"{len(result.apks)} APKs scanned: {status[Status.analysed]} analysed, {status[Status.partial]} partial, "
        f"{status[Status.not_analysed]} not analysed"
        + (f", {errors} input{'' if errors == 1 else 's'} unusable" if errors else "")
        + (f", {warnings} part{'' if warnings == 1 else 's'} of the evidence not collected" if warnings else "")
        + f"; {len(findings)} findings"
        + (f", {len(result.suppressed)} suppressed by baseline" if result.suppressed else "")
        + f"; {_when(result.started_at)} to {_when(result.finished_at)}"
    )


def _when(moment: datetime) -> str:
    """A timestamp to read in the header: to the second, UTC (the overview keeps the exact value)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _kv(pairs: list[tuple[str, str | None]]) -> str:
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in pairs if v not in (None, ""))
    return f"<dl class=\"kv\">{rows}</dl>"


def _overview(result: ScanResult) -> str:
    identity = result.target.identity
    pairs: list[tuple[str, str | None]] = [("Target", result.target.kind), ("Inputs", ", ".join(result.target.inputs))]
    if identity:
        pairs += [
            ("Brand", identity.brand), ("Manufacturer", identity.manufacturer), ("Model", identity.model),
            ("Device", identity.device), ("Fingerprint", identity.fingerprint), ("Android", identity.android_version),
            ("SDK", str(identity.sdk) if identity.sdk is not None else None), ("Security patch", identity.security_patch),
            ("Build id", identity.build_id), ("Serial", identity.serial), ("SELinux", identity.selinux),
        ]
    if result.firmware:
        pairs += [("Firmware file", result.firmware.file), ("Firmware SHA-256", result.firmware.sha256)]
    if result.inventory is not None:
        remote = [s for s in result.inventory.sockets if s.is_remote]
        pairs.append(("Inventory", f"{len(result.inventory.packages)} packages, {len(remote)} remote connections, "
                      f"{len(result.inventory.parse_problems)} parse problems"))
    pairs += [
        ("Scan started", result.started_at.isoformat()), ("Scan finished", result.finished_at.isoformat()),
        ("Tool", f"{result.tool.name} {result.tool.version}"),
    ]
    for source in result.indicator_sources:
        pairs.append(("Indicators", f"{source.file} (sha256 {source.sha256}, {source.indicators} usable, "
                      f"{len(source.skipped)} skipped)"))
    if result.baseline_file:
        pairs.append(("Baseline", f"{result.baseline_file} ({len(result.suppressed)} findings suppressed)"))
    return f"<section id=\"overview\"><h2>Details of the examination</h2>{_kv(pairs)}</section>"


def _worst(findings: list[Finding]) -> Severity | None:
    return max((f.severity for f in findings), key=lambda s: s.rank, default=None)


def _verdict(apk: ApkReport) -> tuple[str, str, int]:
    """(label, css class, sort rank) of one APK."""
    worst = _worst(apk.findings)
    if worst is not None:
        return worst.value, worst.value, worst.rank + 2
    if apk.status is Status.not_analysed:
        return "not analysed", "none", 0
    return ("no findings (partial)" if apk.status is Status.partial else "no findings"), "clean", 1


def _apps_table(result: ScanResult) -> str:
    store = result.store
    signer = {c.apk_path: c for c in store.signer_checks} if store else {}
    sdks: dict[str, list[str]] = {}
    for hit in store.trackers if store else []:
        sdks.setdefault(hit.apk_path, []).append(hit.name + (" (on a leak flow)" if hit.on_leak_flow else ""))
    rows = []
    for apk in sorted(result.apks, key=lambda a: (-_verdict(a)[2], a.package or a.path)):  # worst first
        label, css, rank = _verdict(apk)
        meta = apk.metadata
        package = apk.package or "-"
        where = apk.provenance.device_path or apk.provenance.display or apk.path
        status = apk.status.value + (f": {apk.reason}" if apk.reason else "")
        link = (
            f"<a href=\"#findings\" data-filter-package=\"{escape(package)}\">{escape(package)}</a>"
            if apk.findings else escape(package)
        )
        store_cells = ""
        if store is not None:
            check = signer.get(apk.path)
            verdict = check.verdict.verdict if check else "-"
            reasons = "; ".join(check.verdict.reasons) if check else ""
            store_cells = (
                f"<td title=\"{escape(reasons)}\" data-sort=\"{escape(verdict)}\">{escape(verdict)}</td>"
                f"<td>{escape(', '.join(sdks.get(apk.path, [])))}</td>"
            )
        rows.append(
            "<tr>"
            f"<td data-sort=\"{rank}\"><span class=\"sev sev-{css}\">{escape(label)}</span></td>"
            f"<td class=\"mono\">{link}</td>"
            f"<td>{escape(meta.label or '') if meta else ''}</td>"
            f"<td>{escape(meta.version_name or '') if meta else ''}</td>"
            f"<td data-sort=\"{len(apk.findings)}\">{len(apk.findings)}</td>"
            f"<td data-sort=\"{len(apk.flows)}\">{len(apk.flows)}</td>"
            + store_cells
            + f"<td>{escape(status)}</td>"
            f"<td class=\"mono\">{escape(where)}</td>"
            f"<td class=\"mono\" title=\"{escape(apk.sha256 or '')}\">{escape((apk.sha256 or '')[:16])}</td>"
            "</tr>"
        )
    columns = ["Verdict", "Package", "Label", "Version", "Findings", "Flows"]
    if store is not None:
        columns += ["Signer check", "SDKs"]  # store checks: genuine/tampered and the tracker SDKs found
    columns += ["Status", "Where", "SHA-256"]
    head = "".join(f"<th>{h}</th>" for h in columns)
    return (
        "<section id=\"apps\"><h2>All apps</h2>"
        # a narrow window scrolls the table sideways instead of cutting off its last columns (SHA-256)
        f"<div class=\"scroll\"><table class=\"sortable\" id=\"apps-table\"><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        "</section>"
    )


def _ioc_where(m: IocMatch, story: Story) -> str:
    """Where an indicator matched; a flow endpoint's flow id is a link to its card."""
    anchor = story.flow_anchor(m.apk_sha256, m.location or "") if m.target == "flow_endpoint" else None
    if anchor:
        return f"flow <a href=\"#{escape(anchor)}\">{escape(m.location or '')}</a>"
    return escape(m.location or "")


def _ioc_section(result: ScanResult, story: Story) -> str:
    if not result.indicator_sources:
        return ""
    rows = "".join(
        "<tr>"
        f"<td>{escape(m.campaign or '-')}</td><td class=\"mono\">{escape(m.kind)} {escape(m.indicator_value)}</td>"
        f"<td>{escape(m.target)}</td><td class=\"mono\">{escape(m.observed)}</td>"
        f"<td class=\"mono\">{escape(m.package or '-')}</td><td class=\"mono\">{_ioc_where(m, story)}</td>"
        f"<td class=\"mono\">{escape(m.source_file)}</td></tr>"
        for m in result.ioc_matches
    )
    skipped = "".join(
        f"<li><span class=\"mono\">{escape(s.id)}</span> <code>{escape(s.pattern)}</code>: {escape(s.reason)}</li>"
        for source in result.indicator_sources for s in source.skipped
    )
    table = (
        "<div class=\"scroll\"><table class=\"sortable\" id=\"ioc-table\"><thead><tr><th>Campaign</th><th>Indicator</th><th>Matched</th>"
        f"<th>Observed</th><th>Package</th><th>Where</th><th>File</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if rows else "<p>No indicator matched.</p>"
    )
    return (
        f"<section id=\"iocs\"><h2>Indicator matches ({len(result.ioc_matches)})</h2>{table}"
        + (f"<p>Indicators that could not be used:</p><ul>{skipped}</ul>" if skipped else "")
        + "</section>"
    )


def _not_analysed(result: ScanResult) -> str:
    items = [
        f"<li><span class=\"mono\">{escape(a.path)}</span>: {escape(a.status.value)}: {escape(a.reason or 'no reason recorded')}</li>"
        for a in result.apks if a.status is not Status.analysed
    ] + [
        f"<li><span class=\"mono\">{escape(e.path)}</span>: "
        f"{'input error' if e.level == 'error' else 'not collected (warning)'}: {escape(e.reason)}</li>"
        for e in result.input_errors
    ]
    if not items:
        return ""
    return (f"<section id=\"not-analysed\"><h2>Problems: not (fully) analysed, not collected ({len(items)})</h2>"
            f"<ul>{''.join(items)}</ul></section>")


def _has_problems(result: ScanResult) -> bool:
    return bool(result.input_errors) or any(a.status is not Status.analysed for a in result.apks)


