"""The scan result: the contract between analysis and reporters, and the JSON output."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from toolkit.models.acquisition import AcquisitionManifest
from toolkit.models.apk import ApkMetadata
from toolkit.models.common import PhModel, Severity, Status
from toolkit.models.device import DeviceIdentity, DeviceInventory
from toolkit.models.finding import Finding, RuleInfo
from toolkit.models.firmware import FirmwareInfo
from toolkit.models.flow import Endpoint, Flow
from toolkit.models.indicators import IndicatorSource, IocMatch, Suppression
from toolkit.models.store import StoreCheckResult

Origin = Literal["file", "device", "firmware", "store", "evidence"]


class Provenance(PhModel):
    """Where an APK came from, so a reader can find the same bytes again."""

    origin: Origin = "file"
    chain: list[str] = Field(
        default_factory=list,
        description="Containers from outside in, e.g. ['ota.zip', 'payload.bin', 'system_a', 'ext4:/system/app/Foo/Foo.apk']",
    )
    device_path: str | None = Field(None, description="Path on the phone or inside the image")

    @property
    def display(self) -> str:
        return " > ".join(self.chain) if self.chain else (self.device_path or "")


class ApkInput(PhModel):
    """One APK to analyse: a local file plus where it came from."""

    path: str
    provenance: Provenance = Field(default_factory=Provenance)


class AnalysisLimit(PhModel):
    """A limit that cut the analysis short: which one, where it first applied, and how often.

    Any entry here makes the APK's status `partial`: the flows reported are real, but some code was not followed
    as far as the engine would have gone without the limit."""

    name: str = Field(description="Stable name of the limit, e.g. time_budget, method_size, fixpoint_rounds")
    where: str | None = Field(None, description="First place it applied: a method signature or a global cell")
    detail: str | None = Field(None, description="What was cut, in words")
    count: int = Field(1, description="How many times it applied in this APK")


class AnalysisStats(PhModel):
    seconds: float = 0.0
    dex_files: int = 0
    methods_total: int = 0
    methods_analysed: int = 0
    budget_exhausted: bool = False
    limits: list[AnalysisLimit] = Field(default_factory=list, description="Limits that cut the analysis (empty: none)")


class ApkReport(PhModel):
    """Everything phonehome says about one APK."""

    path: str
    sha256: str | None = None
    size: int | None = None
    package: str | None = None
    status: Status
    reason: str | None = Field(None, description="Why not (fully) analysed; None when analysed")
    provenance: Provenance = Field(default_factory=Provenance)
    metadata: ApkMetadata | None = None
    flows: list[Flow] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list, description="Every constant endpoint found in the app")
    stats: AnalysisStats = Field(default_factory=AnalysisStats)


class InputError(PhModel):
    """An input, or a part of the evidence, that could not be used (missing path, empty folder, unpullable APK ...)."""

    path: str
    reason: str
    level: Literal["error", "warning"] = Field(
        "error",
        description="error: an input the user named is unusable (the exit code becomes 2); warning: part of the "
        "evidence could not be collected (e.g. a phone refused to hand over one APK) and is recorded, the rest goes on",
    )


class ToolInfo(PhModel):
    """Everything whose version changes a result: a second examiner needs the same to reproduce it."""

    name: str = "phonehome"
    version: str
    engine_version: str = ""
    rules_version: str = ""
    androguard_version: str = Field("", description="Reads manifests, resources and signatures")
    geo_database: str = Field("", description="Offline IP-to-country data (package and version)")


class Target(PhModel):
    """What was scanned."""

    kind: Literal["apk_files", "device", "evidence", "firmware", "store"]
    inputs: list[str] = Field(default_factory=list)
    identity: DeviceIdentity | None = None


class ScanResult(PhModel):
    """The complete, self-contained result of one phonehome run."""

    schema_version: str = "1"
    tool: ToolInfo
    started_at: datetime
    finished_at: datetime
    target: Target
    apks: list[ApkReport] = Field(default_factory=list)
    input_errors: list[InputError] = Field(default_factory=list)
    rules: list[RuleInfo] = Field(default_factory=list, description="Metadata of every rule that produced a finding")
    device_findings: list[Finding] = Field(default_factory=list, description="Findings not tied to one APK")
    inventory: DeviceInventory | None = None
    acquisition: AcquisitionManifest | None = Field(
        None, description="The acquisition manifest of a phone scan (commands, pulled files, runs)"
    )
    firmware: FirmwareInfo | None = None
    indicator_sources: list[IndicatorSource] = Field(default_factory=list, description="STIX files matched (--iocs)")
    ioc_matches: list[IocMatch] = Field(default_factory=list, description="Indicators that matched the evidence")
    baseline_file: str | None = Field(None, description="Baseline applied (--baseline)")
    suppressed: list[Suppression] = Field(default_factory=list, description="Findings hidden by the baseline")
    store: StoreCheckResult | None = Field(None, description="Store check: signers, reference diffs, SDKs, endpoints")

    def all_findings(self) -> list[Finding]:
        return [f for apk in self.apks for f in apk.findings] + list(self.device_findings)

    def max_severity(self) -> Severity | None:
        findings = self.all_findings()
        return max((f.severity for f in findings), key=lambda s: s.rank) if findings else None
