"""`dumpsys alarm` and `dumpsys jobscheduler` → ScheduledAlarm / ScheduledJob.

Alarms (AlarmManagerService dump, Android 7 to 14): each pending alarm is a header
``RTC_WAKEUP #0: Alarm{<hash> type 0 when <ms> <package>}`` (Android 12+: ``type 0 origWhen <ms> whenElapsed
<ms> <package>``) followed by more-indented detail lines: ``tag=*walarm*:<action>``, a ``type=`` line with
``when=``/``origWhen=``, ``window=`` and ``repeatInterval=<ms>``, and ``operation=PendingIntent{...}``. Android 7–11
group them under ``Batch{...}`` lines, Android 12+ under ``Pending alarms:``. The statistics sections (``Top Alarms``,
``Alarm Stats``) repeat tags and packages but are not pending alarms and are not read.

Jobs (JobSchedulerService dump): the ``Registered N jobs:`` section, one ``JOB #u0a41/7: <hash> <component>`` header
per job (Android 14 may print a namespace, ``JOB ns:u0a41/7:``), with ``Source: uid=u0a41 user=0 pkg=...`` and a
``JobInfo:`` part holding ``PERIODIC: interval=+30m0s0ms flex=+5m0s0ms``, ``PERSISTED`` and the network
requirement.
"""

from __future__ import annotations

import re
from typing import cast

from toolkit.inventory._common import Problems, split_lines
from toolkit.models.device import AlarmType, ParseProblem, ScheduledAlarm, ScheduledJob

_DURATION = re.compile(r"^(?P<sign>[+-])?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?!s))?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$")
_ALARM = re.compile(
    r"^(?P<indent>\s*)(?P<label>RTC_WAKEUP|RTC|ELAPSED_WAKEUP|ELAPSED|ELAPSED_REALTIME_WAKEUP|ELAPSED_REALTIME)"
    r" #\d+: Alarm\{(?P<hash>[0-9a-f]+) type (?P<type>-?\d+) (?P<times>.*) (?P<pkg>[A-Za-z0-9_.]+)\}\s*$"
)
_WHEN = re.compile(r"\b(?P<key>when|origWhen)=(?P<value>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?|\S+)")
_REPEAT = re.compile(r"\brepeatInterval=(?P<ms>-?\d+)")
_OPERATION = re.compile(r"PendingIntentRecord\{[0-9a-f]+ (?P<pkg>\S+) (?P<kind>\w+)")
_TYPE_NAMES: dict[int, AlarmType] = {0: "RTC_WAKEUP", 1: "RTC", 2: "ELAPSED_WAKEUP", 3: "ELAPSED"}
_LABELS: dict[str, AlarmType] = {"ELAPSED_REALTIME_WAKEUP": "ELAPSED_WAKEUP", "ELAPSED_REALTIME": "ELAPSED"}

_JOB = re.compile(
    r"^(?P<indent>\s*)JOB (?:#|(?P<ns>[^\s:#]+):)(?P<uid>u\d+[asi]+\d+|\d+)/(?P<id>-?\d+): "
    r"(?P<hash>[0-9a-f]+) (?P<component>\S+)"
)
_FORMAT_UID = re.compile(r"^u(?P<user>\d+)(?P<kind>a|s|i|ai)(?P<n>\d+)$")


def parse_duration(text: str) -> float | None:
    """Parse Android's TimeUtils.formatDuration (``+1d2h30m0s0ms``, ``-5s12ms``) into seconds."""
    text = text.strip()
    if not text or text == "--":
        return None
    if text.lstrip("+-").isdigit():
        return int(text) / 1000
    m = _DURATION.match(text)
    if not m or not any(m.group(g) for g in ("d", "h", "m", "s", "ms")):
        return None
    seconds = (int(m["d"] or 0) * 86400 + int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60 + int(m["s"] or 0)
               + int(m["ms"] or 0) / 1000)
    return -seconds if m["sign"] == "-" else seconds


def uid_from_format(text: str) -> int | None:
    """Inverse of UserHandle.formatUid: u0a41 → 10041, u10a5 → 1010005, u0s1000 → 1000, 1000 → 1000."""
    if text.isdigit():
        return int(text)
    m = _FORMAT_UID.match(text)
    if not m:
        return None
    base = {"a": 10000, "s": 0, "i": 99000, "ai": 90000}[m["kind"]]
    return int(m["user"]) * 100000 + base + int(m["n"])


