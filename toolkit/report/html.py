"""Self-contained HTML report: one file, inline CSS and JS, nothing loaded from the network when opened.

Sections: overview of the device or image, findings by severity, a sortable table of apps with their verdicts,
one card per finding (flow path, endpoints, triggers, permissions, why it matters), indicator matches, what could
not be analysed, and what a baseline suppressed. The page is fully rendered on the server side (readable without
JS); the inline script adds sorting, filtering and the live count of shown findings.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from html import escape

from toolkit.models import ApkReport, Finding, Flow, RuleInfo, ScanResult, Severity, Status
from toolkit.report.observed_html import observed_section

_SEVERITIES = [Severity.critical, Severity.high, Severity.medium, Severity.low, Severity.info]

_CSS = """
:root{--crit:#8b0000;--high:#d32f2f;--med:#ef8f00;--low:#1e88e5;--info:#607d8b;--ok:#2e7d32;--bg:#f6f7f9;--fg:#1d232a;
--muted:#5f6b7a;--card:#fff;--line:#dde2e8}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{background:#1d232a;color:#fff;padding:18px 28px}header nav{margin-top:8px}header nav a{color:#9ecbff}
details.app{background:var(--card);border:1px solid var(--line);padding:6px 12px;margin:0 0 6px}details.app summary{cursor:pointer}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9d1d9}
main{padding:18px 28px;max-width:1400px}section{margin:0 0 26px}h2{font-size:18px;margin:0 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
table{border-collapse:collapse;width:100%;background:var(--card)}th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}th.sortable{cursor:pointer;user-select:none}th.sortable:after{content:" \\2195";color:var(--muted)}
th[aria-sort=ascending]:after{content:" \\2191"}th[aria-sort=descending]:after{content:" \\2193"}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0;background:var(--card);padding:10px 14px;border:1px solid var(--line)}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-all}
.sev{display:inline-block;min-width:64px;text-align:center;border-radius:3px;padding:1px 6px;color:#fff;font-weight:600;font-size:12px;text-transform:uppercase}
.sev-critical{background:var(--crit)}.sev-high{background:var(--high)}.sev-medium{background:var(--med)}.sev-low{background:var(--low)}.sev-info{background:var(--info)}
.sev-clean{background:var(--ok)}.sev-none{background:#9e9e9e}
.chips{display:flex;gap:8px;flex-wrap:wrap}.chip{border:1px solid var(--line);background:var(--card);padding:6px 12px;border-radius:4px;cursor:pointer}
.chip b{font-size:18px;margin-right:6px}.chip[aria-pressed=false]{opacity:.45}
.controls{display:flex;gap:12px;align-items:center;margin:0 0 10px;flex-wrap:wrap}.controls input[type=search]{padding:5px 8px;width:320px}
.card{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--info);padding:10px 14px;margin:0 0 10px}
.card.critical{border-left-color:var(--crit)}.card.high{border-left-color:var(--high)}.card.medium{border-left-color:var(--med)}.card.low{border-left-color:var(--low)}
.card h3{margin:0 0 4px;font-size:15px}.card .meta{color:var(--muted);font-size:12px;margin-bottom:6px}.card .why{background:#fff8e1;padding:6px 8px;margin:6px 0}
.flow{border-top:1px dashed var(--line);padding-top:6px;margin-top:6px}.path{margin:4px 0;padding-left:18px}.path li{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}.muted{color:var(--muted)}
.scroll{overflow-x:auto}.hidden{display:none}.tag{display:inline-block;background:#eef1f5;border-radius:3px;padding:0 5px;margin:1px 3px 1px 0;font-size:12px}
footer{color:var(--muted);padding:10px 28px 30px;font-size:12px}
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
  var count=document.getElementById('finding-count');
  function apply(){
    var q=(search.value||'').toLowerCase(),on={},shown=0,total=0;
    chips.forEach(function(c){on[c.getAttribute('data-severity')]=c.getAttribute('aria-pressed')!=='false';});
    cards.forEach(function(card){
      var sup=card.getAttribute('data-suppressed')==='true';
      if(!sup){total++;}
      var ok=on[card.getAttribute('data-severity')]!==false&&(!sup||suppressedBox.checked)&&
        (!q||card.textContent.toLowerCase().indexOf(q)>=0);
      card.classList.toggle('hidden',!ok);
      if(ok&&!sup){shown++;}
    });
    count.textContent='Showing '+shown+' of '+total+' findings';
  }
  chips.forEach(function(c){c.addEventListener('click',function(){
    c.setAttribute('aria-pressed',c.getAttribute('aria-pressed')==='false'?'true':'false');apply();});});
  search.addEventListener('input',apply);suppressedBox.addEventListener('change',apply);
  var pkgFilter=document.querySelectorAll('[data-filter-package]');
  pkgFilter.forEach(function(a){a.addEventListener('click',function(ev){ev.preventDefault();
    search.value=a.getAttribute('data-filter-package');apply();
    document.getElementById('findings').scrollIntoView();});});
  // A link can carry a filter: report.html#q=com.example.app
  if(location.hash.indexOf('#q=')===0){search.value=decodeURIComponent(location.hash.slice(3));}
  apply();
  document.body.setAttribute('data-ready','1');
})();
"""


def render_html(result: ScanResult) -> str:
    """The scan result as one self-contained HTML page."""
    rules = {rule.id: rule for rule in result.rules}
    title = _title(result)
    body = [
        f"<header><h1>phonehome report: {escape(title)}</h1>"
        f"<p>{escape(_counts_line(result))}</p>"
        "<nav><a href=\"#overview\">Overview</a> &middot; <a href=\"#apps\">Apps</a> &middot; "
        "<a href=\"#findings\">Findings</a> &middot; <a href=\"#flows\">Data flows</a>"
        + (" &middot; <a href=\"#iocs\">Indicators</a>" if result.indicator_sources else "")
        + (" &middot; <a href=\"#not-analysed\">Problems</a>" if _has_problems(result) else "")
        + "</nav></header>",
        "<main>",
        _overview(result),
        _severity_chips(result),
        _apps_table(result),
        _findings(result, rules),
        _flows_section(result),
        observed_section(result),  # issue 16: static and observed evidence side by side (empty if none)
        _ioc_section(result),
        _not_analysed(result),
        "</main>",
        f"<footer>{escape(result.tool.name)} {escape(result.tool.version)} (engine {escape(result.tool.engine_version or '-')}, "
        f"rules {escape(result.tool.rules_version or '-')}) &middot; schema {escape(result.schema_version)} &middot; "
        "this file loads nothing from the network</footer>",
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
    return f"<section id=\"overview\"><h2>Overview</h2>{_kv(pairs)}</section>"


def _severity_chips(result: ScanResult) -> str:
    counts = Counter(f.severity for f in result.all_findings())
    chips = "".join(
        f"<button class=\"chip\" type=\"button\" data-severity=\"{s.value}\" aria-pressed=\"true\" "
        f"title=\"show or hide {s.value} findings\"><b>{counts[s]}</b><span class=\"sev sev-{s.value}\">{s.value}</span>"
        "</button>"
        for s in _SEVERITIES
    )
    return f"<section id=\"summary\"><h2>Findings by severity</h2><div class=\"chips\">{chips}</div></section>"


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
        "<section id=\"apps\"><h2>Apps</h2>"
        # a narrow window scrolls the table sideways instead of cutting off its last columns (SHA-256)
        f"<div class=\"scroll\"><table class=\"sortable\" id=\"apps-table\"><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        "</section>"
    )


def _flow_html(flow: Flow) -> str:
    steps = [flow.source.location, *[p for p in flow.path if p not in (flow.source.location, flow.sink.location)],
             flow.sink.location]
    path = "".join(f"<li>{escape(str(step))}</li>" for step in steps)
    endpoints = "".join(
        f"<span class=\"tag mono\">{escape(e.value)}"
        + (f" ({escape(e.country)})" if e.country else "")
        + (" hard-coded IP" if e.hard_coded_ip else "")
        + "</span>"
        for e in flow.endpoints
    ) or "<span class=\"muted\">none constant</span>"
    triggers = "".join(
        "<span class=\"tag\">"
        + escape(t.kind + (f" {t.component}" if t.component else "")
                 + (f" every {t.period_seconds} s" if t.period_seconds else "")
                 + (" (exported)" if t.exported else ""))
        + "</span>"
        for t in flow.triggers
    ) or "<span class=\"muted\">unknown</span>"
    extra = ""
    if flow.transformations:
        extra += f"<div>Transformations: {escape(', '.join(flow.transformations))}</div>"
    if flow.permissions:
        extra += "<div>Permissions: " + "".join(f"<span class=\"tag mono\">{escape(p)}</span>" for p in flow.permissions) + "</div>"
    return (
        f"<div class=\"flow\" data-flow-id=\"{escape(flow.id)}\"><div><b>{escape(flow.source.kind)} &rarr; "
        f"{escape(flow.sink.kind)}</b> <span class=\"muted mono\">{escape(flow.id)}</span></div>"
        f"<div class=\"muted mono\">source {escape(flow.source.api)}</div>"
        f"<ol class=\"path\">{path}</ol>"
        f"<div class=\"muted mono\">sink {escape(flow.sink.api)}</div>"
        f"<div>Endpoints: {endpoints}</div><div>Triggers: {triggers}</div>{extra}</div>"
    )


def _card(finding: Finding, apk: ApkReport | None, rule: RuleInfo | None, suppressed_note: str | None) -> str:
    flows = {f.id: f for f in apk.flows} if apk else {}
    flow_html = "".join(_flow_html(flows[i]) for i in finding.flow_ids if i in flows)
    missing = [i for i in finding.flow_ids if i not in flows]
    why = rule.why or rule.description if rule else ""
    refs = f"<div class=\"muted\">References: {escape(', '.join(rule.references))}</div>" if rule and rule.references else ""
    evidence = "".join(f"<li>{escape(line)}</li>" for line in finding.evidence)
    where = ""
    if apk is not None:
        where = f" &middot; <span class=\"mono\">{escape(apk.provenance.device_path or apk.path)}</span>"
    suppressed = suppressed_note is not None
    return (
        f"<article class=\"card {finding.severity.value}{' hidden' if suppressed else ''}\" "
        f"data-severity=\"{finding.severity.value}\" data-package=\"{escape(finding.package or '')}\" "
        f"data-rule=\"{escape(finding.rule_id)}\" data-suppressed=\"{'true' if suppressed else 'false'}\">"
        f"<h3><span class=\"sev sev-{finding.severity.value}\">{finding.severity.value}</span> {escape(finding.title)}</h3>"
        f"<div class=\"meta\"><span class=\"mono\">{escape(finding.package or 'device')}</span>{where} &middot; rule "
        f"<span class=\"mono\">{escape(finding.rule_id)}</span> &middot; confidence {finding.confidence.value} &middot; "
        f"fingerprint <span class=\"mono\">{escape(finding.fingerprint)}</span></div>"
        + (f"<div class=\"why\">Suppressed by baseline: {escape(suppressed_note or '')}</div>" if suppressed else "")
        + f"<p>{escape(finding.message)}</p>"
        + (f"<div class=\"why\"><b>Why it matters:</b> {escape(why)}</div>" if why else "")
        + refs
        + (f"<ul>{evidence}</ul>" if evidence else "")
        + flow_html
        + (f"<div class=\"muted\">Flows not in the report: {escape(', '.join(missing))}</div>" if missing else "")
        + "</article>"
    )


def _findings(result: ScanResult, rules: dict[str, RuleInfo]) -> str:
    entries: list[tuple[Finding, ApkReport | None, str | None]] = []
    for apk in result.apks:
        entries += [(f, apk, None) for f in apk.findings]
    entries += [(f, None, None) for f in result.device_findings]
    by_sha = {a.sha256: a for a in result.apks if a.sha256}
    for s in result.suppressed:
        entries.append((s.finding, by_sha.get(s.finding.apk_sha256 or ""), s.note or f"baseline {s.baseline_file}"))
    entries.sort(key=lambda e: (e[2] is not None, -e[0].severity.rank, e[0].package or "", e[0].rule_id))
    cards = "".join(_card(f, apk, rules.get(f.rule_id), note) for f, apk, note in entries)
    controls = (
        "<div class=\"controls\"><input type=\"search\" id=\"finding-search\" placeholder=\"Filter findings (package, "
        "rule, endpoint ...)\" aria-label=\"Filter findings\">"
        f"<label><input type=\"checkbox\" id=\"show-suppressed\"> show suppressed ({len(result.suppressed)})</label>"
        f"<span id=\"finding-count\">{len(result.all_findings())} findings</span></div>"
    )
    empty = "" if entries else "<p>No findings.</p>"
    return f"<section id=\"findings\"><h2>Findings</h2>{controls}{empty}{cards}</section>"


def _ioc_section(result: ScanResult) -> str:
    if not result.indicator_sources:
        return ""
    rows = "".join(
        "<tr>"
        f"<td>{escape(m.campaign or '-')}</td><td class=\"mono\">{escape(m.kind)} {escape(m.indicator_value)}</td>"
        f"<td>{escape(m.target)}</td><td class=\"mono\">{escape(m.observed)}</td>"
        f"<td class=\"mono\">{escape(m.package or '-')}</td><td class=\"mono\">{escape(m.location or '')}</td>"
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


def _flows_section(result: ScanResult) -> str:
    """Every flow of every APK, findings or not: the engine's evidence, one collapsible block per app."""
    blocks = []
    for apk in sorted(result.apks, key=lambda a: (-len(a.flows), a.package or a.path)):
        if not apk.flows:
            continue
        kinds = sorted({f"{f.source.kind} → {f.sink.kind}" for f in apk.flows})
        blocks.append(
            f"<details class=\"app\" data-package=\"{escape(apk.package or '')}\"><summary><span class=\"mono\">"
            f"{escape(apk.package or apk.path)}</span>: {len(apk.flows)} flows ({escape(', '.join(kinds))})</summary>"
            + "".join(_flow_html(flow) for flow in apk.flows)
            + "</details>"
        )
    total = sum(len(a.flows) for a in result.apks)
    body = "".join(blocks) if blocks else "<p>No data flow from a sensitive source to a sink was found.</p>"
    return f"<section id=\"flows\"><h2>Data flows ({total})</h2>{body}</section>"
