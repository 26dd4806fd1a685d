"""Indicators of compromise (STIX 2.1), their matches in a scan, and baseline suppression records."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolkit.models.common import PhModel
from toolkit.models.finding import Finding

IndicatorKind = Literal["app_id", "domain", "ipv4", "ipv6", "url", "file_sha256", "cert_sha256", "email"]
MatchTarget = Literal["package", "apk_sha256", "cert_sha256", "endpoint", "flow_endpoint", "socket"]


class Indicator(PhModel):
    """One comparison of a STIX 2.1 indicator pattern, e.g. `[domain-name:value = 'evil.example']`."""

    id: str = Field(description="STIX id of the indicator object")
    kind: IndicatorKind
    value: str = Field(description="Normalised value (lowercase for domains, hashes, e-mail addresses)")
    pattern: str = Field(description="The STIX pattern it came from, verbatim")
    name: str | None = None
    campaign: str | None = Field(None, description="Name of the malware/campaign it is related to")
    campaign_description: str | None = None
    source_file: str


class SkippedIndicator(PhModel):
    """An indicator object that was read but cannot be matched by phonehome, and why."""

    id: str
    pattern: str
    reason: str


class IndicatorSource(PhModel):
    """An indicator file that was loaded: what it held and what could not be used."""

    file: str
    sha256: str
    indicators: int = 0
    campaigns: list[str] = Field(default_factory=list)
    skipped: list[SkippedIndicator] = Field(default_factory=list)


class IocMatch(PhModel):
    """An indicator that matched something seen in the scan."""

    indicator_id: str
    kind: IndicatorKind
    indicator_value: str
    campaign: str | None = None
    source_file: str
    target: MatchTarget = Field(description="What matched: package name, APK hash, signer, endpoint, live socket")
    observed: str = Field(description="The value seen in the evidence")
    package: str | None = None
    apk_sha256: str | None = None
    location: str | None = Field(None, description="Where: flow id, socket address, APK path")


class Suppression(PhModel):
    """A finding hidden by a baseline: kept in the result so nothing disappears silently."""

    finding: Finding
    baseline_file: str
    note: str | None = Field(None, description="The reviewer's note from the baseline entry")
