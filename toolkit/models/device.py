"""What a phone (or a firmware build) says about itself, and its inventory.

Owned by the inventory parsers (toolkit/inventory/); the phone and firmware sources both produce these.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from toolkit.models.common import PhModel

if TYPE_CHECKING:  # resolved by toolkit.models.usage (which needs ParseProblem from here) at import
    from toolkit.models.usage import UsageRecords


class DeviceIdentity(PhModel):
    """Identity of a handset or firmware build, from getprop or build.prop."""

    brand: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    device: str | None = None
    fingerprint: str | None = None
    android_version: str | None = None
    sdk: int | None = None
    security_patch: str | None = None
    build_id: str | None = None
    serial: str | None = None
    selinux: str | None = Field(None, description="Enforcing / Permissive / Disabled")
    build_type: str | None = Field(None, description="ro.build.type: user / userdebug / eng")
    build_tags: str | None = Field(None, description="ro.build.tags: release-keys / test-keys / dev-keys")


class ParseProblem(PhModel):
    """Something in a raw output that could not be understood. Recorded, never silently dropped."""

    source: str = Field(description="Which output (evidence file stem, e.g. dumpsys_package) or file")
    line: int | None = Field(None, description="1-based line number in that output, when one line is at fault")
    reason: str
    text: str | None = Field(None, description="The offending line (shortened), when there is one")

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}" + (f" [{self.text}]" if self.text else "")


class UserInfo(PhModel):
    """An Android user or profile from `pm list users` (`UserInfo{0:Owner:c13} running`)."""

    id: int
    name: str
    flags: int | None = Field(None, description="UserInfo flags (hex in the output), e.g. 0x13 = PRIMARY|ADMIN|INITIALIZED")
    running: bool = False


EnabledState = Literal["default", "enabled", "disabled", "disabled_user", "disabled_until_used", "unknown"]


class PackageUserState(PhModel):
    """A package's state for one Android user (the `User N:` lines of `dumpsys package`)."""

    user_id: int
    installed: bool = True
    hidden: bool | None = None
    suspended: bool | None = None
    stopped: bool | None = None
    not_launched: bool | None = None
    enabled: int | None = Field(None, description="COMPONENT_ENABLED_STATE_*: 0 default, 1 enabled, 2 disabled, 3 disabled by user, 4 disabled until used")
    enabled_state: EnabledState = "unknown"
    first_install_time: datetime | None = Field(None, description="Per-user install time (Android 13+), device local time")
    first_install_time_raw: str | None = None
    granted_runtime_permissions: list[str] = Field(default_factory=list)
    denied_runtime_permissions: list[str] = Field(default_factory=list, description="Runtime permissions listed with granted=false")


class PackageRecord(PhModel):
    """One installed package, merged from `pm list packages` and `dumpsys package` (joined by name).

    Times are the device's local wall-clock time as dumpsys prints it (no zone); the raw strings are kept.
    """

    name: str
    apk_paths: list[str] = Field(default_factory=list, description="Base APK then split APKs, device paths")
    code_path: str | None = Field(None, description="Install directory (or the APK itself on very old versions)")
    resource_path: str | None = None
    splits: list[str] = Field(default_factory=list, description="Split names as dumpsys prints them (base, config.arm64_v8a ...)")
    version_code: int | None = None
    version_name: str | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None
    uid: int | None = Field(None, description="userId / appId (the user-0 UID)")
    shared_user: str | None = Field(None, description="sharedUserId, e.g. android.uid.system")
    installer: str | None = Field(None, description="installerPackageName; None when none was recorded")
    first_install_time: datetime | None = None
    first_install_time_raw: str | None = None
    last_update_time: datetime | None = None
    last_update_time_raw: str | None = None
    is_system: bool | None = None
    is_privileged: bool | None = None
    is_updated_system: bool = Field(False, description="A system app replaced by an update (listed under Hidden system packages)")
    is_persistent: bool = False
    flags: list[str] = Field(default_factory=list)
    private_flags: list[str] = Field(default_factory=list)
    users: list[PackageUserState] = Field(default_factory=list)
    installed_users: list[int] = Field(default_factory=list, description="Users the package is installed for")
    requested_permissions: list[str] = Field(default_factory=list)
    install_permissions: list[str] = Field(default_factory=list, description="Granted install-time (normal, signature and privileged) permissions")
    granted_runtime_permissions: list[str] = Field(default_factory=list, description="Union over users of granted runtime permissions")
    apk_signing_version: int | None = Field(None, description="Signature scheme version dumpsys reports")
    signature_hashes: list[str] = Field(
        default_factory=list,
        description="Hex of java.util.Arrays.hashCode(certificate DER) as PackageSignatures prints it; "
        "compare with toolkit.inventory.packages.java_signature_hash()",
    )
    past_signature_hashes: list[str] = Field(default_factory=list, description="Rotated-away signers (APK Signature Scheme v3 lineage)")
    signing_cert_sha256: list[str] = Field(default_factory=list, description="Certificate SHA-256 digests, when the output prints them")
    factory_code_path: str | None = Field(None, description="For an updated system app: where the factory copy lives")
    factory_version_code: int | None = None
    sources: list[str] = Field(default_factory=list, description="Which outputs described this package")

    @property
    def enabled(self) -> bool:
        """False when disabled for every user it is installed for."""
        states = [u.enabled for u in self.users if u.installed]
        return not states or any(s in (None, 0, 1) for s in states)


