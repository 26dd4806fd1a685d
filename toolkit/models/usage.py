"""What the phone recorded about what its apps did: app-op accesses, per-UID traffic, usage, services, and the
configuration that gives an app power (accessibility, notification listener, device admin, default SMS/dialer,
always-on VPN). Produced by the usage parsers in toolkit/inventory/ from raw `dumpsys` / `settings` / `cmd role` /
`logcat` output; every source (a live phone, an evidence folder, the simulator) gives the same models.

Times: dumpsys prints most of them in the phone's local wall-clock time without a zone; netstats bucket starts are
epoch seconds (UTC). Raw strings are kept beside parsed values where a reader may want to check them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from toolkit.models.common import PhModel
from toolkit.models.device import ParseProblem


class AppOpRecord(PhModel):
    """One op of one package (or UID) from `dumpsys appops`."""

    package: str | None = Field(None, description="None for a UID-wide mode line (`Uid 10087:` section)")
    uid: int | None = None
    op: str = Field(description="Op name as dumpsys prints it, e.g. READ_SMS, FINE_LOCATION")
    mode: str | None = Field(None, description="allow / ignore / deny / default / foreground")
    last_access: datetime | None = Field(None, description="Absolute time of the last access (from the dump's "
                                         "own 'now' minus the relative time printed)")
    last_access_ago_seconds: float | None = Field(None, description="How long before the dump the last access was")
    last_access_raw: str | None = None
    last_reject: datetime | None = None
    last_reject_ago_seconds: float | None = None
    access_count: int | None = Field(None, description="Accesses counted by the version (not every version has it)")
    reject_count: int | None = None
    duration_ms: int | None = Field(None, description="duration=, for running ops such as location")


class NetstatsBucket(PhModel):
    """One time bucket of one UID's traffic history."""

    start: int = Field(description="Bucket start, epoch seconds (UTC)")
    rx_bytes: int = 0
    rx_packets: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    operations: int = 0


class NetstatsHistory(PhModel):
    """The history of one (network identity, UID, set, tag) key from `dumpsys netstats` (UID stats section)."""

    uid: int
    packages: list[str] = Field(default_factory=list, description="Packages running as this UID (from the UID table)")
    set: str = Field("DEFAULT", description="DEFAULT (background) / FOREGROUND / ALL, as printed")
    tag: str = "0x0"
    network_type: str | None = Field(None, description="MOBILE / WIFI ... from ident=")
    metered: bool | None = None
    ident_raw: str = ""
    bucket_seconds: int = Field(description="bucketDuration of this history, seconds")
    buckets: list[NetstatsBucket] = Field(default_factory=list)

    @property
    def foreground(self) -> bool:
        return self.set.upper() in ("FOREGROUND", "FG", "1")


class PackageUsage(PhModel):
    """`dumpsys usagestats`: when a package was last used, and its recent events."""

    package: str
    last_time_used: datetime | None = None
    last_time_used_raw: str | None = None
    total_time_foreground_ms: int | None = None
    events: int = Field(0, description="Events recorded for the package in the dump")
    foreground_events: list[datetime] = Field(default_factory=list, description="MOVE_TO_FOREGROUND / "
                                              "ACTIVITY_RESUMED times (at most 200 kept)")


class BatteryUidStats(PhModel):
    """Per-UID lines of `dumpsys batterystats --checkin` (the machine-readable format)."""

    uid: int
    packages: list[str] = Field(default_factory=list)
    wakelocks: int = Field(0, description="Partial wakelock count summed over the UID's wakelocks")
    wakelock_names: list[str] = Field(default_factory=list)
    alarms: int = Field(0, description="Wake-up alarms fired for the UID's packages")
    mobile_rx_bytes: int = 0
    mobile_tx_bytes: int = 0
    wifi_rx_bytes: int = 0
    wifi_tx_bytes: int = 0


class RunningService(PhModel):
    """A service record from `dumpsys activity services`."""

    package: str
    component: str
    user: int | None = None
    foreground: bool = False
    start_requested: bool | None = None
    created: str | None = Field(None, description="createTime as printed (relative)")
    last_activity: str | None = None
    process: str | None = None
    start_reason: str | None = Field(None, description="What started it: startRequested / bound clients / "
                                     "foreground, as far as the dump says")


PowerKind = Literal["accessibility", "notification_listener", "device_admin", "device_owner", "profile_owner",
                    "default_sms", "default_dialer", "always_on_vpn"]


class GrantedPower(PhModel):
    """A configuration that gives an app power over the phone or the user's data."""

    kind: PowerKind
    package: str
    component: str | None = None
    source: str = Field(description="Which output says so (evidence file stem and the key or section)")
    detail: str | None = None


class LogcatInfo(PhModel):
    """What the collected logcat holds (the raw log stays in the evidence folder)."""

    lines: int = 0
    bytes: int = 0
    truncated: bool = Field(False, description="The collector's bound was reached: older lines are missing")
    bound: str | None = Field(None, description="The bound that applied, e.g. 'last 20000 lines'")
    first_time: str | None = None
    last_time: str | None = None
    buffers: list[str] = Field(default_factory=list, description="Buffers seen (--------- beginning of main)")


IdentifierKind = Literal["imei", "imsi", "iccid", "phone_number", "android_id", "serial", "wifi_mac"]


class DeviceIdentifier(PhModel):
    """An identifier of the handset or its owner, taken from the evidence (searched for in network captures)."""

    kind: IdentifierKind
    value: str
    source: str = Field(description="Where it was read: getprop key, settings key, dumpsys iphonesubinfo, "
                        "/sys/class/net/wlan0/address, or 'examiner' when given on the command line")


class UsageRecords(PhModel):
    """Everything the phone recorded about app behaviour, parsed; empty parts were not collected or not readable."""

    dumped_at: datetime | None = Field(None, description="The phone's local time when appops was dumped ('now')")
    appops: list[AppOpRecord] = Field(default_factory=list)
    netstats: list[NetstatsHistory] = Field(default_factory=list)
    usage: list[PackageUsage] = Field(default_factory=list)
    battery: list[BatteryUidStats] = Field(default_factory=list)
    services: list[RunningService] = Field(default_factory=list)
    powers: list[GrantedPower] = Field(default_factory=list)
    logcat: LogcatInfo | None = None
    identifiers: list[DeviceIdentifier] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Outputs that were present and parsed")
    parse_problems: list[ParseProblem] = Field(default_factory=list)

    def ops_of(self, package: str) -> list[AppOpRecord]:
        return [o for o in self.appops if o.package == package]


def _resolve() -> None:
    from toolkit.models.device import DeviceInventory

    DeviceInventory.model_rebuild(_types_namespace={"UsageRecords": UsageRecords})


_resolve()
