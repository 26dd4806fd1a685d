"""`dumpsys appops` → AppOpRecord: per package and op, the mode and when the op was last used or refused.

Formats (AppOpsService.dump):
- Android 7 (N): ``Uid 10087:`` then ``Package com.x:`` then ops as ``READ_SMS: mode=0; time=+3m1s0ms ago;
  rejectTime=+1h ago; duration=+5ms`` (mode as a number on some builds, a name on others; times relative to
  the dump).
- Android 8/9: ``READ_SMS (allow): time=+3m1s ago (top); rejectTime=...``.
- Android 10: ``READ_SMS (allow):`` followed by ``Access: [top-s] 2020-09-20 14:28:01.123 (-3m1s0ms)`` and
  ``Reject: ...`` lines (absolute local time, then the offset from the dump). Reject lines are printed without the
  space after the state on real phones (``Reject: [fg-s]2021-05-19 22:02:52.054 (...)``: a Samsung dump in
  tests/inventory/data/real/).
- Android 11–14: as 10, the access lines grouped per attribution tag (``null=[`` ... ``]``), and an op may show
  its switch op: ``FINE_LOCATION (allow / switch COARSE_LOCATION=allow):``.
UID-wide modes (``COARSE_LOCATION: mode=foreground`` directly under ``Uid N:``) become records without a package.
dumpsys appops keeps no per-op access counts in any of these versions; ``access_count`` stays None (the number
of distinct Access lines is not a count of accesses).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from toolkit.inventory._common import Problems, android_time, split_lines
from toolkit.inventory.schedules import parse_duration, uid_from_format
from toolkit.models.device import ParseProblem
from toolkit.models.usage import AppOpRecord

# The ops this tool reasons about (sources of the data it protects); the parser keeps every op it reads.
SOURCE_OPS: dict[str, str] = {
    "READ_PHONE_STATE": "device identifiers / phone number",
    "READ_DEVICE_IDENTIFIERS": "device identifiers",
    "READ_SMS": "SMS",
    "RECEIVE_SMS": "SMS",
    "READ_CONTACTS": "contacts",
    "READ_CALL_LOG": "call log",
    "FINE_LOCATION": "location",
    "COARSE_LOCATION": "location",
    "GET_ACCOUNTS": "accounts",
}
_MODES = {"0": "allow", "1": "ignore", "2": "deny", "3": "default", "4": "foreground"}

_UID = re.compile(r"^\s*Uid (?P<uid>-?\d+|u\d+[as]\d+):\s*$")
_PACKAGE = re.compile(r"^\s*Package (?P<pkg>[A-Za-z0-9_.]+):\s*$")
_OP = re.compile(r"^\s*(?P<op>[A-Z][A-Z0-9_]+)(?: \((?P<mode>[a-z]+)(?: / switch [^)]*)?\))?:(?P<rest>.*)$")
_FIELD = re.compile(r"\b(?P<key>mode|time|rejectTime|duration)=(?P<value>[^;\s]+)")
_ACCESS = re.compile(
    r"^\s*(?P<kind>Access|Reject): (?:\[(?P<key>[^\]]*)\] ?)?"
    r"(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) \((?P<rel>[-+][0-9dhms]+)\)(?P<rest>.*)$")
_NOW = re.compile(r"^\s*(?:Current time|now)[:=]\s*(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)")
_COUNT = re.compile(r"\b(?:accessCount|count)=(?P<n>\d+)")


def _ago(text: str) -> float | None:
    seconds = parse_duration(text)
    return abs(seconds) if seconds is not None else None


def parse_dumpsys_appops(text: str, problems: list[ParseProblem] | None = None,
                         source: str = "dumpsys_appops") -> tuple[list[AppOpRecord], datetime | None]:
    """Every op record of the dump, and the dump's own 'now' when it can be told (from an absolute access time
    and its offset, or a printed current time)."""
    probs = Problems(source, problems)
    records: list[AppOpRecord] = []
    uid: int | None = None
    package: str | None = None
    current: AppOpRecord | None = None
    now: datetime | None = None
    saw_uid = False
    for n, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        m = _NOW.match(line)
        if m:
            now = android_time(m["date"]) or now
            continue
        m = _UID.match(line)
        if m:
            uid = uid_from_format(m["uid"]) if not m["uid"].lstrip("-").isdigit() else int(m["uid"])
            package, current, saw_uid = None, None, True
            continue
        if uid is None:
            continue  # the Settings / Clients / watchers sections before the first Uid
        m = _PACKAGE.match(line)
        if m:
            package, current = m["pkg"], None
            continue
        m = _ACCESS.match(line)
        if m:
            if current is None:
                probs.add("access line outside an op", n, line)
                continue
            when = android_time(m["date"])
            ago = _ago(m["rel"])
            if when is not None and ago is not None and now is None:
                now = when + timedelta(seconds=ago)
            if m["kind"] == "Access":
                # Several lines (per uid state / attribution tag): keep the latest.
                if current.last_access is None or (when is not None and when > current.last_access):
                    current.last_access, current.last_access_ago_seconds = when, ago
                    current.last_access_raw = line.strip()
                d = re.search(r"duration=(\S+)", m["rest"])
                if d:
                    ms = parse_duration(d[1])
                    current.duration_ms = int(ms * 1000) if ms is not None else current.duration_ms
            elif current.last_reject is None or (when is not None and when > current.last_reject):
                current.last_reject, current.last_reject_ago_seconds = when, ago
            continue
        m = _OP.match(line)
        if m and not line.strip().startswith(("Settings", "Clients", "Op mode")):
            fields = {f["key"]: f["value"] for f in _FIELD.finditer(m["rest"])}
            mode = m["mode"] or fields.get("mode")
            mode = _MODES.get(mode, mode) if mode else None
            rec = AppOpRecord(package=package, uid=uid, op=m["op"], mode=mode)
            if "time" in fields:
                rec.last_access_ago_seconds = _ago(fields["time"])
                rec.last_access_raw = line.strip()
            if "rejectTime" in fields:
                rec.last_reject_ago_seconds = _ago(fields["rejectTime"])
            if "duration" in fields:
                ms = parse_duration(fields["duration"])
                rec.duration_ms = int(ms * 1000) if ms is not None else None
            c = _COUNT.search(m["rest"])
            if c:
                rec.access_count = int(c["n"])
            records.append(rec)
            current = rec
            continue
        stripped = line.strip()
        if stripped.endswith(("=[", "]")) or "=" in stripped or stripped.endswith(":"):
            continue  # attribution-tag brackets, uid state lines (state=, capability=), other sections
        probs.add("unrecognised line in the app-ops dump", n, line)
    if not saw_uid and text.strip():
        probs.add("no 'Uid N:' section: not a dumpsys appops output, or the service refused")
    if now is not None:
        for rec in records:
            if rec.last_access is None and rec.last_access_ago_seconds is not None:
                rec.last_access = now - timedelta(seconds=rec.last_access_ago_seconds)
            if rec.last_reject is None and rec.last_reject_ago_seconds is not None:
                rec.last_reject = now - timedelta(seconds=rec.last_reject_ago_seconds)
    return records, now