def parse_dumpsys_alarm(
    text: str, problems: list[ParseProblem] | None = None, source: str = "dumpsys_alarm"
) -> list[ScheduledAlarm]:
    """Parse the pending alarms of `dumpsys alarm`."""
    sink = Problems(source, problems)
    out: list[ScheduledAlarm] = []
    current: ScheduledAlarm | None = None
    indent = 0
    saw_state = False
    for line in split_lines(text):
        if "Alarm Manager" in line or "Pending alarm" in line:
            saw_state = True
        m = _ALARM.match(line)
        if m:
            label = m["label"]
            type_no = int(m["type"])
            alarm_type = _TYPE_NAMES.get(type_no) or _LABELS.get(label) or cast(AlarmType, label)
            times = dict(re.findall(r"(\w+) (-?\d+)", m["times"]))
            current = ScheduledAlarm(package=m["pkg"], type=alarm_type, wakeup=alarm_type.endswith("WAKEUP"),
                                     when=times.get("when") or times.get("whenElapsed"), orig_when=times.get("origWhen"))
            indent = len(m["indent"])
            out.append(current)
            continue
        if current is None:
            continue
        stripped = line.strip()
        if not stripped or len(line) - len(line.lstrip()) <= indent:
            current = None
            continue
        if stripped.startswith(("tag=", "statsTag=")):
            tag = stripped.partition("=")[2]
            current.tag = tag
            prefix, sep, rest = tag.partition(":")
            if sep and prefix in ("*walarm*", "*alarm*", "*job*"):
                current.action = rest
            continue
        if stripped.startswith("operation="):
            op = _OPERATION.search(stripped)
            current.operation = op["kind"] if op else stripped.partition("=")[2]
            continue
        if stripped.startswith("listener="):
            current.operation = "listener"
            continue
        if stripped.startswith("whenElapsed="):
            # Android 12+: the next delivery, relative to now (elapsed realtime).
            current.when = stripped.split()[0].partition("=")[2]
            continue
        repeat = _REPEAT.search(stripped)
        if repeat:
            ms = int(repeat["ms"])
            current.interval_seconds = ms / 1000 if ms > 0 else None
        for w in _WHEN.finditer(stripped):
            if w["key"] == "origWhen":
                current.orig_when = w["value"]
            else:
                current.when = w["value"]
    if not saw_state and text.strip():
        sink.add("not a dumpsys alarm output (no 'Alarm Manager' state)")
    elif not text.strip():
        sink.add("empty dumpsys alarm output")
    return out


def parse_dumpsys_jobscheduler(
    text: str, problems: list[ParseProblem] | None = None, source: str = "dumpsys_jobscheduler"
) -> list[ScheduledJob]:
    """Parse the registered jobs of `dumpsys jobscheduler`."""
    sink = Problems(source, problems)
    out: list[ScheduledJob] = []
    current: ScheduledJob | None = None
    indent = 0
    in_registered = False
    saw_registered = False
    section_indent = 0
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        line_indent = len(line) - len(line.lstrip())
        if re.match(r"^Registered \d+ jobs:", stripped):
            in_registered = saw_registered = True
            current = None
            section_indent = line_indent
            continue
        if not in_registered:
            continue
        m = _JOB.match(line)
        if m:
            component = m["component"]
            package = component.split("/", 1)[0]
            uid = uid_from_format(m["uid"])
            if uid is None:
                sink.add(f"unreadable uid {m['uid']!r}", number, stripped)
            current = ScheduledJob(package=package, uid=uid, job_id=int(m["id"]), service=component)
            indent = len(m["indent"])
            out.append(current)
            continue
        if line_indent <= section_indent:
            in_registered = False
            current = None
            continue
        if current is None:
            sink.add("line outside any job in the registered jobs section", number, stripped)
            continue
        if line_indent <= indent:
            current = None
            continue
        if " tag=" in line and current.tag is None:
            current.tag = stripped.partition("tag=")[2]
        elif stripped.startswith("Source:"):
            fields = dict(re.findall(r"(\w+)=(\S+)", stripped))
            current.source_package = fields.get("pkg")
            current.source_user = int(fields["user"]) if fields.get("user", "").isdigit() else None
        elif stripped == "PERSISTED":
            current.persisted = True
        elif stripped.startswith("PERIODIC:"):
            fields = dict(re.findall(r"(\w+)=(\S+)", stripped))
            current.periodic = True
            current.interval_seconds = parse_duration(fields.get("interval", ""))
            current.flex_seconds = parse_duration(fields.get("flex", ""))
            if current.interval_seconds is None:
                sink.add("unreadable PERIODIC interval", number, stripped)
        elif (
            stripped.startswith(("Network type:", "Required network:"))
            or (stripped.startswith("Required constraints:") and "CONNECTIVITY" in stripped)
        ) and not stripped.endswith((": 0", ": null")):
            current.requires_network = True
    if not saw_registered:
        sink.add("no 'Registered N jobs:' section (not a dumpsys jobscheduler output, or truncated)")
    return out
