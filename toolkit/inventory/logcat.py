"""`logcat -d -b main,system,crash,events -t N` → LogcatInfo: how much log there is and whether it was cut.

The log itself stays in the evidence folder (it is searched, not modelled line by line). The collector asks for
the last N lines; when N lines came back, older ones may exist on the phone and the log is marked truncated.
Threadtime lines start ``MM-DD HH:MM:SS.mmm  PID  TID L Tag: message``; buffer starts read
``--------- beginning of main``.
"""

from __future__ import annotations

import re

from toolkit.inventory._common import split_lines
from toolkit.models.usage import LogcatInfo

LOGCAT_LINES = 20000  # the bound the collector passes with -t (a busy phone writes ~1-3 MB for this many)
_TIME = re.compile(r"^(?P<t>\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\s")
_BEGIN = re.compile(r"^-+ beginning of (?P<buf>\w+)")


def parse_logcat(text: str, bound_lines: int = LOGCAT_LINES) -> LogcatInfo:
    """Count lines, find the time span and the buffers, and decide whether the bound cut the log."""
    info = LogcatInfo(bytes=len(text.encode("utf-8", "surrogateescape")), bound=f"last {bound_lines} lines")
    for line in split_lines(text):
        if not line:
            continue
        b = _BEGIN.match(line)
        if b:
            if b["buf"] not in info.buffers:
                info.buffers.append(b["buf"])
            continue
        info.lines += 1
        t = _TIME.match(line)
        if t:
            info.first_time = info.first_time or t["t"]
            info.last_time = t["t"]
    info.truncated = info.lines >= bound_lines
    return info
