"""Store check results: is each app genuine, what was added to it, which SDKs it carries, where it talks to.

Produced by `toolkit.store` and carried on `ScanResult.store`; the per-APK findings of the signer checks go to
`ApkReport.findings` like every other finding.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolkit.models.apk import ComponentKind, SignatureScheme
from toolkit.models.common import PhModel
from toolkit.models.flow import Endpoint

PinState = Literal["match", "mismatch", "not_pinned"]
PlatformState = Literal["match", "mismatch", "unknown", "not_applicable"]
Verdict = Literal["genuine", "tampered", "suspicious", "unverified", "unreadable"]


class TamperVerdict(PhModel):
    """The overall answer for one APK: genuine, tampered, suspicious, unverified (nothing to compare with) ..."""

    verdict: Verdict
    reasons: list[str] = Field(default_factory=list, description="The facts the verdict rests on, one per line")


class SignerCheck(PhModel):
    """Signing facts and checks of one APK: schemes, certificates, pinning, AOSP test keys, platform key."""

    apk_path: str
    apk_sha256: str | None = None
    package: str | None = None
    schemes: list[SignatureScheme] = Field(default_factory=list, description="Schemes with a readable signer")
    certificates: list[str] = Field(default_factory=list, description="SHA-256 of every signing certificate (DER)")
    subjects: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="Unreadable or malformed signature blocks")
    scheme_mismatch: bool = Field(False, description="Two schemes name different certificates")
    debug_certificate: bool = False
    test_keys: list[str] = Field(default_factory=list, description="Names of publicly known AOSP test keys used")
    pin: PinState = "not_pinned"
    pinned_certificates: list[str] = Field(default_factory=list, description="Genuine digests from the pin file")
    pin_source: str | None = Field(None, description="Public source of the pinned value")
    shared_user_id: str | None = None
    platform_key: PlatformState = "not_applicable"
    verdict: TamperVerdict
    finding_rule_ids: list[str] = Field(default_factory=list, description="Signer findings added to the APK report")


class ComponentChange(PhModel):
    """A manifest component present only in the store copy."""

    kind: ComponentKind
    name: str
    exported: bool
    actions: list[str] = Field(default_factory=list)


class CodeAddition(PhModel):
    """Classes present only in the store copy, grouped by package and named as an SDK when recognised."""

    package: str = Field(description="Java package (dotted) the added classes live under")
    classes: int = Field(description="How many classes were added under it")
    examples: list[str] = Field(default_factory=list, description="A few of the added class names")
    sdk: str | None = Field(None, description="Recognised SDK/library name (tracker signatures), if any")
    tracker_id: str | None = None


class FlowChange(PhModel):
    """A leak flow present only in the store copy (matched on source kind, sink kind and the two methods)."""

    flow_id: str
    source: str
    sink: str
    source_method: str
    sink_method: str
    endpoints: list[str] = Field(default_factory=list)
    triggers: list[str] = Field(default_factory=list)


class ReferenceDiff(PhModel):
    """What differs between the store copy of an app and the reference APK of the same package."""

    package: str
    store_apk: str
    store_sha256: str | None = None
    reference_apk: str
    reference_sha256: str | None = None
    identical: bool = Field(False, description="Byte-identical files")
    same_signer: bool
    store_signers: list[str] = Field(default_factory=list)
    reference_signers: list[str] = Field(default_factory=list)
    store_version: str | None = None
    reference_version: str | None = None
    permissions_added: list[str] = Field(default_factory=list)
    permissions_removed: list[str] = Field(default_factory=list)
    components_added: list[ComponentChange] = Field(default_factory=list)
    boot_triggers_added: list[str] = Field(default_factory=list, description="Added components started at boot")
    classes_added: int = 0
    classes_removed: int = 0
    code_added: list[CodeAddition] = Field(default_factory=list)
    endpoints_added: list[Endpoint] = Field(default_factory=list)
    flows_added: list[FlowChange] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="What could not be compared and why")

    @property
    def changed(self) -> bool:
        return bool(
            not self.same_signer or self.permissions_added or self.components_added or self.classes_added
            or self.endpoints_added or self.flows_added
        )


class TrackerHit(PhModel):
    """A tracker or SDK recognised in an app, and whether its code lies on a leak flow (presence is not use)."""

    tracker_id: str
    name: str
    categories: list[str] = Field(default_factory=list)
    package: str | None = Field(None, description="The app's package")
    apk_path: str
    matched_classes: int = 0
    class_examples: list[str] = Field(default_factory=list)
    matched_hosts: list[str] = Field(default_factory=list)
    on_leak_flow: bool = False
    flow_ids: list[str] = Field(default_factory=list, description="Flows whose source, sink or path runs in its code")


class EndpointUse(PhModel):
    """An endpoint found in an app and the flows that send data to it."""

    endpoint: Endpoint
    flow_ids: list[str] = Field(default_factory=list)

    @property
    def used_by_flow(self) -> bool:
        return bool(self.flow_ids)


class AppEndpoints(PhModel):
    apk_path: str
    package: str | None = None
    endpoints: list[EndpointUse] = Field(default_factory=list)


class StoreCheckResult(PhModel):
    """Everything `phonehome store check` found besides the per-APK findings."""

    signer_checks: list[SignerCheck] = Field(default_factory=list)
    reference_diffs: list[ReferenceDiff] = Field(default_factory=list)
    without_reference: list[str] = Field(default_factory=list, description="Store APKs no reference APK matched")
    reference_unused: list[str] = Field(default_factory=list, description="Reference APKs no store APK matched")
    trackers: list[TrackerHit] = Field(default_factory=list)
    endpoints: list[AppEndpoints] = Field(default_factory=list)
    platform_certificates: list[str] = Field(
        default_factory=list, description="Platform key of the image/phone (signer of the `android` package)"
    )
    platform_source: str | None = Field(None, description="APK the platform key was taken from")
    pins_loaded: int = 0
    trackers_version: str = ""
    geo_database: str = ""
