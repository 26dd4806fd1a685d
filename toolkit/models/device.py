"""What a phone (or a firmware build) says about itself, and its inventory.

Owned by the inventory parsers (toolkit/inventory/); the phone and firmware sources both produce these.
"""

from __future__ import annotations

from pydantic import Field

from toolkit.models.common import PhModel


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


class DeviceInventory(PhModel):
    """Everything collected about a phone besides its APKs. Extended by the inventory parsers."""

    identity: DeviceIdentity = Field(default_factory=DeviceIdentity)
