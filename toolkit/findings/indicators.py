"""STIX 2.1 indicator files (as the mobile forensics community shares them, e.g. MVT's) and their matching.

A file is a STIX bundle of `indicator` objects whose patterns compare one observable, e.g.
`[app:id = 'com.example.spy']`, `[domain-name:value = 'evil.example']`, `[ipv4-addr:value = '203.0.113.7']`,
`[file:hashes.sha256 = '...']`, `[app:cert.sha256 = '...']`; `malware` objects name the campaign and
`relationship` objects (indicator -> malware, "indicates") tie them together.

Matching targets: package names, APK SHA-256, signer certificate SHA-256, endpoints found in code (per app and per
flow: domains including subdomains, IP addresses and networks, URLs, e-mail addresses) and live sockets of the
inventory, plus installed packages (name, signer) whose APK was not analysed. Each match becomes an `IocMatch`;
each indicator that matched an APK (or the device) becomes one high-severity `ioc-match` finding.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from toolkit.models import ApkReport, Confidence, Endpoint, Finding, RuleInfo, ScanResult, Severity
from toolkit.models.common import PhModel
from toolkit.models.indicators import Indicator, IndicatorKind, IndicatorSource, IocMatch, MatchTarget, SkippedIndicator

log = logging.getLogger(__name__)

IOC_RULE = RuleInfo(
    id="ioc-match",
    title="Matches a known indicator of compromise",
    description="A package name, APK or signer hash, endpoint or live connection matches an indicator from a STIX 2.1 "
    "file given with --iocs.",
    why="Someone has already tied this app, certificate or server to spyware or a data-harvesting campaign: the "
    "phone is probably affected by the same campaign. Check the indicator's source and the evidence listed.",
    severity=Severity.high,
    confidence=Confidence.high,
    references=["https://docs.oasis-open.org/cti/stix/v2.1/stix-v2.1.html", "CWE-506"],
    tags=["ioc", "stix"],
)

# Object path of a STIX comparison -> the kind phonehome can match. Several spellings of hashes are in use.
_OBSERVABLES: dict[str, IndicatorKind] = {
    "app:id": "app_id",
    "domain-name:value": "domain",
    "ipv4-addr:value": "ipv4",
    "ipv6-addr:value": "ipv6",
    "url:value": "url",
    "email-addr:value": "email",
    "file:hashes.sha256": "file_sha256",
    "file:hashes.'sha-256'": "file_sha256",
    "file:hashes.sha-256": "file_sha256",
    "app:cert.sha256": "cert_sha256",
    "x509-certificate:hashes.sha256": "cert_sha256",
    "x509-certificate:hashes.'sha-256'": "cert_sha256",
}
# Observables that are valid in MVT files but describe things phonehome does not collect.
_KNOWN_UNSUPPORTED = {
    "process:name", "file:name", "file:path", "configuration-profile:id", "android-property:name",
    "email-addr:display_name", "app:name",
}
_COMPARISON = re.compile(r"([a-z0-9][a-z0-9-]*:[a-z0-9_.'\-]+)\s*(=|!=|MATCHES|LIKE|IN|>=|<=|>|<)\s*'((?:[^'\\]|\\.)*)'", re.I)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class IndicatorFileError(ValueError):
    """An indicator file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class IndicatorSet(PhModel):
    """The usable indicators of one file, and the record of the file itself."""

    source: IndicatorSource
    indicators: list[Indicator] = Field(default_factory=list)


def expand_indicator_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders replaced by their *.stix2 and *.json files (sorted), as MVT keeps its indicators."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".stix2", ".json"))
            if not found:
                raise IndicatorFileError(path, "folder contains no .stix2 or .json indicator files")
            files.extend(found)
        else:
            files.append(path)
    return files


def load_indicator_files(paths: Iterable[str | Path]) -> list[IndicatorSet]:
    """Load indicator files and folders of them; the first malformed file raises IndicatorFileError."""
    return [load_indicator_file(p) for p in expand_indicator_paths(paths)]


