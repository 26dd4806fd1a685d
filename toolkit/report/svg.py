"""Small inline SVG pictures drawn by phonehome itself (no library, nothing loaded): a flow diagram per flow card,
a timeline of a phone scan, how often scheduled tasks run, and apps by verdict.

Every text that reaches a picture comes from the evidence and is escaped; no picture uses ids, links or url(), so
many of them can sit in one page under the report's strict Content-Security-Policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from toolkit.report.story import FlowStory, TimelineEvent, VerdictCount, duration, join_words

_COLOURS = {"critical": "#8b0000", "high": "#d32f2f", "medium": "#ef8f00", "low": "#1e88e5", "info": "#607d8b",
            "clean": "#2e7d32", "none": "#9e9e9e"}
_KIND_COLOURS = {"install": "#1e88e5", "update": "#ef8f00", "certificate": "#6a1b9a", "acquisition": "#2e7d32"}
_FONT = "font-family=\"system-ui,sans-serif\""


def _fit(text: str, width: int) -> list[str]:
    """`text` in at most two lines of `width` characters, cut where a name breaks (., (, space), then with '…'."""
    if len(text) <= width:
        return [text]
    cut = max((text.rfind(c, 0, width) for c in (" ", ".", "(", "/")), default=-1)
    cut = cut if cut > width // 3 else width
    first, rest = text[:cut], text[cut:].lstrip(" ")
    return [first, rest if len(rest) <= width else rest[: width - 1] + "…"]


def _one_line(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _box(x: int, y: int, w: int, h: int, heading: str, body: str, colour: str, tooltip: str) -> str:
    lines = _fit(body, w // 7 + 1)
    text = "".join(
        f"<text x=\"{x + w // 2}\" y=\"{y + 34 + 14 * i}\" text-anchor=\"middle\" font-size=\"12\">{escape(line)}</text>"
        for i, line in enumerate(lines)
    )
    return (
        f"<g><title>{escape(tooltip)}</title><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" "
        f"fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"1.5\"/>"
        f"<text x=\"{x + w // 2}\" y=\"{y + 16}\" text-anchor=\"middle\" font-size=\"10.5\" fill=\"#5f6b7a\" "
        f"font-weight=\"600\">{escape(_one_line(heading.upper(), w // 7))}</text>{text}</g>"
    )


def _arrow(x1: int, x2: int, y: int, label: str) -> str:
    head = f"{x2},{y} {x2 - 7},{y - 4} {x2 - 7},{y + 4}"
    text = "".join(
        f"<text x=\"{(x1 + x2) // 2}\" y=\"{y - 8 - 11 * (len(_fit(label, 12)) - 1 - i)}\" text-anchor=\"middle\" "
        f"font-size=\"9.5\" fill=\"#5f6b7a\">{escape(line)}</text>"
        for i, line in enumerate(_fit(label, 12))
    ) if label else ""
    return (f"<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2 - 6}\" y2=\"{y}\" stroke=\"#5f6b7a\" stroke-width=\"1.5\"/>"
            f"<polygon points=\"{head}\" fill=\"#5f6b7a\"/>{text}")


def flow_diagram(flow: FlowStory) -> str:
    """trigger -> entry point -> source -> sink -> endpoint, with the call path and transformations on the edges."""
    colour = _COLOURS.get(flow.severity.value if flow.severity else "none", "#9e9e9e")
    where = flow.destination or "-"  # for the aria label: the full words
    steps = [
        ("when", flow.when, "; ".join(flow.triggers) or "no entry point known"),
        ("entry point", flow.entry or "-", flow.entry or ""),
        (f"reads {flow.data}", flow.source_api, flow.source_raw),
        (f"{flow.sink_kind} sink", flow.sink_api, flow.sink_raw),
        ("to", join_words(e.place + (f" ({e.country})" if e.country else "") for e in flow.endpoints) or "-",
         ", ".join(e.value for e in flow.endpoints) or "no constant address in the code"),
    ]
    inner = max(len(flow.path) - 2, 0)
    edges = ["starts", f"via {inner} method{'s' if inner != 1 else ''}" if inner else "calls",
             ", ".join(flow.transformations) or "as is", "sent"]
    w, gap, h, y = 140, 72, 66, 26
    parts = []
    for i, (heading, body, tooltip) in enumerate(steps):
        x = i * (w + gap)
        parts.append(_box(x, y, w, h, heading, body, colour if i in (2, 3) else "#8a96a3", tooltip))
        if i < len(steps) - 1:
            parts.append(_arrow(x + w + 2, x + w + gap - 2, y + h // 2, edges[i]))
    width = len(steps) * w + (len(steps) - 1) * gap
    label = f"{flow.data} from {flow.source_api} to {flow.sink_api}, {flow.when}, to {where}"
    return (
        f"<svg class=\"diagram\" viewBox=\"0 0 {width} {y + h + 4}\" role=\"img\" aria-label=\"{escape(label)}\" "
        f"{_FONT} data-flow-diagram=\"{escape(flow.id)}\">" + "".join(parts) + "</svg>"
    )


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def timeline(events: list[TimelineEvent], limit: int = 60) -> str:
    """One row per dated event, a dot on a shared time axis (phone times have no zone: read as written)."""
    if not events:
        return ""
    shown = events[:limit]
    times = [_naive(e.when) for e in shown]
    start, end = min(times), max(times)
    span = (end - start).total_seconds() or 1.0
    left, axis, row = 10, 380, 17
    top = 28
    height = top + row * len(shown) + 8
    parts = [f"<line x1=\"{left}\" y1=\"{top - 10}\" x2=\"{left + axis}\" y2=\"{top - 10}\" stroke=\"#8a96a3\"/>"]
    years = sorted({t.year for t in times})
    step = max(1, (years[-1] - years[0]) // 8 or 1)
    for year in range(years[0], years[-1] + 1, step):
        moment = datetime(year, 1, 1)
        if start <= moment <= end or year == years[0]:
            x = left + axis * max(0.0, (moment - start).total_seconds()) / span
            parts.append(f"<text x=\"{x:.1f}\" y=\"{top - 14}\" font-size=\"10\" fill=\"#5f6b7a\">{year}</text>")
    for i, (event, moment) in enumerate(zip(shown, times, strict=True)):
        y = top + row * i + 6
        x = left + axis * (moment - start).total_seconds() / span
        colour = _KIND_COLOURS.get(event.kind, "#5f6b7a")
        stamp = moment.strftime("%Y-%m-%d %H:%M")
        parts.append(
            f"<g><title>{escape(stamp)} {escape(event.what)}</title>"
            f"<line x1=\"{left}\" y1=\"{y}\" x2=\"{left + axis}\" y2=\"{y}\" stroke=\"#eef1f5\"/>"
            f"<circle cx=\"{x:.1f}\" cy=\"{y}\" r=\"4.5\" fill=\"{colour}\"/>"
            f"<text x=\"{left + axis + 12}\" y=\"{y + 4}\" font-size=\"11.5\"><tspan fill=\"#5f6b7a\">{escape(stamp)}"
            f"</tspan>  {escape(event.what)}</text></g>"
        )
    return (f"<svg class=\"timeline\" viewBox=\"0 0 900 {height}\" role=\"img\" aria-label=\"timeline of "
            f"{len(shown)} dated events\" {_FONT}>" + "".join(parts) + "</svg>")


def schedule(rows: list[tuple[str, float]]) -> str:
    """How often each alarm or job runs: bars of runs per day (label, period in seconds)."""
    if not rows:
        return ""
    per_day = [86400 / period for _, period in rows]
    top = max(per_day)
    row, left, bar = 22, 330, 360
    parts = []
    for i, ((label, period), runs) in enumerate(zip(rows, per_day, strict=True)):
        y = 6 + row * i
        width = max(3.0, bar * runs / top)
        parts.append(
            f"<g><title>{escape(label)}: every {escape(duration(period))}</title>"
            f"<text x=\"{left - 8}\" y=\"{y + 13}\" text-anchor=\"end\" font-size=\"11.5\">{escape(label[:52])}</text>"
            f"<rect x=\"{left}\" y=\"{y + 2}\" width=\"{width:.1f}\" height=\"14\" fill=\"#1e88e5\"/>"
            f"<text x=\"{left + width + 6:.1f}\" y=\"{y + 13}\" font-size=\"11.5\">every {escape(duration(period))} "
            f"({runs:g}× a day)</text></g>"
        )
    return (f"<svg class=\"schedule\" viewBox=\"0 0 900 {row * len(rows) + 10}\" role=\"img\" "
            f"aria-label=\"how often scheduled tasks run\" {_FONT}>" + "".join(parts) + "</svg>")


def verdict_bars(verdicts: list[VerdictCount]) -> str:
    """Apps by verdict: one bar per verdict with its count."""
    rows = [v for v in verdicts if v.apps]
    if not rows:
        return ""
    top = max(len(v.apps) for v in rows)
    row, left, bar = 24, 120, 520
    parts = []
    for i, v in enumerate(rows):
        y = 4 + row * i
        width = max(3.0, bar * len(v.apps) / top)
        parts.append(
            f"<g><title>{escape(v.verdict)}: {len(v.apps)}</title>"
            f"<text x=\"{left - 8}\" y=\"{y + 14}\" text-anchor=\"end\" font-size=\"12\">{escape(v.verdict)}</text>"
            f"<rect x=\"{left}\" y=\"{y + 2}\" width=\"{width:.1f}\" height=\"16\" fill=\"{_COLOURS.get(v.css, '#9e9e9e')}\"/>"
            f"<text x=\"{left + width + 6:.1f}\" y=\"{y + 15}\" font-size=\"12\" font-weight=\"600\">{len(v.apps)}</text></g>"
        )
    return (f"<svg class=\"verdicts\" viewBox=\"0 0 700 {row * len(rows) + 8}\" role=\"img\" "
            f"aria-label=\"apps by verdict\" {_FONT}>" + "".join(parts) + "</svg>")
