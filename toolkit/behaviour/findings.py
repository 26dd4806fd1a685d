"""Findings from the phone's own records alone (no APK needed): what its apps did, not what their code could do.

- appops-source-access-by-preinstalled-app: a preinstalled app that the person does not use for that data accessed
  a source op (READ_SMS, READ_CONTACTS, READ_PHONE_STATE ...), with the time of the last access.
- periodic-background-network-use: a UID's netstats buckets show transmissions at a regular period (method:
  toolkit/behaviour/periodic.py), with the period, regularity, bytes per transmission and whether it ran while the
  app was not in use.
- power-not-chosen-by-user: a preinstalled app outside the platform (not Android's, not Google's) holds
  accessibility, notification-listener, device-admin/owner, default SMS/dialer or always-on VPN power.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from toolkit.behaviour.periodic import Periodicity, describe_period, detect_period
from toolkit.inventory.appops import SOURCE_OPS
from toolkit.models import Finding, RuleInfo
from toolkit.models.common import Confidence, Severity
from toolkit.models.device import DeviceInventory, PackageRecord
from toolkit.models.finding import finding_fingerprint
from toolkit.models.usage import AppOpRecord, NetstatsHistory, UsageRecords

APPOPS_RULE = RuleInfo(
    id="appops-source-access-by-preinstalled-app",
    title="Preinstalled app accessed personal data without being used for it",
    description="The phone's app-ops records show a preinstalled app accessed a source of personal data (SMS, "
                "contacts, call log, phone identifiers, location, accounts) although it is not the app the person "
                "uses for that data (never in the foreground per usagestats, not the default SMS/dialer app).",
    why="These are the phone's own records: the access happened, with its time. A preinstalled app reading SMS or "
        "the phone number in the background is how firmware phone-home starts.",
    severity=Severity.high, confidence=Confidence.high, references=["CWE-359", "OWASP MASVS-PRIVACY-1"],
    tags=["device", "records", "appops"])
PERIODIC_RULE = RuleInfo(
    id="periodic-background-network-use",
    title="App sends data at a regular period",
    description="The UID's netstats history shows transmissions at a regular period (median gap between buckets "
                "with sent bytes, at least six matching gaps, regularity >= 80%).",
    why="A fixed period is the mark of a scheduled beacon: the phone reporting on its own, not a person using an app.",
    severity=Severity.medium, confidence=Confidence.medium, references=["CWE-359"],
    tags=["device", "records", "netstats", "beacon"])
POWER_RULE = RuleInfo(
    id="power-not-chosen-by-user",
    title="Preinstalled app holds a power the user did not choose",
    description="A preinstalled app that is neither Android's nor Google's holds accessibility, notification "
                "listener, device admin/owner, default SMS/dialer or always-on VPN power.",
    why="These powers let an app read the screen, every notification (one-time codes included), SMS, or all "
        "traffic, and resist removal. Preinstalled and already enabled, the person never chose it.",
    severity=Severity.high, confidence=Confidence.medium, references=["CWE-250", "OWASP MASVS-PLATFORM-1"],
    tags=["device", "records", "power"])
RULES = (APPOPS_RULE, PERIODIC_RULE, POWER_RULE)

# Platform packages that read these sources as part of Android itself (telephony, providers, system UI).
PLATFORM_READERS = frozenset({
    "android", "com.android.phone", "com.android.systemui", "com.android.settings", "com.android.shell",
    "com.android.providers.telephony", "com.android.providers.contacts", "com.android.server.telecom",
    "com.android.mms.service", "com.android.location.fused", "com.android.cellbroadcastreceiver",
    "com.android.networkstack", "com.android.bluetooth", "com.android.nfc", "com.android.se",
})
_PLATFORM_PREFIXES = ("com.android.", "com.google.android.", "android.")
_SYSTEM_PATHS = ("/system/", "/vendor/", "/product/", "/system_ext/", "/odm/", "/oem/", "/apex/")
_SMS_OPS = {"READ_SMS", "RECEIVE_SMS"}
_SEVERE_OPS = {"READ_SMS", "RECEIVE_SMS", "READ_CONTACTS", "READ_CALL_LOG", "READ_PHONE_STATE",
               "READ_DEVICE_IDENTIFIERS"}
_POWER_SEVERITY = {"accessibility": Severity.high, "notification_listener": Severity.high,
                   "device_admin": Severity.medium, "device_owner": Severity.high, "profile_owner": Severity.medium,
                   "default_sms": Severity.high, "default_dialer": Severity.medium, "always_on_vpn": Severity.high}

_POWER_WORDS = {"accessibility": "an enabled accessibility service", "notification_listener":
                "an enabled notification listener", "device_admin": "an active device admin", "device_owner":
                "the device owner", "profile_owner": "a profile owner", "default_sms": "the default SMS app",
                "default_dialer": "the default dialer", "always_on_vpn": "the always-on VPN"}


def preinstalled(pkg: PackageRecord | None) -> bool:
    if pkg is None:
        return False
    paths = ([pkg.factory_code_path] if pkg.factory_code_path else []) + pkg.apk_paths
    return bool(pkg.is_system or pkg.is_updated_system or any(p.startswith(_SYSTEM_PATHS) for p in paths if p))


def _platform(name: str) -> bool:
    return name in PLATFORM_READERS or name.startswith(_PLATFORM_PREFIXES)


def _when(op: AppOpRecord, dumped_at: datetime | None) -> str:
    ago = op.last_access_ago_seconds
    rel = f"{ago / 60:.0f} min before the dump" if ago is not None and ago < 7200 else (
        f"{ago / 3600:.1f} h before the dump" if ago is not None else "")
    if op.last_access is not None:
        return f"{op.last_access.isoformat(sep=' ', timespec='seconds')} (phone's local time{', ' + rel if rel else ''})"
    return rel or "time not recorded"


def appops_findings(inv: DeviceInventory, usage: UsageRecords) -> list[Finding]:
    packages = {p.name: p for p in inv.packages}
    used = {u.package for u in usage.usage if u.last_time_used is not None or u.foreground_events}
    sms_holders = {p.package for p in usage.powers if p.kind == "default_sms"}
    dialers = {p.package for p in usage.powers if p.kind == "default_dialer"}
    by_pkg: dict[str, list[AppOpRecord]] = defaultdict(list)
    for op in usage.appops:
        if op.package and op.op in SOURCE_OPS and (op.last_access is not None or op.last_access_ago_seconds is not None):
            by_pkg[op.package].append(op)
    out: list[Finding] = []
    for name, ops in sorted(by_pkg.items()):
        if _platform(name) or not preinstalled(packages.get(name)):
            continue
        ops = [o for o in ops if not (o.op in _SMS_OPS and name in sms_holders)
               and not (o.op == "READ_CALL_LOG" and name in dialers)]
        if not ops or (name in used and not any(o.op in _SMS_OPS for o in ops)):
            continue  # the person uses this app: access is expected (except SMS by a non-SMS app)
        ops.sort(key=lambda o: o.last_access_ago_seconds if o.last_access_ago_seconds is not None else 1e12)
        data = sorted({SOURCE_OPS[o.op] for o in ops})
        latest = ops[0]
        severity = Severity.high if any(o.op in _SEVERE_OPS for o in ops) else Severity.medium
        not_used = "never used in the foreground (usagestats)" if name not in used else "used, but not its SMS app"
        out.append(Finding(
            rule_id=APPOPS_RULE.id, title=APPOPS_RULE.title, severity=severity, confidence=APPOPS_RULE.confidence,
            message=f"preinstalled {name} accessed {', '.join(data)} ({', '.join(o.op for o in ops)}); last: "
                    f"{latest.op} at {_when(latest, usage.dumped_at)}; {not_used}",
            package=name,
            evidence=[f"dumpsys appops: uid {o.uid} {o.op} mode={o.mode} last access {_when(o, usage.dumped_at)}"
                      + (f" [{o.last_access_raw}]" if o.last_access_raw else "") for o in ops]
            + [f"usagestats: {name} {'has foreground use' if name in used else 'has no foreground use recorded'}"],
            fingerprint=finding_fingerprint(APPOPS_RULE.id, name, ",".join(sorted(o.op for o in ops)))))
    return out


@dataclass(frozen=True)
class UidPeriod:
    """The periodicity verdict on one UID's sending buckets, with what it is based on."""

    uid: int
    packages: list[str]
    bucket_seconds: int
    verdict: Periodicity
    tx_per_transmission: list[int]
    background_share: float  # sending buckets with background (set=DEFAULT) bytes / all sending buckets
    first: int
    last: int