def load_indicator_file(path: str | Path) -> IndicatorSet:
    """Parse one STIX 2.1 bundle of indicators. Raises IndicatorFileError naming the file and the problem."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise IndicatorFileError(path, f"cannot read indicator file: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise IndicatorFileError(path, f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise IndicatorFileError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise IndicatorFileError(path, "not a STIX bundle: the top level must be a JSON object")
    if data.get("type") != "bundle":
        raise IndicatorFileError(path, f"not a STIX bundle: \"type\" is {data.get('type')!r}, expected 'bundle'")
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise IndicatorFileError(path, "STIX bundle has no \"objects\" list")

    malware: dict[str, tuple[str, str | None]] = {}
    raw_indicators: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            raise IndicatorFileError(path, f"objects[{index}] is not a STIX object (no \"type\")")
        kind = obj["type"]
        if kind in ("malware", "campaign", "intrusion-set", "threat-actor"):
            if not isinstance(obj.get("id"), str) or not isinstance(obj.get("name"), str):
                raise IndicatorFileError(path, f"objects[{index}] ({kind}) needs an \"id\" and a \"name\"")
            malware[obj["id"]] = (obj["name"], obj.get("description"))
        elif kind == "indicator":
            for key in ("id", "pattern"):
                if not isinstance(obj.get(key), str) or not obj[key].strip():
                    raise IndicatorFileError(path, f"objects[{index}] (indicator) has no {key!r} string")
            pattern_type = obj.get("pattern_type", "stix")
            if pattern_type != "stix":
                raise IndicatorFileError(
                    path, f"indicator {obj['id']}: pattern_type {pattern_type!r} is not supported (only 'stix')"
                )
            raw_indicators.append(obj)
        elif kind == "relationship":
            if not isinstance(obj.get("source_ref"), str) or not isinstance(obj.get("target_ref"), str):
                raise IndicatorFileError(path, f"objects[{index}] (relationship) needs source_ref and target_ref")
            relationships.append(obj)

    campaign_of: dict[str, str] = {}
    for rel in relationships:
        if rel["target_ref"] in malware:
            campaign_of.setdefault(rel["source_ref"], rel["target_ref"])
        elif rel["source_ref"] in malware:
            campaign_of.setdefault(rel["target_ref"], rel["source_ref"])

    source = IndicatorSource(
        file=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
        campaigns=sorted({name for name, _ in malware.values()}),
    )
    indicators: list[Indicator] = []
    for obj in raw_indicators:
        campaign_id = campaign_of.get(obj["id"])
        campaign, description = malware.get(campaign_id, (None, None)) if campaign_id else (None, None)
        parsed, skipped = _parse_pattern(path, obj["id"], obj["pattern"])
        if skipped:
            source.skipped.append(SkippedIndicator(id=obj["id"], pattern=obj["pattern"], reason=skipped))
            log.warning("%s: indicator %s not usable: %s", path, obj["id"], skipped)
        for kind, value in parsed:
            indicators.append(
                Indicator(
                    id=obj["id"], kind=kind, value=value, pattern=obj["pattern"], name=obj.get("name"),
                    campaign=campaign, campaign_description=description, source_file=str(path),
                )
            )
    if not raw_indicators:
        raise IndicatorFileError(path, "STIX bundle contains no indicator objects")
    source.indicators = len(indicators)
    log.info("%s: %d indicators loaded, %d skipped", path, len(indicators), len(source.skipped))
    return IndicatorSet(source=source, indicators=indicators)


def _parse_pattern(path: str | Path, ind_id: str, pattern: str) -> tuple[list[tuple[IndicatorKind, str]], str | None]:
    """Comparisons of a pattern as (kind, normalised value); the second item says why part of it is not usable."""
    text = pattern.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise IndicatorFileError(path, f"indicator {ind_id}: pattern {pattern!r} is not a STIX pattern ([...])")
    comparisons = list(_COMPARISON.finditer(text))
    if not comparisons:
        raise IndicatorFileError(path, f"indicator {ind_id}: no comparison in pattern {pattern!r}")
    # Conjunctions need every part to be observed together: phonehome does not evaluate them (yet).
    if re.search(r"\]\s*AND\s*\[|'\s*AND\s+[a-z]", text, re.I):
        return [], "AND in pattern is not supported (only single comparisons or OR of comparisons)"
    if re.search(r"\b(FOLLOWEDBY|WITHIN|REPEATS|START|STOP)\b", text):
        return [], "temporal qualifiers are not supported"
    found: list[tuple[IndicatorKind, str]] = []
    problems: list[str] = []
    for match in comparisons:
        object_path, operator, literal = match.group(1).lower(), match.group(2).upper(), match.group(3)
        value = literal.replace("\\'", "'").replace("\\\\", "\\").strip()
        if operator != "=":
            problems.append(f"operator {operator} is not supported ({object_path})")
            continue
        kind = _OBSERVABLES.get(object_path)
        if kind is None:
            reason = "not collected by phonehome" if object_path in _KNOWN_UNSUPPORTED else "unknown observable"
            problems.append(f"{object_path}: {reason}")
            continue
        found.append((kind, _normalise(path, ind_id, kind, value)))
    return found, "; ".join(problems) or None


def _normalise(path: str | Path, ind_id: str, kind: IndicatorKind, value: str) -> str:
    if not value:
        raise IndicatorFileError(path, f"indicator {ind_id}: empty {kind} value")
    if kind in ("file_sha256", "cert_sha256"):
        digest = value.replace(":", "").lower()
        if not _HEX64.match(digest):
            raise IndicatorFileError(path, f"indicator {ind_id}: {value!r} is not a SHA-256 hex digest")
        return digest
    if kind in ("ipv4", "ipv6"):
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise IndicatorFileError(path, f"indicator {ind_id}: {value!r} is not an IP address or network") from exc
        if (network.version == 4) != (kind == "ipv4"):
            raise IndicatorFileError(path, f"indicator {ind_id}: {value!r} is not an {kind} address")
        return str(network) if network.num_addresses > 1 else str(network.network_address)
    if kind == "domain":
        return value.lower().rstrip(".")
    if kind == "email":
        return value.lower()
    if kind == "url":
        return _normalise_url(value)
    return value


def _normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return url.strip()
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"


# ---------------------------------------------------------------------------------------------------- matching


def _endpoint_host(endpoint: Endpoint) -> str | None:
    if endpoint.host:
        return endpoint.host.lower().rstrip(".").strip("[]")
    value = endpoint.value.strip()
    if endpoint.kind == "url":
        return (urlsplit(value).hostname or "").lower() or None
    if endpoint.kind in ("host", "ip"):
        if value.startswith("["):  # [v6]:port
            return value[1:].split("]", 1)[0].lower()
        return value.lower().rstrip(".").split(":")[0] if value.count(":") <= 1 else value.lower()
    return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:a.b.c.d as /proc/net/tcp6 shows IPv4 peers
    return address


class _Index:
    """Indicators by kind and value, so matching costs one lookup per observed value, not one per indicator."""

    def __init__(self, indicators: Sequence[Indicator]) -> None:
        self.exact: dict[tuple[str, str], list[Indicator]] = {}
        self.networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Indicator]] = []
        for ind in indicators:
            if ind.kind in ("ipv4", "ipv6"):
                network = ipaddress.ip_network(ind.value, strict=False)
                if network.num_addresses == 1:
                    self.exact.setdefault(("ip", str(network.network_address)), []).append(ind)
                else:
                    self.networks.append((network, ind))
            else:
                self.exact.setdefault((ind.kind, ind.value), []).append(ind)

    def get(self, kind: str, value: str) -> list[Indicator]:
        return self.exact.get((kind, value), [])

    def domain(self, host: str) -> list[Indicator]:
        """Indicators for the host or any parent domain (a.b.example matches b.example and example)."""
        labels = host.split(".")
        found: list[Indicator] = []
        for i in range(len(labels)):
            found += self.get("domain", ".".join(labels[i:]))
        return found

    def ip(self, text: str) -> list[Indicator]:
        address = _address(text)
        if address is None:
            return []
        return self.get("ip", str(address)) + [ind for net, ind in self.networks if address in net]

    def endpoint(self, endpoint: Endpoint) -> list[Indicator]:
        found: list[Indicator] = []
        host = _endpoint_host(endpoint)
        if host:
            found += self.domain(host) + self.ip(host)
        if endpoint.kind == "url":
            found += self.get("url", _normalise_url(endpoint.value))
        elif endpoint.kind == "email":
            found += self.get("email", endpoint.value.lower())
        return found


def _apk_matches(apk: ApkReport, index: _Index) -> list[IocMatch]:
    matches: list[IocMatch] = []
    package = apk.package or (apk.metadata.package if apk.metadata else None)

    def add(found: list[Indicator], target: MatchTarget, observed: str, location: str | None) -> None:
        for ind in found:
            matches.append(
                IocMatch(
                    indicator_id=ind.id, kind=ind.kind, indicator_value=ind.value, campaign=ind.campaign,
                    source_file=ind.source_file, target=target, observed=observed, package=package,
                    apk_sha256=apk.sha256, location=location,
                )
            )

    if package:
        add(index.get("app_id", package), "package", package, apk.path)
    if apk.sha256:
        add(index.get("file_sha256", apk.sha256.lower()), "apk_sha256", apk.sha256.lower(), apk.path)
    for cert in apk.metadata.certificates if apk.metadata else []:
        digest = cert.sha256.replace(":", "").lower()
        add(index.get("cert_sha256", digest), "cert_sha256", digest, cert.subject)
    for endpoint in apk.endpoints:
        add(index.endpoint(endpoint), "endpoint", endpoint.value, apk.path)
    for flow in apk.flows:
        for endpoint in flow.endpoints:
            add(index.endpoint(endpoint), "flow_endpoint", endpoint.value, flow.id)
    return matches


def _device_matches(result: ScanResult, index: _Index) -> list[IocMatch]:
    """Matches in the device inventory: live sockets, and installed packages whose APK was not analysed."""
    if result.inventory is None:
        return []
    matches: list[IocMatch] = []

    def add(found: list[Indicator], target: MatchTarget, observed: str, package: str | None, location: str) -> None:
        for ind in found:
            matches.append(
                IocMatch(
                    indicator_id=ind.id, kind=ind.kind, indicator_value=ind.value, campaign=ind.campaign,
                    source_file=ind.source_file, target=target, observed=observed, package=package, location=location,
                )
            )

    for sock in result.inventory.sockets:
        if not sock.is_remote:
            continue
        where = f"{sock.protocol} {sock.remote_address}:{sock.remote_port} uid {sock.uid} ({sock.state})"
        owner = sock.packages[0] if len(sock.packages) == 1 else None  # a shared UID cannot name one package
        add(index.ip(sock.remote_address), "socket", sock.remote_address, owner, where)
    # Packages the phone reports but whose APK was not analysed (not pulled, unreadable): still evidence.
    analysed = {a.package for a in result.apks if a.package}
    for record in result.inventory.packages:
        if record.name in analysed:
            continue
        where = f"inventory: {record.code_path or record.name}"
        add(index.get("app_id", record.name), "package", record.name, record.name, where)
        for digest in record.signing_cert_sha256:
            normalised = digest.replace(":", "").lower()
            add(index.get("cert_sha256", normalised), "cert_sha256", normalised, record.name, where)
    return matches


def _fingerprint(*parts: str | None) -> str:
    return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:32]


def _finding_for(matches: list[IocMatch], apk: ApkReport | None) -> Finding:
    """One finding per (indicator, APK or device), listing every place it matched."""
    first = matches[0]
    campaign = f" of {first.campaign}" if first.campaign else ""
    subject = (apk.package or apk.path) if apk else (first.package or first.location or "the device")
    seen = sorted({f"{m.target} {m.observed}" for m in matches})
    message = (
        f"{subject}: indicator {first.kind} '{first.indicator_value}'{campaign} "
        f"({Path(first.source_file).name}) matches {', '.join(seen)}"
    )
    evidence = [
        f"{m.target}: {m.observed}" + (f" at {m.location}" if m.location else "") + f" [indicator {m.indicator_id}]"
        for m in matches
    ]
    return Finding(
        rule_id=IOC_RULE.id,
        title=f"Known indicator{campaign}: {first.kind} {first.indicator_value}",
        severity=IOC_RULE.severity,
        confidence=IOC_RULE.confidence,
        message=message,
        package=(apk.package if apk else first.package),
        apk_sha256=apk.sha256 if apk else None,
        flow_ids=sorted({m.location for m in matches if m.target == "flow_endpoint" and m.location}),
        evidence=evidence,
        # Stable across runs and APK versions: rule, subject, indicator; not the file path or time.
        fingerprint=_fingerprint(
            IOC_RULE.id, "apk" if apk else "device", (apk.package or apk.path) if apk else first.package,
            first.kind, first.indicator_value,
        ),
    )


def apply_indicators(result: ScanResult, sets: Sequence[IndicatorSet]) -> ScanResult:
    """A copy of `result` with the indicator files recorded, their matches listed and one finding per match."""
    out = result.model_copy(deep=True)
    # Re-applying a file a saved report was already matched against would double its matches: skip it.
    done = {(s.file, s.sha256) for s in out.indicator_sources}
    sets = [s for s in sets if (s.source.file, s.source.sha256) not in done]
    out.indicator_sources.extend(s.source for s in sets)
    indicators = [ind for s in sets for ind in s.indicators]
    if not indicators:
        return out
    index = _Index(indicators)
    for apk in out.apks:
        matches = _apk_matches(apk, index)
        out.ioc_matches.extend(matches)
        for group in _group(matches):
            apk.findings.append(_finding_for(group, apk))
    device_matches = _device_matches(out, index)
    out.ioc_matches.extend(device_matches)
    for group in _group(device_matches):
        out.device_findings.append(_finding_for(group, None))
    if out.ioc_matches and all(rule.id != IOC_RULE.id for rule in out.rules):
        out.rules.append(IOC_RULE.model_copy())
    return out


def _group(matches: list[IocMatch]) -> list[list[IocMatch]]:
    groups: dict[tuple[str, str, str], list[IocMatch]] = {}
    for m in matches:
        groups.setdefault((m.indicator_id, m.kind, m.package or m.location or ""), []).append(m)
    return list(groups.values())
