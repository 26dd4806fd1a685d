"""Tie static flows to what the phone recorded: the `observed` mark.

A flow (source -> sink found in the code) is marked observed when a record shows it happening:
- appops: the app accessed the op that guards the flow's source (READ_SMS for an SMS source ...);
- netstats: the app's UID sent data periodically, at the period an alarm or job of the app is set to (from the
  code's trigger or the phone's own alarm/job tables), for a flow whose sink is the network;
- socket: the UID had a live connection to an IP endpoint the flow sends to;
- capture_endpoint / capture_identifier: added by `traffic scan` (toolkit/traffic/).
An observation says that the records are consistent with the flow having run; it does not prove that the bytes
sent were the source's value (only a capture showing the identifier can say that). docs/observed.md says more.
"""

from __future__ import annotations

from toolkit.behaviour.findings import UidPeriod, record_findings, uid_periods
from toolkit.behaviour.periodic import describe_period
from toolkit.models import ApkReport, Finding, RuleInfo, ScanResult
from toolkit.models.device import DeviceInventory
from toolkit.models.flow import Flow, Observation
from toolkit.models.usage import UsageRecords

# Source kinds (apk_rules/sources.yml) -> the app ops that guard them.
SOURCE_KIND_OPS: dict[str, tuple[str, ...]] = {
    "imei": ("READ_PHONE_STATE", "READ_DEVICE_IDENTIFIERS"),
    "imsi": ("READ_PHONE_STATE", "READ_DEVICE_IDENTIFIERS"),
    "sim_serial": ("READ_PHONE_STATE", "READ_DEVICE_IDENTIFIERS"),
    "phone_number": ("READ_PHONE_STATE", "READ_PHONE_NUMBERS"),
    "sms": ("READ_SMS", "RECEIVE_SMS"),
    "contacts": ("READ_CONTACTS",),
    "call_log": ("READ_CALL_LOG",),
    "location": ("FINE_LOCATION", "COARSE_LOCATION"),
    "accounts": ("GET_ACCOUNTS",),
}
NETWORK_SINKS = ("network",)


def _add(flow: Flow, obs: Observation) -> bool:
    if any(o.kind == obs.kind and o.summary == obs.summary for o in flow.observed):
        return False
    flow.observed.append(obs)
    return True


def _appops(flow: Flow, package: str, usage: UsageRecords) -> Observation | None:
    ops = SOURCE_KIND_OPS.get(flow.source.kind, ())
    hits = [o for o in usage.ops_of(package) if o.op in ops and (o.last_access or o.last_access_ago_seconds)]
    if not hits:
        return None
    lines = []
    for o in hits:
        when = o.last_access.isoformat(sep=" ", timespec="seconds") if o.last_access else \
            f"{(o.last_access_ago_seconds or 0) / 60:.0f} min before the dump"
        lines.append(f"dumpsys appops: {package} uid {o.uid} {o.op} mode={o.mode} last access {when}")
    return Observation(kind="appops", summary=f"{'/'.join(o.op for o in hits)} accessed (app ops)", evidence=lines)


def _code_periods(flow: Flow, package: str, inv: DeviceInventory) -> list[tuple[float, str]]:
    periods: list[tuple[float, str]] = []
    for t in flow.triggers:
        if t.period_seconds:
            periods.append((float(t.period_seconds), f"the code's {t.kind} trigger {t.component or ''}".strip()))
    kinds = {t.kind for t in flow.triggers}
    # The phone's alarm/job tables give the period only for a flow the code runs from an alarm/job.
    for a in inv.alarms if "alarm" in kinds else []:
        if a.package == package and a.interval_seconds:
            periods.append((a.interval_seconds, f"dumpsys alarm: {a.type} {a.action or a.tag or ''} repeats "
                                                f"every {a.interval_seconds:.0f} s"))
    for j in inv.jobs if "job" in kinds else []:
        if j.package == package and j.periodic and j.interval_seconds:
            periods.append((j.interval_seconds, f"dumpsys jobscheduler: job {j.job_id} every {j.interval_seconds:.0f} s"))
    return periods


def _netstats(flow: Flow, package: str, inv: DeviceInventory, periods: list[UidPeriod]) -> Observation | None:
    if flow.sink.kind not in NETWORK_SINKS:
        return None
    pkg = inv.package(package)
    if pkg is None or pkg.uid is None:
        return None
    mine = next((p for p in periods if p.uid == pkg.uid and p.verdict.periodic), None)
    if mine is None or mine.verdict.period_seconds is None:
        return None
    seen = mine.verdict.period_seconds
    tol = mine.bucket_seconds / 2 + 0.1 * seen
    for period, why in _code_periods(flow, package, inv):
        if abs(period - seen) <= tol:
            return Observation(kind="netstats", summary=f"uid {pkg.uid} sent {describe_period(seen)}, the period "
                               f"the app is scheduled at", evidence=[
                                   f"dumpsys netstats: uid {pkg.uid} sending buckets {describe_period(seen)} "
                                   f"({mine.verdict.reason})", why])
    return None


def _socket(flow: Flow, package: str, inv: DeviceInventory) -> Observation | None:
    ips = {e.host or e.value for e in flow.endpoints if e.kind in ("ip", "url", "host")}
    hits = [s for s in inv.sockets if package in s.packages and s.is_remote and s.remote_address in ips]
    if not hits:
        return None
    return Observation(kind="socket", summary=f"live connection to {hits[0].remote_address}:{hits[0].remote_port}",
                       evidence=[f"/proc/net/{s.protocol}: {s.local_address}:{s.local_port} -> {s.remote_address}:"
                                 f"{s.remote_port} {s.state} uid {s.uid}" for s in hits])


def mark_from_records(reports: list[ApkReport], inv: DeviceInventory | None) -> int:
    """Add appops / netstats / socket observations to the flows of the apps on this phone. Returns how many."""
    if inv is None:
        return 0
    usage = inv.usage
    periods = uid_periods(usage) if usage is not None else []
    added = 0
    for report in reports:
        if not report.package or inv.package(report.package) is None:
            continue
        for flow in report.flows:
            for obs in (_appops(flow, report.package, usage) if usage else None,
                        _netstats(flow, report.package, inv, periods),
                        _socket(flow, report.package, inv)):
                if obs is not None and _add(flow, obs):
                    added += 1
    return added


def apply_records(result: ScanResult) -> list[Finding]:
    """Findings from the usage records and observed marks on the flows; returns the findings added."""
    findings, rules = record_findings(result.inventory)
    known = {f.fingerprint for f in result.device_findings}
    added = [f for f in findings if f.fingerprint not in known]
    result.device_findings.extend(added)
    _add_rules(result, rules)
    mark_from_records(result.apks, result.inventory)
    return added


def _add_rules(result: ScanResult, infos: list[RuleInfo]) -> None:
    have = {r.id for r in result.rules}
    result.rules.extend(r for r in infos if r.id not in have)
