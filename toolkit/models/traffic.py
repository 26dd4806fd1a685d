"""What `phonehome traffic scan` found in a network capture: the contract between toolkit/traffic/ and reporters.

Identifier values are kept in full here (the JSON is the evidence); renderers mask them unless asked not to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from toolkit.models.common import PhModel
from toolkit.models.finding import Finding, RuleInfo
from toolkit.models.usage import DeviceIdentifier

Encoding = Literal["raw", "url", "base64", "md5", "sha1", "sha256"]
FoundIn = Literal["payload", "http_body", "tls"]


class CaptureInfo(PhModel):
    """The capture file and how much of it was read."""

    path: str
    sha256: str | None = None
    size: int = 0
    format: Literal["pcap", "pcapng", "unknown"] = "unknown"
    link_type: int | None = None
    packets: int = 0
    decoded: int = Field(0, description="Packets with an IPv4/IPv6 header that was understood")
    bytes_read: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    complete: bool = Field(True, description="False when the capture was truncated/damaged or a limit stopped the read")
    warnings: list[str] = Field(default_factory=list, description="Truncation, damage, limits: what was read and why not more")
    limits: list[str] = Field(default_factory=list, description="Named limits that cut the read (time, flow table)")


class Destination(PhModel):
    """One remote endpoint (IP, port, protocol) the phone talked to, with the names the capture gives it."""

    ip: str
    port: int
    protocol: Literal["tcp", "udp"]
    country: str | None = None
    names: list[str] = Field(default_factory=list, description="From DNS answers, TLS SNI and HTTP Host")
    connections: int = 0
    packets_out: int = 0
    bytes_out: int = Field(0, description="IP bytes sent to it (headers included, as netstats counts)")
    bytes_in: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tls: bool = False
    http: bool = False


class Attribution(PhModel):
    """A destination tied to an app, and the evidence that supports it."""

    destination: str = Field(description="ip:port/protocol")
    package: str
    via: list[Literal["ip", "dns", "sni", "http_host", "netstats"]]
    endpoint: str | None = Field(None, description="The endpoint hard-coded in the app that matched")
    evidence: list[str] = Field(default_factory=list)


class IdentifierMatch(PhModel):
    """An identifier of the phone seen in a captured payload."""

    kind: str
    value: str
    encoding: Encoding
    matched: str = Field("", description="The text found (the value in that encoding)")
    time: datetime
    source: str = Field(description="ip:port of the sender")
    destination: str = Field(description="ip:port of the receiver")
    host: str | None = None
    country: str | None = None
    context: str = Field(description="The bytes around the match, non-printables escaped (\\xNN)")
    found_in: FoundIn = Field(
        "payload", description="payload: the bytes as sent (a TCP stream in sequence order, or a UDP datagram); "
                               "http_body: an HTTP request body after de-chunking/decompression; tls: TLS "
                               "application data decrypted with the examiner's key log")
    packages: list[str] = Field(default_factory=list, description="Apps the destination is attributed to")


class Beacon(PhModel):
    """Connections to one destination at a regular period."""

    destination: str
    names: list[str] = Field(default_factory=list)
    country: str | None = None
    period_seconds: float
    jitter_seconds: float | None = None
    regularity: float
    connections: int
    bytes_min: int
    bytes_max: int
    encrypted: bool = Field(False, description="Payloads were high-entropy (TLS or not)")
    packages: list[str] = Field(default_factory=list)


class EncryptedPayload(PhModel):
    """A high-entropy payload that is not TLS, sent to a destination."""

    destination: str
    names: list[str] = Field(default_factory=list)
    time: datetime
    bytes: int
    entropy: float = Field(description="Shannon entropy, bits per byte, of the first bytes of the payload")
    hard_coded: bool = Field(False, description="The destination is an endpoint hard-coded in an app")
    packages: list[str] = Field(default_factory=list)


class ObservedFlow(PhModel):
    """A static flow confirmed by the capture (the flow itself lives in the scan result's APK report)."""

    package: str
    flow_id: str
    source: str
    sink: str
    kind: Literal["capture_endpoint", "capture_identifier"]
    summary: str


class TrafficReport(PhModel):
    """The complete result of one `traffic scan`."""

    tool_version: str
    started_at: datetime
    finished_at: datetime
    capture: CaptureInfo
    evidence_folder: str | None = None
    identifiers: list[DeviceIdentifier] = Field(default_factory=list, description="What was searched for")
    destinations: list[Destination] = Field(default_factory=list)
    attributions: list[Attribution] = Field(default_factory=list)
    identifier_matches: list[IdentifierMatch] = Field(default_factory=list)
    beacons: list[Beacon] = Field(default_factory=list)
    encrypted_payloads: list[EncryptedPayload] = Field(default_factory=list)
    observed_flows: list[ObservedFlow] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    rules: list[RuleInfo] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
