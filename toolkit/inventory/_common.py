"""Shared helpers of the inventory parsers: problem collection and Android's time formats."""

from __future__ import annotations

import logging
from datetime import datetime

from toolkit.models.device import ParseProblem
from toolkit.text import printable  # noqa: E402,F401  (re-exported for the parsers)

log = logging.getLogger("toolkit.inventory")

_MAX_EXCERPT = 160
# A garbage file can have a million bad lines: list the first ones, then count the rest in one entry.
MAX_PROBLEMS_PER_OUTPUT = 100
_MAX_LOGGED = 10


class Problems:
    """Collects parse problems for one output and logs them (library code never prints).

    After MAX_PROBLEMS_PER_OUTPUT entries, further problems are counted in a single summary entry, so
    nothing is dropped silently and a garbage file cannot flood the report.
    """

    def __init__(self, source: str, into: list[ParseProblem] | None = None) -> None:
        self.source = source
        self.items: list[ParseProblem] = into if into is not None else []
        self.count = 0
        self._summary: ParseProblem | None = None

    def add(self, reason: str, line: int | None = None, text: str | None = None) -> None:
        self.count += 1
        if text is not None:
            text = printable(text[:_MAX_EXCERPT]) + ("..." if len(text) > _MAX_EXCERPT else "")
        if self.count <= MAX_PROBLEMS_PER_OUTPUT:
            problem = ParseProblem(source=self.source, line=line, reason=reason, text=text)
            if self.count <= _MAX_LOGGED:
                # Recorded in the inventory's parse_problems, which the caller reports: info, not said twice.
                log.info("%s", problem)
            self.items.append(problem)
            return
        extra = self.count - MAX_PROBLEMS_PER_OUTPUT
        summary = f"{extra} more problem(s) in this output, not listed one by one (last at line {line})"
        if self._summary is None:
            log.info("%s: more than %d problems; counting the rest", self.source, MAX_PROBLEMS_PER_OUTPUT)
            self._summary = ParseProblem(source=self.source, reason=summary)
            self.items.append(self._summary)
        else:
            self._summary.reason = summary


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


def to_int(value: str | None) -> int | None:
    """A decimal integer field, or None when absent or not a number (the caller records what it needs to)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