class SocketRecord(PhModel):
    """One socket from /proc/net/{tcp,tcp6,udp,udp6}, with the packages that own its UID."""

    protocol: Literal["tcp", "tcp6", "udp", "udp6"]
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    state: str = Field(description="TCP state name (ESTABLISHED, LISTEN ...); for UDP the kernel's code name")
    uid: int
    inode: int
    packages: list[str] = Field(default_factory=list, description="Packages running as this UID (several for shared UIDs)")
    owner: str | None = Field(None, description="Who the UID is: shared user (android.uid.system), ps user name (u0_a87, root)")
    remote_country: str | None = Field(None, description="ISO 3166 country of the remote IP (offline RIR database)")

    @property
    def is_remote(self) -> bool:
        """A connection to another host (not listening, not loopback, not unconnected)."""
        return self.remote_port != 0 and self.remote_address not in ("0.0.0.0", "::") and not (
            self.remote_address.startswith("127.") or self.remote_address == "::1"
        )


class ProcessRecord(PhModel):
    """A running process from `ps`."""

    user: str
    pid: int
    ppid: int | None = None
    name: str
    uid: int | None = Field(None, description="Numeric UID derived from the user name (u0_a123 -> 10123)")


class Setting(PhModel):
    """One entry of `settings list system|secure|global`."""

    namespace: Literal["system", "secure", "global"]
    key: str
    value: str | None = Field(None, description="None when the setting is literally null")


AlarmType = Literal["RTC_WAKEUP", "RTC", "ELAPSED_WAKEUP", "ELAPSED", "UNKNOWN"]


class ScheduledAlarm(PhModel):
    """A pending AlarmManager alarm from `dumpsys alarm`."""

    package: str
    type: AlarmType
    interval_seconds: float | None = Field(None, description="repeatInterval / 1000; None for a one-shot alarm")
    tag: str | None = Field(None, description="e.g. *walarm*:com.vendor.ACTION_REPORT")
    action: str | None = Field(None, description="Intent action, from the tag when it carries one")
    when: str | None = Field(None, description="When it fires next, as printed (RTC time or elapsed offset)")
    orig_when: str | None = None
    wakeup: bool = False
    operation: str | None = Field(None, description="PendingIntent description (broadcastIntent, startService ...)")
    uid: int | None = None


class ScheduledJob(PhModel):
    """A registered JobScheduler job from `dumpsys jobscheduler`."""

    package: str
    uid: int | None = None
    job_id: int
    service: str = Field(description="Component: com.pkg/.Service or com.pkg/com.pkg.Service")
    tag: str | None = None
    periodic: bool = False
    interval_seconds: float | None = None
    flex_seconds: float | None = None
    persisted: bool = False
    requires_network: bool = False
    source_package: str | None = Field(None, description="Source: pkg= when the job runs on behalf of another package")
    source_user: int | None = None


class DeviceInventory(PhModel):
    """Everything collected about a phone besides its APKs."""

    identity: DeviceIdentity = Field(default_factory=DeviceIdentity)
    properties: dict[str, str] = Field(default_factory=dict, description="All getprop / build.prop properties")
    packages: list[PackageRecord] = Field(default_factory=list)
    users: list[UserInfo] = Field(default_factory=list)
    settings: list[Setting] = Field(default_factory=list)
    alarms: list[ScheduledAlarm] = Field(default_factory=list)
    jobs: list[ScheduledJob] = Field(default_factory=list)
    processes: list[ProcessRecord] = Field(default_factory=list)
    sockets: list[SocketRecord] = Field(default_factory=list)
    usage: UsageRecords | None = Field(None, description="What the phone recorded about its apps' behaviour "
                                       "(app ops, traffic, usage, powers); None when not collected")
    parse_problems: list[ParseProblem] = Field(default_factory=list)

    def package(self, name: str) -> PackageRecord | None:
        return next((p for p in self.packages if p.name == name), None)

    def setting(self, namespace: str, key: str) -> Setting | None:
        return next((s for s in self.settings if s.namespace == namespace and s.key == key), None)
