"""Firmware images offline: from a vendor's firmware file to every preinstalled APK and build property.

Public entry points:
- extract_firmware(path, out, limits) -> (FirmwareInfo, roots): unpack by magic numbers, to any depth.
- unpack(path, out, limits) -> FirmwareInfo: extract + discover APKs, build.prop, stripped code.
- firmware_inputs(info, out) -> list[ApkInput]: the APKs to analyse, with provenance chains.
"""

from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.limits import Limits
from toolkit.acquisition.firmware.source import firmware_inputs, unpack

__all__ = ["FirmwareError", "Limits", "firmware_inputs", "unpack"]
