"""What was found inside a firmware file. Extended by the firmware source."""

from __future__ import annotations

from pydantic import Field

from toolkit.models.common import PhModel


class FirmwareInfo(PhModel):
    """Summary of a firmware file's unpacking."""

    file: str
    sha256: str
    partitions: list[str] = Field(default_factory=list)
