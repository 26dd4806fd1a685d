"""Shared helpers of the inventory parsers: problem collection and Android's time formats."""

from __future__ import annotations

import logging
from datetime import datetime

from toolkit.models.device import ParseProblem

log = logging.getLogger("toolkit.inventory")

_MAX_EXCERPT = 160


class Problems:
    """Collects parse problems for one output; also logs each one (library code never prints)."""

    def __init__(self, source: str, into: list[ParseProblem] | None = None) -> None:
        self.source = source
        self.items: list[ParseProblem] = into if into is not None else []

    def add(self, reason: str, line: int | None = None, text: str | None = None) -> None:
        if text is not None and len(text) > _MAX_EXCERPT:
            text = text[:_MAX_EXCERPT] + "..."
        problem = ParseProblem(source=self.source, line=line, reason=reason, text=text)
        log.warning("%s", problem)
        self.items.append(problem)


def android_time(raw: str | None) -> datetime | None:
    """Parse dumpsys's "yyyy-MM-dd HH:mm:ss" (optionally ".SSS") local time; None when unparseable."""
    if not raw:
        return None
    raw = raw.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def split_lines(text: str) -> list[str]:
    """Lines without their endings; tolerates CRLF (adb's old non-PTY shell) and a missing final newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
