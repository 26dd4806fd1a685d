"""Inventory parsers: raw phone outputs (getprop, pm, dumpsys, settings, ps, /proc/net) → typed models.

Reused by every source: a live phone, an evidence folder re-scan and a firmware image's build.prop.
`build_inventory` takes the raw outputs keyed by evidence file stem and never raises on bad input: what could
not be read is listed in ``DeviceInventory.parse_problems`` (which output, which line, why) and the rest goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from toolkit.inventory._common import printable
from toolkit.inventory.packages import (
    java_signature_hash,
    merge_packages,
    parse_dumpsys_package,
    parse_pm_list_packages,
    parse_pm_list_users,
    uid_map,
)
from toolkit.inventory.processes import parse_ps, uid_for_user
from toolkit.inventory.props import identity_from_props, parse_props
from toolkit.inventory.schedules import parse_dumpsys_alarm, parse_dumpsys_jobscheduler
from toolkit.inventory.settings import NAMESPACES, parse_settings
from toolkit.inventory.sockets import PROTOCOLS, map_socket_owners, parse_proc_net
from toolkit.inventory.usage import USAGE_KEYS, build_usage
from toolkit.models.device import DeviceInventory, PackageRecord, ParseProblem

log = logging.getLogger(__name__)

__all__ = [
    "OUTPUT_KEYS", "build_inventory", "identity_from_props", "java_signature_hash", "packages_by_uid",
    "parse_dumpsys_alarm", "parse_dumpsys_jobscheduler", "parse_dumpsys_package", "parse_pm_list_packages",
    "parse_pm_list_users", "parse_proc_net", "parse_props", "parse_ps", "parse_settings", "printable", "uid_for_user",
]

# Evidence file stems build_inventory reads. pm_list_packages_user0 is only read when pm_list_packages is empty.
OUTPUT_KEYS: tuple[str, ...] = (
    "getprop", "getenforce", "pm_list_packages", "pm_list_packages_user0", "pm_list_users", "dumpsys_package",
    "settings_system", "settings_secure", "settings_global", "dumpsys_alarm", "dumpsys_jobscheduler", "ps",
    "proc_net_tcp", "proc_net_tcp6", "proc_net_udp", "proc_net_udp6",
)

T = TypeVar("T")


def _run(problems: list[ParseProblem], source: str, default: T, parse: Callable[..., T], *args: Any) -> T:
    """Run one parser; an unexpected failure becomes a problem for that output and the rest goes on."""
    try:
        return parse(*args)
    except Exception as exc:  # noqa: BLE001 - one bad output must not stop the inventory
        log.exception("parser for %s failed", source)
        problems.append(ParseProblem(source=source, reason=f"parser failed: {type(exc).__name__}: {exc}"))
        return default


def build_inventory(outputs: Mapping[str, str]) -> DeviceInventory:
    """Parse every raw output (keys: see OUTPUT_KEYS) into one DeviceInventory.

    A missing output leaves its part empty and adds a problem; so does an output a parser cannot read.
    """
    problems: list[ParseProblem] = []
    inv = DeviceInventory()

    def get(key: str, *, required: bool = True) -> str | None:
        text = outputs.get(key)
        if text is None and required:
            problems.append(ParseProblem(source=key, reason="output missing: not collected or not found in evidence"))
        return text

    unknown = sorted(set(outputs) - set(OUTPUT_KEYS) - set(USAGE_KEYS))
    if unknown:
        log.debug("outputs not used by the inventory: %s", ", ".join(unknown))

    text = get("getprop")
    if text is not None:
        inv.properties = _run(problems, "getprop", {}, parse_props, text, problems, "getprop")
    selinux = get("getenforce")
    if selinux is not None and selinux.strip() not in ("Enforcing", "Permissive", "Disabled"):
        problems.append(ParseProblem(source="getenforce", line=1, reason="not Enforcing, Permissive or Disabled",
                                     text=selinux.strip()[:160]))
        selinux = None
    inv.identity = identity_from_props(inv.properties, selinux)

    listed: list[PackageRecord] = []
    text = get("pm_list_packages")
    if text is not None:
        listed = _run(problems, "pm_list_packages", [], parse_pm_list_packages, text, problems, "pm_list_packages")
    if not listed:
        fallback = outputs.get("pm_list_packages_user0")
        if fallback is not None:
            problems.append(ParseProblem(source="pm_list_packages",
                                         reason="no packages in the plain listing; used pm_list_packages_user0"))
            listed = _run(problems, "pm_list_packages_user0", [],
                          parse_pm_list_packages, fallback, problems, "pm_list_packages_user0")
    text = get("pm_list_users")
    if text is not None:
        inv.users = _run(problems, "pm_list_users", [], parse_pm_list_users, text, problems)
    dumped: list[PackageRecord] = []
    text = get("dumpsys_package")
    if text is not None:
        dumped = _run(problems, "dumpsys_package", [], parse_dumpsys_package, text, problems)
    inv.packages = _run(problems, "packages", listed + dumped, merge_packages, listed, dumped, problems)

    for ns in NAMESPACES:
        key = f"settings_{ns}"
        text = get(key)
        if text is not None:
            inv.settings += _run(problems, key, [], parse_settings, text, ns, problems, key)

    text = get("dumpsys_alarm")
    if text is not None:
        inv.alarms = _run(problems, "dumpsys_alarm", [], parse_dumpsys_alarm, text, problems)
    by_name = {p.name: p for p in inv.packages}
    for alarm in inv.alarms:
        pkg = by_name.get(alarm.package)
        if alarm.uid is None and pkg is not None:
            alarm.uid = pkg.uid
    text = get("dumpsys_jobscheduler")
    if text is not None:
        inv.jobs = _run(problems, "dumpsys_jobscheduler", [], parse_dumpsys_jobscheduler, text, problems)

    text = get("ps")
    if text is not None:
        inv.processes = _run(problems, "ps", [], parse_ps, text, problems)

    for proto in PROTOCOLS:
        key = f"proc_net_{proto}"
        text = get(key)
        if text is not None:
            inv.sockets += _run(problems, key, [], parse_proc_net, text, proto, problems, key)
    _run(problems, "sockets", None, map_socket_owners, inv.sockets, inv.packages)
    # App ops, traffic history, usage, powers, logcat (absent from acquisitions made before they were collected).
    inv.usage = _run(problems, "usage", None, build_usage, outputs, inv.packages, inv.settings, inv.properties)

    inv.parse_problems = problems
    return inv


def packages_by_uid(inventory: DeviceInventory) -> dict[int, list[str]]:
    """UID → names of the packages that run as it (several for a shared UID such as 1000)."""
    return uid_map(inventory.packages)