def uid_periods(usage: UsageRecords) -> list[UidPeriod]:
    """Per UID (all its networks and sets merged), the periodicity of its sending buckets."""
    groups: dict[int, list[NetstatsHistory]] = defaultdict(list)
    for h in usage.netstats:
        groups[h.uid].append(h)
    out: list[UidPeriod] = []
    for uid, hists in sorted(groups.items()):
        size = max(h.bucket_seconds for h in hists)
        tx: dict[int, int] = defaultdict(int)
        background: set[int] = set()
        for h in hists:
            for b in h.buckets:
                if b.tx_bytes > 0:
                    st = b.start - b.start % size
                    tx[st] += b.tx_bytes
                    if not h.foreground:
                        background.add(st)
        if not tx:
            continue
        verdict = detect_period(list(tx), resolution=size)
        starts = sorted(tx)
        out.append(UidPeriod(uid, sorted({p for h in hists for p in h.packages}), size, verdict,
                             [tx[s] for s in starts], len(background) / len(tx), starts[0], starts[-1]))
    return out


def _size(n: float) -> str:
    return f"{n / 1000:.1f} KB" if n >= 1000 else f"{n:.0f} B"


def periodic_findings(usage: UsageRecords) -> list[Finding]:
    used = {u.package: u for u in usage.usage}
    out: list[Finding] = []
    for p in uid_periods(usage):
        v = p.verdict
        if not v.periodic or v.period_seconds is None:
            continue
        names = ", ".join(p.packages) or f"uid {p.uid}"
        sizes = p.tx_per_transmission
        in_use = [used[n] for n in p.packages if n in used and (used[n].last_time_used or used[n].foreground_events)]
        use_note = ("the app was never in the foreground (usagestats)" if not in_use else
                    "last foreground use " + ", ".join(f"{u.package} {u.last_time_used}" for u in in_use))
        msg = (f"uid {p.uid} ({names}) sent data {describe_period(v.period_seconds)} "
               f"(regularity {v.regularity:.0%}, jitter {v.jitter_seconds or 0:.0f} s, {v.transmissions} transmissions)"
               f", {_size(min(sizes))}–{_size(max(sizes))} per transmission (median {_size(statistics.median(sizes))});"
               f" {p.background_share:.0%} in the background; {use_note}")
        out.append(Finding(
            rule_id=PERIODIC_RULE.id, title=PERIODIC_RULE.title, severity=PERIODIC_RULE.severity,
            confidence=Confidence.high if v.regularity >= 0.95 else PERIODIC_RULE.confidence, message=msg,
            package=p.packages[0] if len(p.packages) == 1 else None,
            evidence=[f"dumpsys netstats UID stats: uid {p.uid}, buckets of {p.bucket_seconds} s from st={p.first} "
                      f"to st={p.last}: {v.reason}",
                      f"method: median gap between sending buckets, tolerance resolution/2 + 10% "
                      f"(docs/observed.md); packages of the uid: {names}"],
            fingerprint=finding_fingerprint(PERIODIC_RULE.id, str(p.uid), f"{v.period_seconds:.0f}")))
    return out


