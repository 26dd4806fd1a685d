"""Assertions shared by the firmware tests."""

from __future__ import annotations

from pathlib import Path

from toolkit.acquisition.firmware import unpack
from toolkit.acquisition.firmware.limits import Limits
from toolkit.models.firmware import FirmwareApk, FirmwareInfo


def run(src: Path, out: Path, limits: Limits | None = None) -> FirmwareInfo:
    return unpack(src, out, limits)


def apk_by_device_path(info: FirmwareInfo) -> dict[str | None, FirmwareApk]:
    return {a.device_path: a for a in info.apks}


def issues_text(info: FirmwareInfo) -> str:
    return "\n".join(" > ".join(i.chain) + ": " + i.reason for i in info.issues)
