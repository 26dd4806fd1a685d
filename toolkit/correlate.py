"""Device-level findings: what the phone was doing at acquisition, set against what its apps contain.

A live socket (from /proc/net) owned by an app's UID whose remote IP and port are an endpoint hard-coded in that
same app is evidence that the leak is happening now, not only that the code could do it: the app's own bytes name
the destination, and the kernel shows that UID connected to it.

Only literal IP endpoints are matched: a host name would need a DNS answer from the time of the acquisition,
which the evidence does not hold (resolving it today could give another address and prove nothing).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence

from toolkit.analysis.geo import annotate_sockets, database_info
from toolkit.behaviour.observed import apply_records
from toolkit.models import ApkReport, Endpoint, Finding, RuleInfo, ScanResult
from toolkit.models.common import Confidence, Severity
from toolkit.models.device import DeviceInventory, SocketRecord
from toolkit.models.finding import finding_fingerprint

log = logging.getLogger(__name__)

LIVE_ENDPOINT_RULE = RuleInfo(
    id="live-connection-to-hardcoded-endpoint",
    title="App connected to its own hard-coded endpoint at acquisition",
    description=(
        "A socket owned by the app's UID was connected to an IP address and port that the app's code or resources "
        "name as a constant destination."
    ),
    why=(
        "It shows the phone-home is happening on this handset now, not only that the code could do it: the kernel "
        "saw the app's UID talk to the very address written into the app."
    ),
    severity=Severity.high,
    confidence=Confidence.high,
    references=["CWE-359", "OWASP MASVS-PRIVACY-1"],
    tags=["device", "network", "live"],
)

# A URL without a port uses its scheme's one; the app still names the destination exactly.
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "mqtt": 1883, "mqtts": 8883}


def _ip(text: str | None) -> str | None:
    """The address in canonical form (IPv4-mapped IPv6 as dotted IPv4, like the socket parser), else None."""
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def _endpoint_port(endpoint: Endpoint) -> int | None:
    if endpoint.port is not None:
        return endpoint.port
    return DEFAULT_PORTS.get((endpoint.scheme or "").lower())


def _endpoint_ip(endpoint: Endpoint) -> str | None:
    return _ip(endpoint.host) or (_ip(endpoint.value) if endpoint.kind == "ip" else None)


def _app_endpoints(report: ApkReport) -> dict[tuple[str, int | None], tuple[Endpoint, list[str]]]:
    """Every IP endpoint of the APK (its constants and its flows') by (IP, port), with the ids of the flows that
    send to it."""
    seen: dict[tuple[str, int | None], tuple[Endpoint, list[str]]] = {}
    for endpoint in report.endpoints:
        ip = _endpoint_ip(endpoint)
        if ip:
            seen.setdefault((ip, _endpoint_port(endpoint)), (endpoint, []))
    for flow in report.flows:
        for endpoint in flow.endpoints:
            ip = _endpoint_ip(endpoint)
            if ip:
                _, flow_ids = seen.setdefault((ip, _endpoint_port(endpoint)), (endpoint, []))
                if flow.id not in flow_ids:
                    flow_ids.append(flow.id)
    return seen


def live_endpoint_findings(inventory: DeviceInventory | None, reports: Sequence[ApkReport]) -> list[Finding]:
    """One finding per (APK, remote IP:port) where a socket of the APK's UID is connected to an endpoint the APK
    hard-codes. A socket matches an app when the app is one of the packages running as the socket's UID."""
    if inventory is None or not inventory.sockets:
        return []
    sockets = [s for s in inventory.sockets if s.is_remote]
    findings: list[Finding] = []
    for report in reports:
        if not report.package:
            continue
        owned = [s for s in sockets if report.package in s.packages]
        if not owned:
            continue
        for (ip, port), (endpoint, flow_ids) in _app_endpoints(report).items():
            hits = [s for s in owned if s.remote_address == ip and (port is None or s.remote_port == port)]
            if not hits:
                continue
            findings.append(_finding(report, endpoint, port, flow_ids, hits))
    if findings:
        log.info("%d live connections to hard-coded endpoints", len(findings))
    return findings


def _finding(report: ApkReport, endpoint: Endpoint, port: int | None, flow_ids: list[str],
             hits: list[SocketRecord]) -> Finding:
    first = hits[0]
    remote = f"{first.remote_address}:{first.remote_port}"
    country = f" ({first.remote_country})" if first.remote_country else ""
    states = ", ".join(sorted({s.state for s in hits}))
    message = (f"{report.package} (uid {first.uid}) was connected to {remote}{country} [{states}] at acquisition; "
               f"the app hard-codes {endpoint.value}")
    if flow_ids:
        message += f", where {len(flow_ids)} leak flow(s) send data"
    evidence = [f"socket {s.protocol} {s.local_address}:{s.local_port} -> {s.remote_address}:{s.remote_port} "
                f"{s.state} uid {s.uid} owned by {', '.join(s.packages)}" for s in hits]
    evidence.append(f"endpoint {endpoint.value} ({endpoint.kind}) found in {', '.join(endpoint.found_in) or 'the app'} "
                    f"of {report.path} (sha256 {report.sha256})")
    if first.remote_country:  # so the country can be checked again against the same offline database
        evidence.append(f"country of {first.remote_address} from {database_info().label}")
    if port is None:
        evidence.append("the app names the IP without a port: matched on the address alone")
    return Finding(
        rule_id=LIVE_ENDPOINT_RULE.id,
        title=LIVE_ENDPOINT_RULE.title,
        severity=LIVE_ENDPOINT_RULE.severity,
        confidence=LIVE_ENDPOINT_RULE.confidence if port is not None else Confidence.medium,
        message=message,
        package=report.package,
        apk_sha256=report.sha256,
        flow_ids=flow_ids,
        evidence=evidence,
        fingerprint=finding_fingerprint(LIVE_ENDPOINT_RULE.id, report.package, report.sha256, remote),
    )


def add_device_findings(result: ScanResult) -> list[Finding]:
    """Complete a device or evidence ScanResult in place: countries of the live sockets' remote IPs, then the
    device-level findings (with their rule metadata in `result.rules`). Returns the findings added."""
    if result.inventory is None:
        return []
    annotate_sockets(result.inventory.sockets)
    known = {f.fingerprint for f in result.device_findings}
    added = [f for f in live_endpoint_findings(result.inventory, result.apks) if f.fingerprint not in known]
    result.device_findings.extend(added)
    _add_rules(result, [LIVE_ENDPOINT_RULE] if added else [])
    # What the phone recorded (app ops, netstats, powers): findings, and `observed` marks on the static flows.
    added += apply_records(result)
    return added


def _add_rules(result: ScanResult, infos: Iterable[RuleInfo]) -> None:
    have = {r.id for r in result.rules}
    for info in infos:
        if info.id not in have:
            result.rules.append(info)
            have.add(info.id)
