"""A data flow from a sensitive source to a sink, with the evidence that proves it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolkit.models.common import PhModel

EndpointKind = Literal["url", "host", "ip", "phone_number", "email", "intent_action", "component", "file"]
TriggerKind = Literal[
    "launcher", "activity", "service", "receiver", "boot", "sms_received", "alarm", "job",
    "provider", "application", "callback", "unknown",
]


class CodeLocation(PhModel):
    """A place in Dalvik bytecode. `offset` is in 16-bit code units, as dexdump and smali show it."""

    class_name: str = Field(description="Dotted Java class name, e.g. com.example.Foo$1")
    method: str
    descriptor: str = Field("", description="JVM method descriptor, e.g. (Ljava/lang/String;)V")
    offset: int | None = None

    @property
    def qualified_method(self) -> str:
        return f"{self.class_name}.{self.method}"

    def __str__(self) -> str:
        where = f"@{self.offset:04x}" if self.offset is not None else ""
        return f"{self.class_name}.{self.method}{self.descriptor}{where}"


class FlowPoint(PhModel):
    """One end of a flow: the API call that reads (source) or emits (sink) the value."""

    kind: str = Field(description="Source kind (imei, contacts ...) or sink kind (network, sms ...)")
    api: str = Field(description="Dalvik signature of the API, e.g. Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;")
    location: CodeLocation


class Endpoint(PhModel):
    """A constant destination found in the app (URL, host, IP, SMS number)."""

    kind: EndpointKind
    value: str
    host: str | None = None
    port: int | None = None
    scheme: str | None = None
    hard_coded_ip: bool = False
    country: str | None = Field(None, description="ISO 3166 country of an IP address (offline database)")
    found_in: list[str] = Field(default_factory=list, description="Where it was seen: dex, resources, assets, native")


class Trigger(PhModel):
    """What makes the flow run: an entry point of the app."""

    kind: TriggerKind
    component: str | None = None
    exported: bool | None = None
    period_seconds: int | None = Field(None, description="Repeat interval of an alarm or job")
    actions: list[str] = Field(default_factory=list, description="Intent actions that start it")
    detail: str | None = None


ObservationKind = Literal["appops", "netstats", "socket", "capture_endpoint", "capture_identifier"]


class Observation(PhModel):
    """A record from the phone or a network capture that shows a static flow happening (see docs/observed.md:
    what `observed` means and what it does not prove)."""

    kind: ObservationKind = Field(description="appops: the source op was accessed; netstats: the UID sent at the "
                                  "period the code sets; socket: a live connection to the hard-coded endpoint; "
                                  "capture_endpoint / capture_identifier: a capture shows the connection / the "
                                  "identifier leaving")
    summary: str
    evidence: list[str] = Field(default_factory=list, description="The supporting records, one per line")


class Flow(PhModel):
    """Evidence that a sensitive value reaches a sink."""

    id: str = Field(description="Stable identifier derived from source and sink locations")
    source: FlowPoint
    sink: FlowPoint
    path: list[CodeLocation] = Field(default_factory=list, description="Call path from the source's method to the sink's method")
    transformations: list[str] = Field(default_factory=list, description="e.g. base64, cipher, digest, json, string_builder")
    endpoints: list[Endpoint] = Field(default_factory=list, description="Constant endpoints that reach the sink")
    triggers: list[Trigger] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)
    observed: list[Observation] = Field(default_factory=list, description="Records that show this flow happening "
                                        "on the phone (empty: static evidence only)")
