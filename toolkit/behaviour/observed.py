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
from toolkit.models.common import Severity
from toolkit.models.device import DeviceInventory
from toolkit.models.flow import Flow, Observation
from toolkit.models.traffic import ObservedFlow, TrafficReport
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


# Identifier kinds found in captures -> the flow source kinds they are the value of.
IDENTIFIER_SOURCES: dict[str, tuple[str, ...]] = {
    "imei": ("imei",), "imsi": ("imsi",), "iccid": ("sim_serial",), "phone_number": ("phone_number",),
    "android_id": ("android_id",), "serial": ("serial",), "wifi_mac": ("mac_address", "wifi_mac"),
}


def _flow_hits(flow: Flow, endpoint: str | None, destination: str) -> bool:
    """Does the flow send to this endpoint (host name or IP) or destination IP?"""
    ip = destination.rsplit(":", 1)[0].split("/")[0]
    for e in flow.endpoints:
        host = (e.host or e.value).lower()
        if host in (ip, (endpoint or "").lower()) or (endpoint and host.endswith("." + endpoint.lower())):
            return True
    return False


def mark_from_capture(result: ScanResult, traffic: TrafficReport) -> list[ObservedFlow]:
    """Mark the flows a capture confirms; an identifier seen leaving makes the flow's findings critical."""
    by_pkg: dict[str, list[ApkReport]] = {}
    for r in result.apks:  # an updated system app has two APKs (the update and the factory copy)
        if r.package:
            by_pkg.setdefault(r.package, []).append(r)
    out: list[ObservedFlow] = []

    def note(report: ApkReport, flow: Flow, obs: Observation) -> None:
        if _add(flow, obs):
            out.append(ObservedFlow(package=report.package or "", flow_id=flow.id, source=flow.source.kind,
                                    sink=flow.sink.kind, kind=obs.kind, summary=obs.summary))

    for a in traffic.attributions:
        for report, flow in ((r, f) for r in by_pkg.get(a.package, []) for f in r.flows):
            if flow.sink.kind in NETWORK_SINKS and _flow_hits(flow, a.endpoint, a.destination):
                note(report, flow, Observation(
                    kind="capture_endpoint", summary=f"capture: traffic to {a.destination} ({', '.join(a.via)})",
                    evidence=[f"{traffic.capture.path} (sha256 {traffic.capture.sha256})"] + a.evidence))
    for m in traffic.identifier_matches:
        for pkg in m.packages:
            for report, flow in ((r, f) for r in by_pkg.get(pkg, []) for f in r.flows):
                if flow.source.kind not in IDENTIFIER_SOURCES.get(m.kind, ()) or flow.sink.kind not in NETWORK_SINKS:
                    continue
                if flow.endpoints and not _flow_hits(flow, m.host, m.destination):
                    continue
                note(report, flow, Observation(
                    kind="capture_identifier", summary=f"capture: {m.kind} seen leaving ({m.encoding}) to "
                    f"{m.destination}" + (f" ({m.host})" if m.host else ""),
                    evidence=[f"{traffic.capture.path} (sha256 {traffic.capture.sha256}): packet {m.source} -> "
                              f"{m.destination} at {m.time.isoformat()}"]))
                # An observed identifier leak is always critical.
                for finding in report.findings:
                    if flow.id in finding.flow_ids and finding.severity is not Severity.critical:
                        finding.evidence.append(f"observed: {m.kind} seen leaving to {m.destination} in "
                                                f"{traffic.capture.path}; severity raised to critical "
                                                f"(was {finding.severity.value})")
                        finding.severity = Severity.critical
    traffic.observed_flows = out
    return out
