"""What an acquisition did: the models of `acquisition.json`, carried into the scan result for the timeline.

Written by the phone source (toolkit/acquisition/evidence.py), read by reporters; they live here so that the
report layer needs nothing from acquisition.
"""

from __future__ import annotations

import platform
import socket
from datetime import datetime
from typing import Literal

from pydantic import Field

from toolkit import __version__
from toolkit.models.common import PhModel
from toolkit.models.device import DeviceIdentity

SCHEMA_VERSION = "1"


class CommandRecord(PhModel):
    """One shell command run on the phone and where its output was saved."""

    key: str = Field(description="Evidence file stem (raw/<key>.txt)")
    command: str
    exit_code: int | None = Field(None, description="None when the transport gives no exit status (shell v1)")
    output_file: str | None = Field(None, description="Relative path of the saved stdout")
    stderr: str = ""
    bytes: int = 0
    sha256: str | None = None
    started_at: datetime
    finished_at: datetime
    error: str | None = Field(None, description="Why it could not be run (connection lost, refused ...)")
    run: int = Field(1, description="Which acquisition run produced it (resume runs count up)")


PullStatus = Literal["pulled", "failed", "skipped"]


class PulledFile(PhModel):
    """One file to pull from the phone: pulled (size and hash verified) or failed with the reason."""

    device_path: str
    package: str | None = None
    role: Literal["base", "split", "factory", "other"] = "base"
    partition: str | None = Field(None, description="system, vendor, product, data ...")
    status: PullStatus
    local_path: str | None = Field(None, description="Relative path under the evidence folder")
    size: int | None = None
    sha256: str | None = None
    reason: str | None = Field(None, description="Why it could not be read, e.g. 'Permission denied'")
    device_sha256: str | None = Field(None, description="SHA-256 computed on the phone (--device-hash), equal to sha256")
    device_mode: str | None = Field(None, description="File mode on the phone (octal, from sync STAT)")
    device_mtime: datetime | None = Field(None, description="Modification time on the phone (sync STAT)")
    attempts: int = 0
    run: int = 1


class RunRecord(PhModel):
    """One run of `device acquire` into this folder (a resumed acquisition has several)."""

    run: int
    started_at: datetime
    finished_at: datetime | None = None
    transport: str
    serial: str
    host: str
    tool_version: str
    apk_selection: str
    pulled: int = 0
    reused: int = 0
    failed: int = 0
    commands_sent: list[str] = Field(default_factory=list,
                                     description="Every shell command sent to the phone in this run, in order: "
                                     "'<time> exit=<status> <command>' (collectors, retries and session probes)")


class AcquisitionManifest(PhModel):
    """acquisition.json."""

    schema_version: str = SCHEMA_VERSION
    tool: str = "phonehome"
    tool_version: str = __version__
    host: str = Field(default_factory=lambda: socket.gethostname())
    host_os: str = Field(default_factory=lambda: f"{platform.system()} {platform.release()}")
    python: str = Field(default_factory=platform.python_version)
    started_at: datetime
    finished_at: datetime | None = None
    transport: str
    serial: str
    device: DeviceIdentity = Field(default_factory=DeviceIdentity)
    apk_selection: str = "all"
    complete: bool = Field(False, description="Every command ran and every selected APK was pulled or explained")
    commands: list[CommandRecord] = Field(default_factory=list)
    files: list[PulledFile] = Field(default_factory=list)
    runs: list[RunRecord] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    limits_hit: list[str] = Field(default_factory=list, description="Limits that cut the latest run short "
                                  "(e.g. --max-packages): the acquisition is partial for that reason")

    @property
    def unreadable(self) -> list[PulledFile]:
        return [f for f in self.files if f.status == "failed"]

    def command(self, key: str) -> CommandRecord | None:
        return next((c for c in reversed(self.commands) if c.key == key), None)
