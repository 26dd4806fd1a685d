"""Assemble UsageRecords from the raw usage outputs of an evidence folder (keys: USAGE_KEYS).

Like build_inventory, never raises on bad input: what could not be read is a ParseProblem and the rest goes on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from toolkit.inventory.activity import (
    parse_batterystats_checkin,
    parse_dumpsys_activity_services,
    parse_dumpsys_usagestats,
)
from toolkit.inventory.appops import parse_dumpsys_appops
from toolkit.inventory.logcat import parse_logcat
from toolkit.inventory.netstats import parse_dumpsys_netstats
from toolkit.inventory.packages import uid_map
from toolkit.inventory.powers import (
    parse_dumpsys_accessibility,
    parse_dumpsys_device_policy,
    parse_role_holders,
    powers_from_settings,
)
from toolkit.models.device import PackageRecord, ParseProblem, Setting
from toolkit.models.usage import AppOpRecord, DeviceIdentifier, GrantedPower, UsageRecords

log = logging.getLogger(__name__)

USAGE_KEYS: tuple[str, ...] = (
    "dumpsys_appops", "dumpsys_netstats", "dumpsys_usagestats", "dumpsys_batterystats", "dumpsys_activity_services",
    "dumpsys_accessibility", "dumpsys_device_policy", "role_sms", "role_dialer", "logcat", "dumpsys_iphonesubinfo",
    "wifi_mac",
)
T = TypeVar("T")


def _run(problems: list[ParseProblem], source: str, default: T, parse: Callable[..., T], *args: Any) -> T:
    try:
        return parse(*args)
    except Exception as exc:  # noqa: BLE001 - one bad output must not stop the rest
        log.exception("parser for %s failed", source)
        problems.append(ParseProblem(source=source, reason=f"parser failed: {type(exc).__name__}: {exc}"))
        return default


_PROP_IMEI = re.compile(r"imei\d?$", re.I)
_SUBINFO = {
    "imei": re.compile(r"^\s*(?:Device ID|IMEI|Imei)\s*[=:]\s*(?P<v>\d{14,16})\s*$", re.M),
    "imsi": re.compile(r"^\s*(?:Subscriber ID|IMSI)\s*[=:]\s*(?P<v>\d{6,15})\s*$", re.M),
    "iccid": re.compile(r"^\s*(?:ICC ID|Iccid|ICCID|Sim Serial Number)\s*[=:]\s*(?P<v>\d{18,22}F?)\s*$", re.M),
    "phone_number": re.compile(r"^\s*(?:Line 1 Number|Phone Number|MSISDN)\s*[=:]\s*(?P<v>\+?\d{6,15})\s*$", re.M),
}


def identifiers_from(outputs: Mapping[str, str], properties: Mapping[str, str],
                     settings: list[Setting]) -> list[DeviceIdentifier]:
    """Identifiers the evidence holds: serial (getprop), IMEI in vendor properties, Android ID (secure settings),
    what `dumpsys iphonesubinfo` printed (older versions print the IMEI; newer ones print nothing), Wi-Fi MAC."""
    out: list[DeviceIdentifier] = []

    def add(kind: str, value: str, source: str) -> None:
        value = value.strip()
        if value and not any(i.kind == kind and i.value == value for i in out):
            out.append(DeviceIdentifier.model_validate({"kind": kind, "value": value, "source": source}))

    for key in ("ro.serialno", "ro.boot.serialno"):
        v = properties.get(key, "")
        if v and v.lower() not in ("unknown", "0123456789abcdef"):
            add("serial", v, f"getprop {key}")
    for key, v in sorted(properties.items()):
        if _PROP_IMEI.search(key) and re.fullmatch(r"\d{14,16}", v.strip()):
            add("imei", v, f"getprop {key}")
    for s in settings:
        if s.namespace == "secure" and s.key == "android_id" and s.value and s.value != "null":
            add("android_id", s.value, "settings secure android_id")
    sub = outputs.get("dumpsys_iphonesubinfo") or ""
    for kind, rx in _SUBINFO.items():
        for m in rx.finditer(sub):
            add(kind, m["v"], "dumpsys iphonesubinfo")
    mac = (outputs.get("wifi_mac") or "").strip().lower()
    if re.fullmatch(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", mac) and mac != "02:00:00:00:00:00":
        add("wifi_mac", mac, "/sys/class/net/wlan0/address")  # 02:00:00:00:00:00 is Android's placeholder
    return out


def build_usage(outputs: Mapping[str, str], packages: list[PackageRecord], settings: list[Setting],
                properties: Mapping[str, str] | None = None) -> UsageRecords | None:
    """Parse every usage output present; None when the evidence has none of them (an older acquisition)."""
    present = [k for k in USAGE_KEYS if k in outputs]
    if not present:
        return None
    problems: list[ParseProblem] = []
    rec = UsageRecords(sources=present)
    uids = uid_map(packages)
    text = outputs.get("dumpsys_appops")
    if text is not None:
        no_ops: tuple[list[AppOpRecord], datetime | None] = ([], None)
        rec.appops, rec.dumped_at = _run(problems, "dumpsys_appops", no_ops, parse_dumpsys_appops, text, problems)
    text = outputs.get("dumpsys_netstats")
    if text is not None:
        rec.netstats = _run(problems, "dumpsys_netstats", [], parse_dumpsys_netstats, text, problems)
        for h in rec.netstats:
            h.packages = list(uids.get(h.uid % 100000 if h.uid >= 100000 else h.uid, []))
    text = outputs.get("dumpsys_usagestats")
    if text is not None:
        rec.usage = _run(problems, "dumpsys_usagestats", [], parse_dumpsys_usagestats, text, problems)
    text = outputs.get("dumpsys_batterystats")
    if text is not None:
        rec.battery = _run(problems, "dumpsys_batterystats", [], parse_batterystats_checkin, text, problems)
        for b in rec.battery:
            b.packages = b.packages or list(uids.get(b.uid, []))
    text = outputs.get("dumpsys_activity_services")
    if text is not None:
        rec.services = _run(problems, "dumpsys_activity_services", [], parse_dumpsys_activity_services, text,
                            problems)
    powers: list[GrantedPower] = []
    text = outputs.get("dumpsys_accessibility")
    if text is not None:
        powers += _run(problems, "dumpsys_accessibility", [], parse_dumpsys_accessibility, text, problems)
    text = outputs.get("dumpsys_device_policy")
    if text is not None:
        powers += _run(problems, "dumpsys_device_policy", [], parse_dumpsys_device_policy, text, problems)
    for key, kind in (("role_sms", "default_sms"), ("role_dialer", "default_dialer")):
        text = outputs.get(key)
        if text is not None and "Can't find service" not in text and "Unknown command" not in text:
            powers += _run(problems, key, [], parse_role_holders, text, kind, problems, key)
    powers += powers_from_settings(settings)
    for p in powers:  # one entry per (kind, package, component): the first source that names it
        if not any(q.kind == p.kind and q.package == p.package and q.component in (None, p.component)
                   for q in rec.powers):
            rec.powers.append(p)
    text = outputs.get("logcat")
    if text is not None:
        rec.logcat = parse_logcat(text)
    rec.identifiers = identifiers_from(outputs, properties or {}, settings)
    rec.parse_problems = problems
    return rec
