"""Terminal reporter of the store check: signer verdicts, reference differences, SDKs and endpoints as tables.

The JSON, SARIF and HTML reports carry the same facts; this is the summary `store check` and `report render`
show on the terminal beside the common summary.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from toolkit.models.store import StoreCheckResult
from toolkit.text import printable

_VERDICT_STYLE = {"tampered": "bold red", "suspicious": "yellow", "unreadable": "red", "genuine": "green",
                  "unverified": "dim"}


def render_store_summary(store: StoreCheckResult) -> list[RenderableType]:
    """Tables of verdicts, reference differences, SDKs and endpoints (terminal only; JSON carries everything)."""
    parts: list[RenderableType] = []
    # Every column folds: an ellipsis would cut package names and URLs, the very evidence this table is for.
    verdicts = Table(title="Signers", title_justify="left")
    verdicts.add_column("package / why", overflow="fold")
    verdicts.add_column("verdict", no_wrap=True)
    verdicts.add_column("schemes", no_wrap=True)
    verdicts.add_column("signer (SHA-256)", no_wrap=True)
    for c in store.signer_checks:
        verdicts.add_row(
            _stacked(c.package or Path(c.apk_path).name, "; ".join(c.verdict.reasons + c.problems)),
            Text(c.verdict.verdict, style=_VERDICT_STYLE[c.verdict.verdict]),
            _cell(",".join(c.schemes) or "-"), _cell("\n".join(d[:16] + "…" for d in c.certificates) or "-"),
        )
    parts.append(verdicts)
    if store.platform_source:
        parts.append(_cell(f"Platform key from {store.platform_source}: {', '.join(store.platform_certificates)}"))
    for diff in store.reference_diffs:
        if diff.identical:
            parts.append(_cell(f"{diff.package}: identical to reference {diff.reference_apk}", style="green"))
            continue
        table = Table(title=_cell(f"{diff.package}: store copy vs reference {Path(diff.reference_apk).name}"),
                      title_justify="left")
        table.add_column("what", overflow="fold")
        table.add_column("difference", overflow="fold")
        table.add_row("signer", _cell("same" if diff.same_signer else
                      f"store {', '.join(diff.store_signers)}\nreference {', '.join(diff.reference_signers)}"))
        table.add_row("version", _cell(f"{diff.store_version} / reference {diff.reference_version}"))
        for name, values in (
            ("permissions added", diff.permissions_added),
            ("components added", [f"{c.kind} {c.name}" for c in diff.components_added]),
            ("boot triggers added", diff.boot_triggers_added),
            ("code added", [f"{c.package}: {c.classes} classes" + (f" ({c.sdk})" if c.sdk else "") for c in diff.code_added]),
            ("endpoints added", [e.value for e in diff.endpoints_added]),
            ("flows only in store copy", [f"{f.source} -> {f.sink} ({f.sink_method})" for f in diff.flows_added]),
            ("problems", diff.problems),
        ):
            if values:
                table.add_row(name, _cell("\n".join(values)))
        parts.append(table)
    if store.without_reference:
        parts.append(_cell(f"No reference APK for: {', '.join(store.without_reference)}", style="dim"))
    if store.reference_unused:  # a reference that matched nothing (other package, or unreadable) compared nothing
        parts.append(_cell(f"Reference APKs that matched no store APK: {', '.join(store.reference_unused)}",
                           style="yellow"))
    if store.trackers:
        table = Table(title=f"SDKs and trackers ({store.trackers_version})", title_justify="left")
        for column in ("package", "SDK", "categories", "classes", "hosts", "on a leak flow"):
            table.add_column(column, overflow="fold")
        for hit in store.trackers:
            table.add_row(_cell(hit.package or "-"), _cell(hit.name), _cell(", ".join(hit.categories)),
                          str(hit.matched_classes), _cell(", ".join(hit.matched_hosts) or "-"),
                          _cell("yes: " + ", ".join(hit.flow_ids), style="red") if hit.on_leak_flow else Text("no"))
        parts.append(table)
    endpoints = Table(title=f"Endpoints (countries: {store.geo_database})", title_justify="left")
    endpoints.add_column("endpoint / package: kind, country, found in", overflow="fold")
    endpoints.add_column("used by flows", overflow="fold")
    for app_endpoints in store.endpoints:
        for use in app_endpoints.endpoints:
            e = use.endpoint
            kind = e.kind + (" (hard-coded IP)" if e.hard_coded_ip and e.kind != "ip" else "")
            where = f"{app_endpoints.package or '-'}: {kind}, {e.country or 'country unknown'}, {', '.join(e.found_in) or '-'}"
            endpoints.add_row(_stacked(e.value, where), _cell("\n".join(use.flow_ids) or "-"))
    parts.append(endpoints)
    return parts


def _stacked(first: str, second: str) -> Text:
    """Two app strings in one cell, the second dimmed below: readable at 80 columns without cutting either."""
    text = _cell(first)
    if second:
        text.append("\n").append_text(_cell(second, style="dim"))
    return text


def _cell(text: str, style: str = "") -> Text:
    """Text from an APK (package names, URL constants, reasons) as it is: no rich markup ('[/]' in a URL would
    raise), no control sequences reaching the terminal."""
    return Text("\n".join(printable(line) for line in text.split("\n")), style=style)