def power_findings(inv: DeviceInventory, usage: UsageRecords) -> list[Finding]:
    packages = {p.name: p for p in inv.packages}
    out: list[Finding] = []
    for power in usage.powers:
        if _platform(power.package) or not preinstalled(packages.get(power.package)):
            continue
        what = _POWER_WORDS[power.kind]
        out.append(Finding(
            rule_id=POWER_RULE.id, title=POWER_RULE.title, severity=_POWER_SEVERITY[power.kind],
            confidence=POWER_RULE.confidence,
            message=f"preinstalled {power.package} is {what}"
                    + (f" ({power.component})" if power.component else "") + "; it is neither Android's nor Google's",
            package=power.package,
            evidence=[f"{power.source}" + (f": {power.component}" if power.component else "")
                      + (f" ({power.detail})" if power.detail else "")],
            fingerprint=finding_fingerprint(POWER_RULE.id, power.package, power.kind, power.component)))
    return out


def record_findings(inv: DeviceInventory | None) -> tuple[list[Finding], list[RuleInfo]]:
    """All findings from the usage records, and the metadata of the rules that produced them."""
    if inv is None or inv.usage is None:
        return [], []
    found = appops_findings(inv, inv.usage) + periodic_findings(inv.usage) + power_findings(inv, inv.usage)
    ids = {f.rule_id for f in found}
    return found, [r for r in RULES if r.id in ids]


def rules_of(findings: Iterable[Finding]) -> list[RuleInfo]:
    ids = {f.rule_id for f in findings}
    return [r for r in RULES if r.id in ids]
