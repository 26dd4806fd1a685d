"""What an APK declares: manifest facts and signing certificates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolkit.models.common import PhModel

ComponentKind = Literal["activity", "activity-alias", "service", "receiver", "provider"]
SignatureScheme = Literal["v1", "v2", "v3", "v31", "v4"]


class Certificate(PhModel):
    """One X.509 signing certificate. Digests are lowercase hex of the DER encoding."""

    sha256: str
    sha1: str
    subject: str
    issuer: str
    serial_number: str
    not_before: str | None = None
    not_after: str | None = None
    schemes: list[SignatureScheme] = Field(default_factory=list, description="Schemes that carry this cert")
    is_debug: bool = Field(False, description="Android debug certificate (CN=Android Debug)")


class IntentFilter(PhModel):
    actions: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    data_schemes: list[str] = Field(default_factory=list)
    data_mime_types: list[str] = Field(default_factory=list, description="<data android:mimeType>, e.g. image/*")
    priority: int | None = None


class Component(PhModel):
    """A manifest component (activity, service, receiver, provider)."""

    kind: ComponentKind
    name: str = Field(description="Fully qualified class name")
    exported: bool = Field(description="Effective exported state (explicit, or implied by intent filters)")
    enabled: bool = True
    permission: str | None = None
    target_activity: str | None = Field(None, description="For activity-alias: the aliased activity")
    process: str | None = Field(
        None, description="android:process (of the component, else of the application), ':name' qualified with "
                          "the package; None: the app's default process")
    intent_filters: list[IntentFilter] = Field(default_factory=list)

    @property
    def actions(self) -> list[str]:
        return [a for f in self.intent_filters for a in f.actions]


class ApkMetadata(PhModel):
    """Manifest, signing and packaging facts of one APK (no code analysis)."""

    package: str
    version_code: str | None = None
    version_name: str | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None
    label: str | None = None
    application_class: str | None = None
    shared_user_id: str | None = None
    persistent: bool = False
    debuggable: bool = False
    permissions: list[str] = Field(default_factory=list, description="uses-permission entries")
    components: list[Component] = Field(default_factory=list)
    certificates: list[Certificate] = Field(default_factory=list)
    signature_schemes: list[SignatureScheme] = Field(default_factory=list)
    signature_problems: list[str] = Field(default_factory=list, description="Why a signature block is unusable")
    dex_files: list[str] = Field(default_factory=list, description="classes*.dex entry names")
    native_libraries: list[str] = Field(default_factory=list)

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)
