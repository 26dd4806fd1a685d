"""What this machine has, for the core and for optional features (`phonehome doctor`)."""

from __future__ import annotations

import importlib
import platform
import shutil
from dataclasses import dataclass
from importlib import metadata

OPTIONAL_TOOLS = {
    "adb": "Debian adb: adb-server path and interoperability checks",
    "fsck.erofs": "erofs-utils: EROFS firmware partitions",
    "simg2img": "android-sdk-libsparse-utils: cross-checks of sparse images",
    "debugfs": "e2fsprogs: ext4 fallback reader",
    "chromium": "headless checks of the HTML report",
    "tshark": "Debian tshark: `traffic scan --keylog` decrypts TLS to search identifiers inside",
}
CORE_PACKAGES = ("androguard", "adb-shell", "typer", "pydantic", "rich", "PyYAML", "cryptography", "libusb1", "loguru",
                 "dpkt", "ahocorasick-rs")


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str
    required: bool = True


def run_checks() -> list[DoctorCheck]:
    """Versions of the core packages, the installed rule data, and presence of the optional Debian tools."""
    from toolkit.resources import DataMissingError, check_installed_data, rules_dir

    checks = [DoctorCheck(name="python", ok=True, detail=platform.python_version())]
    for package in CORE_PACKAGES:
        try:
            checks.append(DoctorCheck(name=package, ok=True, detail=metadata.version(package)))
        except metadata.PackageNotFoundError:
            checks.append(DoctorCheck(name=package, ok=False, detail="not installed"))
    try:
        check_installed_data()
        rules = len([p for p in (rules_dir() / "rules").glob("*.yml") if not p.name.endswith(".test.yml")])
        checks.append(DoctorCheck(name="rule data", ok=True, detail=f"{rules_dir()} ({rules} rules)"))
    except DataMissingError as exc:
        checks.append(DoctorCheck(name="rule data", ok=False, detail=str(exc)))
    try:
        # An installation check, not analysis: androguard's APK parser must import (analysis reaches it only
        # through toolkit.analysis.androguard_backend). Importing the whole engine here would double the time.
        importlib.import_module("androguard.core.apk")
        checks.append(DoctorCheck(name="androguard import", ok=True, detail="ok"))
    except Exception as exc:  # any import failure means the core is broken
        checks.append(DoctorCheck(name="androguard import", ok=False, detail=f"{type(exc).__name__}: {exc}"))
    for tool, purpose in OPTIONAL_TOOLS.items():
        found = shutil.which(tool)
        checks.append(
            DoctorCheck(name=tool, ok=found is not None, detail=found or f"missing ({purpose})", required=False)
        )
    return checks
