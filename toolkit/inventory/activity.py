"""Usage and activity outputs → models: `dumpsys usagestats`, `dumpsys batterystats -c`, `dumpsys activity services`.

usagestats (UsageStatsService / UserUsageStatsService): per interval a ``packages`` list with
``package=com.x totalTime="02:05" lastTime="2016-12-01 12:03:11"`` (Android 7–9) or ``totalTimeUsed=...
lastTimeUsed=...`` (Android 10+), and event lines ``time="2020-09-20 13:02:11" type=ACTIVITY_RESUMED
package=com.x class=...`` (``MOVE_TO_FOREGROUND`` before Android 10). The same package appears in the daily,
weekly, monthly and yearly intervals: the latest last-use time wins.

batterystats checkin format (``9,<uid>,<category>,<section>,...``): ``uid`` lines map UIDs to packages, ``wl``
wakelocks (the count after ``p`` is partial wakelocks), ``wua`` wake-up alarms, ``nt`` network bytes (mobile rx,
mobile tx, wifi rx, wifi tx first). Only the ``l`` (since last charge) category is summed.

activity services (ActiveServices.dump): ``* ServiceRecord{hash u0 com.x/.Svc}`` blocks with ``isForeground=``,
``createTime=``, ``lastActivity=``, ``startRequested=`` and ``Bindings:`` / ``Connections:``.
"""

from __future__ import annotations

import re
from datetime import datetime

from toolkit.inventory._common import Problems, android_time, split_lines
from toolkit.models.device import ParseProblem
from toolkit.models.usage import BatteryUidStats, PackageUsage, RunningService

_PKG_LINE = re.compile(r"^\s*package=(?P<pkg>[A-Za-z0-9_.]+)\s+(?P<rest>.*)$")
_LAST = re.compile(r'\blastTime(?:Used)?="(?P<t>[^"]+)"')
_TOTAL = re.compile(r'\btotalTime(?:Used)?="(?P<t>[^"]+)"')
_EVENT = re.compile(r'^\s*time="(?P<t>[^"]+)" type=(?P<type>\S+) package=(?P<pkg>[A-Za-z0-9_.]+)')
_FG_EVENTS = {"MOVE_TO_FOREGROUND", "ACTIVITY_RESUMED"}
_MAX_FG_EVENTS = 200


def _hms_ms(text: str) -> int | None:
    parts = text.split(":")
    if not all(p.isdigit() for p in parts) or not 1 < len(parts) <= 3:
        return None
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + int(p)
    return seconds * 1000


def parse_dumpsys_usagestats(text: str, problems: list[ParseProblem] | None = None,
                             source: str = "dumpsys_usagestats") -> list[PackageUsage]:
    """Last use and foreground events of each package (first user's view; other users' sections add to it)."""
    probs = Problems(source, problems)
    by_pkg: dict[str, PackageUsage] = {}

    def get(pkg: str) -> PackageUsage:
        return by_pkg.setdefault(pkg, PackageUsage(package=pkg))

    for n, line in enumerate(split_lines(text), start=1):
        m = _EVENT.match(line)
        if m:
            rec = get(m["pkg"])
            rec.events += 1
            when = android_time(m["t"])
            if m["type"] in _FG_EVENTS and when is not None and len(rec.foreground_events) < _MAX_FG_EVENTS:
                rec.foreground_events.append(when)
            elif when is None:
                probs.add("event time not understood", n, line)
            continue
        m = _PKG_LINE.match(line)
        if m:
            rec = get(m["pkg"])
            last = _LAST.search(m["rest"])
            if last:
                when = android_time(last["t"])
                if when is not None and when.year < 2000:
                    when = None  # "1970-01-01 01:00:00": epoch 0 in local time, i.e. never used
                if when is not None and (rec.last_time_used is None or when > rec.last_time_used):
                    rec.last_time_used, rec.last_time_used_raw = when, last["t"]
            total = _TOTAL.search(m["rest"])
            if total:
                ms = _hms_ms(total["t"])
                if ms is not None and (rec.total_time_foreground_ms is None or ms > rec.total_time_foreground_ms):
                    rec.total_time_foreground_ms = ms
    if text.strip() and not by_pkg:
        probs.add("no package or event lines: not a usagestats dump, or the service refused")
    return sorted(by_pkg.values(), key=lambda u: u.package)


