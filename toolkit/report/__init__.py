"""Reporters: pure functions from a ScanResult to text or files. They never analyse anything.

Indicator matches and baseline suppression (toolkit.findings) are applied to the ScanResult before rendering, so
every format shows the same facts.
"""

from toolkit.report.csv_report import render_csv, timeline_events
from toolkit.report.html import render_html
from toolkit.report.json_report import render_json, result_schema
from toolkit.report.sarif import render_sarif, sarif_log
from toolkit.report.terminal import render_terminal, render_text

__all__ = [
    "render_csv", "render_html", "render_json", "render_sarif", "render_terminal", "render_text", "result_schema",
    "sarif_log", "timeline_events",
]
