"""The HTML section that puts static and observed evidence side by side (empty when nothing was observed)."""

from __future__ import annotations

from html import escape

from toolkit.models import ScanResult

OBSERVED_MEANING = (
    "A flow is marked observed when a record from the phone or a network capture shows it happening: the app "
    "accessed the source (app ops), its UID sent data at the period its code schedules (netstats), it was "
    "connected to the endpoint it hard-codes (live socket, capture), or the identifier itself was seen leaving "
    "(capture). What it does not prove: apart from an identifier seen in a capture, the records show that the "
    "source was read and that the app sent data to that place, not that the bytes sent were that value; app ops "
    "keep only the last access; netstats counts bytes per UID, and a shared UID (such as 1000, system) mixes "
    "several packages; a capture shows only what crossed the network while it ran, and TLS content stays unseen "
    "unless the apps' TLS key log was given (`traffic scan --keylog`)."
)


def observed_section(result: ScanResult) -> str:
    rows = []
    for apk in result.apks:
        for flow in apk.flows:
            if not flow.observed:
                continue
            static = ", ".join(e.value for e in flow.endpoints) or "no constant endpoint"
            triggers = ", ".join(t.kind + (f" every {t.period_seconds} s" if t.period_seconds else "")
                                 for t in flow.triggers) or "unknown trigger"
            seen = "".join(
                f"<li><b>{escape(o.kind)}</b>: {escape(o.summary)}"
                + "".join(f"<div class=\"muted mono\">{escape(e)}</div>" for e in o.evidence) + "</li>"
                for o in flow.observed)
            rows.append(
                f"<tr><td>{escape(apk.package or apk.path)}</td><td><b>{escape(flow.source.kind)} &rarr; "
                f"{escape(flow.sink.kind)}</b><div class=\"muted mono\">{escape(flow.id)}</div></td>"
                f"<td>{escape(static)}<div class=\"muted\">{escape(triggers)}</div></td><td><ul>{seen}</ul></td></tr>")
    if not rows:
        return ""
    return (f"<section id=\"observed\"><h2>Observed: static flows the phone's records confirm ({len(rows)})</h2>"
            f"<p>{escape(OBSERVED_MEANING)}</p><table><thead><tr><th>App</th><th>Flow</th>"
            "<th>Static evidence (code)</th><th>Observed evidence (records)</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></section>")
