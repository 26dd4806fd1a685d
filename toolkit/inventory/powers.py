"""Configuration that gives an app power → GrantedPower.

- `dumpsys accessibility`: ``Enabled services:{{com.x/com.x.Svc}}`` (Android 10+) or the ``services:{...}`` of the
  user state (Android 7–9, labels only); the secure setting ``enabled_accessibility_services``
  (``com.x/.Svc:com.y/.Svc``) names the components on every version and is read as well.
- `dumpsys device_policy`: ``Device Owner:`` / ``Profile Owner (User N):`` blocks (``admin=ComponentInfo{...}``,
  ``package=``) and the ``Enabled Device Admins (User N, ...):`` list (one ``com.x/.Receiver:`` line each).
- secure settings: ``enabled_notification_listeners``, ``sms_default_application``, ``dialer_default_application``
  (the defaults before roles, Android ≤ 9; still written on many later builds) and ``always_on_vpn_app``.
- `cmd role get-role-holders android.app.role.SMS|DIALER` (Android 10+): the holders, ``;``-separated.
"""

from __future__ import annotations

import re

from toolkit.inventory._common import Problems, split_lines
from toolkit.models.device import ParseProblem, Setting
from toolkit.models.usage import GrantedPower, PowerKind

_COMPONENT = re.compile(r"(?P<pkg>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)/(?P<cls>[A-Za-z0-9_.$]+)")
_PKG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+$")


def _components(value: str) -> list[tuple[str, str]]:
    return [(m["pkg"], f"{m['pkg']}/{m['cls']}") for m in _COMPONENT.finditer(value)]


def parse_dumpsys_accessibility(text: str, problems: list[ParseProblem] | None = None,
                                source: str = "dumpsys_accessibility") -> list[GrantedPower]:
    """Enabled (and bound) accessibility services named by component in the dump."""
    probs = Problems(source, problems)
    out: list[GrantedPower] = []
    block: str | None = None  # the section of a multi-line list being read ("enabled services: {" ... "}")
    for line in split_lines(text):
        low = line.lower().strip()
        if block is not None:
            if low.startswith("}"):
                block = None
                continue
            found, label = _components(line), block
        elif low.startswith(("enabled services:", "bound services:", "installed & enabled services")):
            found, label = _components(line), line.strip().split(":", 1)[0]
            if low.endswith("{"):  # older builds (a Samsung Android 10 dump): one "N : component" line each
                block = label
        else:
            continue
        for pkg, comp in found:
            if not any(p.component == comp for p in out):
                out.append(GrantedPower(kind="accessibility", package=pkg, component=comp, source=f"{source}: {label}"))
    if text.strip() and "ACCESSIBILITY MANAGER" not in text:
        probs.add("no ACCESSIBILITY MANAGER header: not an accessibility dump, or the service refused")
    return out


_OWNER = re.compile(r"^\s*(?P<kind>Device Owner|Profile Owner)(?: \(User (?P<user>\d+)\))?:\s*(?P<rest>.*)$")
_ADMINS = re.compile(r"^\s*Enabled Device Admins \(User (?P<user>\d+)")
_ADMIN_LINE = re.compile(r"^\s*(?P<comp>[A-Za-z][\w.]*/[\w.$]+):\s*$")


def parse_dumpsys_device_policy(text: str, problems: list[ParseProblem] | None = None,
                                source: str = "dumpsys_device_policy") -> list[GrantedPower]:
    """Device owner, profile owners and active device admins."""
    probs = Problems(source, problems)
    out: list[GrantedPower] = []
    block: str | None = None  # "device_owner" / "profile_owner" / "admins"
    user: str | None = None
    for line in split_lines(text):
        m = _OWNER.match(line)
        if m:
            block = "device_owner" if m["kind"] == "Device Owner" else "profile_owner"
            user = m["user"]
            for pkg, comp in _components(m["rest"]):  # Android 7: "Device Owner: admin=ComponentInfo{...}" inline
                out.append(GrantedPower(kind=block, package=pkg, component=comp, source=f"{source}: {m['kind']}"))
                block = None
            continue
        m = _ADMINS.match(line)
        if m:
            block, user = "admins", m["user"]
            continue
        if block in ("device_owner", "profile_owner"):
            a = re.match(r"^\s*admin=ComponentInfo\{(?P<comp>[^}]+)\}", line)
            if a:
                pkg = a["comp"].split("/", 1)[0]
                kind: PowerKind = "device_owner" if block == "device_owner" else "profile_owner"
                out.append(GrantedPower(kind=kind, package=pkg, component=a["comp"],
                                        source=f"{source}: {'Device Owner' if kind == 'device_owner' else 'Profile Owner'}",
                                        detail=f"user {user}" if user else None))
                block = None
            elif not line.strip():
                block = None
            continue
        if block == "admins":
            a = _ADMIN_LINE.match(line)
            if a:
                comp = a["comp"]
                out.append(GrantedPower(kind="device_admin", package=comp.split("/", 1)[0], component=comp,
                                        source=f"{source}: Enabled Device Admins", detail=f"user {user}"))
            elif line.strip() and not re.match(r"^\s{4,}", line):
                block = None  # a line back at section level: the admin list is over
    if text.strip() and "Device Policy" not in text:
        probs.add("no 'Device Policy Manager' header: not a device_policy dump, or the service refused")
    return out


_SETTING_POWERS: dict[str, PowerKind] = {
    "enabled_accessibility_services": "accessibility",
    "enabled_notification_listeners": "notification_listener",
    "sms_default_application": "default_sms",
    "dialer_default_application": "default_dialer",
    "always_on_vpn_app": "always_on_vpn",
}


def powers_from_settings(settings: list[Setting]) -> list[GrantedPower]:
    """Powers the secure settings grant (components ':'-separated; the defaults and the VPN name a package)."""
    out: list[GrantedPower] = []
    for s in settings:
        kind = _SETTING_POWERS.get(s.key) if s.namespace == "secure" else None
        if kind is None or not s.value or s.value == "null":
            continue
        comps = _components(s.value)
        if comps:
            out += [GrantedPower(kind=kind, package=p, component=c, source=f"settings_secure: {s.key}")
                    for p, c in comps]
        elif _PKG.match(s.value.strip()):
            detail = None
            if kind == "always_on_vpn":
                lockdown = next((x for x in settings if x.namespace == "secure" and x.key == "always_on_vpn_lockdown"),
                                None)
                detail = f"lockdown={lockdown.value}" if lockdown else None
            out.append(GrantedPower(kind=kind, package=s.value.strip(), source=f"settings_secure: {s.key}",
                                    detail=detail))
    return out


def parse_role_holders(text: str, kind: PowerKind, problems: list[ParseProblem] | None = None,
                       source: str = "cmd_role") -> list[GrantedPower]:
    """`cmd role get-role-holders ROLE`: holders separated by ';' (an empty line when none)."""
    probs = Problems(source, problems)
    out: list[GrantedPower] = []
    for raw in re.split(r"[;\n]", text):
        name = raw.strip()
        if not name:
            continue
        if _PKG.match(name):
            out.append(GrantedPower(kind=kind, package=name, source=source))
        else:
            probs.add("not a package name (the role service may be missing on this version)", None, name)
            break
    return out
