"""Reporters: pure functions from a ScanResult to text or files. They never analyse anything.

Indicator matches and baseline suppression (toolkit.findings) are applied to the ScanResult before rendering, so
every format shows the same facts.

`FORMATS` is the one list of report formats: the CLI's --format option, the output file names and the renderer
of each format come from it, so adding a format is one line here. Renderers are imported when used (a command's
start-up does not pay for them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.models import ScanResult


@dataclass(frozen=True)
class ReportFormat:
    """One output format: its file name inside an output folder, its renderer ("module:function") and a blurb."""

    file_name: str
    renderer: str
    blurb: str

    def render(self, result: ScanResult) -> str:
        module, function = self.renderer.split(":")
        renderer: Callable[[ScanResult], str] = getattr(importlib.import_module(module), function)
        return renderer(result)


FORMATS: dict[str, ReportFormat] = {
    "terminal": ReportFormat("phonehome-report.txt", "toolkit.report.terminal:render_text", "summary tables"),
    "json": ReportFormat("phonehome-report.json", "toolkit.report.json_report:render_json", "everything (schema)"),
    "sarif": ReportFormat("phonehome-report.sarif", "toolkit.report.sarif:render_sarif", "SARIF 2.1.0"),
    "html": ReportFormat("phonehome-report.html", "toolkit.report.html:render_html", "one self-contained page"),
    "csv": ReportFormat("phonehome-timeline.csv", "toolkit.report.csv_report:render_csv", "timeline"),
    "markdown": ReportFormat("phonehome-report.md", "toolkit.report.markdown:render_markdown", "summary and flow tables"),
}

_EXPORTS = {
    "render_csv": "csv_report", "timeline_events": "csv_report", "render_html": "html", "render_json": "json_report",
    "result_schema": "json_report", "render_sarif": "sarif", "sarif_log": "sarif", "render_terminal": "terminal",
    "render_text": "terminal", "render_store_summary": "store_summary", "render_markdown": "markdown",
}

__all__ = ["FORMATS", "ReportFormat", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """`from toolkit.report import render_html` still works; the module is imported on first use."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"toolkit.report.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'toolkit.report' has no attribute {name!r}")