def parse_batterystats_checkin(text: str, problems: list[ParseProblem] | None = None,
                               source: str = "dumpsys_batterystats") -> list[BatteryUidStats]:
    """Per-UID wakelocks, wake-up alarms and network bytes since the last charge."""
    probs = Problems(source, problems)
    stats: dict[int, BatteryUidStats] = {}
    names: dict[int, list[str]] = {}
    seen = False
    for n, line in enumerate(split_lines(text), start=1):
        fields = line.strip().split(",")
        if len(fields) < 4 or not fields[0].isdigit():
            if line.strip() and not line.startswith(("Error", "Exception")):
                probs.add("not a checkin line", n, line)
            continue
        seen = True
        uid_text, category, section = fields[1], fields[2], fields[3]
        if section == "uid" and category == "i" and len(fields) >= 6 and fields[4].isdigit():
            names.setdefault(int(fields[4]), []).append(fields[5])
            continue
        if category != "l" or not uid_text.lstrip("-").isdigit():
            continue
        uid = int(uid_text)
        try:
            if section == "wl" and len(fields) >= 5:
                count = int(fields[fields.index("p", 5) + 1]) if "p" in fields[5:] else 0
                rec = stats.setdefault(uid, BatteryUidStats(uid=uid))
                rec.wakelocks += count
                if fields[4] not in rec.wakelock_names and len(rec.wakelock_names) < 50:
                    rec.wakelock_names.append(fields[4])
            elif section == "wua" and len(fields) >= 6:
                fired = int(fields[-1])
                stats.setdefault(uid, BatteryUidStats(uid=uid)).alarms += fired
            elif section == "nt" and len(fields) >= 8:
                values = [int(v) for v in fields[4:8]]
                rec = stats.setdefault(uid, BatteryUidStats(uid=uid))
                rec.mobile_rx_bytes, rec.mobile_tx_bytes, rec.wifi_rx_bytes, rec.wifi_tx_bytes = values
        except (ValueError, IndexError):
            probs.add(f"{section} line with a non-numeric field", n, line)
    if text.strip() and not seen:
        probs.add("no checkin lines: not a batterystats checkin dump, or the service refused")
    for uid, rec in stats.items():
        rec.packages = names.get(uid, [])
    return sorted(stats.values(), key=lambda r: r.uid)


_SERVICE = re.compile(r"^\s*\* ServiceRecord\{[0-9a-f]+ u(?P<user>\d+) (?P<pkg>[A-Za-z0-9_.]+)/(?P<cls>[\w.$]+)\}")
_KV = re.compile(r"\b(?P<k>isForeground|createTime|lastActivity|startRequested|processName|createdFromFg)="
                 r"(?P<v>\S+)")


def parse_dumpsys_activity_services(text: str, problems: list[ParseProblem] | None = None,
                                    source: str = "dumpsys_activity_services") -> list[RunningService]:
    """The service records of every user, with what started or holds each one."""
    probs = Problems(source, problems)
    out: list[RunningService] = []
    current: RunningService | None = None
    bound = False

    def close() -> None:
        if current is None:
            return
        reasons = []
        if current.foreground:
            reasons.append("foreground service")
        if current.start_requested:
            reasons.append("started (startService)")
        if bound:
            reasons.append("bound by a client")
        current.start_reason = ", ".join(reasons) or None

    for line in split_lines(text):
        m = _SERVICE.match(line)
        if m:
            close()
            pkg, cls = m["pkg"], m["cls"]
            current = RunningService(package=pkg, component=f"{pkg}/{cls}", user=int(m["user"]))
            out.append(current)
            bound = False
            continue
        if current is None:
            continue
        if line.strip() in ("Bindings:", "Connections:"):
            bound = True
            continue
        for kv in _KV.finditer(line):
            k, v = kv["k"], kv["v"]
            if k == "isForeground":
                current.foreground = v == "true"
            elif k == "createTime":
                current.created = v
            elif k == "lastActivity":
                current.last_activity = v
            elif k == "startRequested":
                current.start_requested = v == "true"
            elif k == "processName":
                current.process = v
    close()
    if text.strip() and "ACTIVITY MANAGER SERVICES" not in text and not out:
        probs.add("no ACTIVITY MANAGER SERVICES header and no service record: not an activity services dump")
    return out


def latest(times: list[datetime]) -> datetime | None:
    return max(times) if times else None
