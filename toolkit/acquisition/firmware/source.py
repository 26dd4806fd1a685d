"""The firmware source: unpack a firmware file and hand its APKs to the analysis as ApkInputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from toolkit.acquisition.firmware.discover import discover
from toolkit.acquisition.firmware.extract import extract_firmware
from toolkit.acquisition.firmware.limits import Limits
from toolkit.models.firmware import FirmwareInfo
from toolkit.models.scan import ApkInput, Provenance


def unpack(path: Path | Sequence[Path], out: Path, limits: Limits | None = None,
           only_needed: bool = False, transient: bool = False) -> FirmwareInfo:
    """Unpack a firmware file, a folder, or several files that are one firmware (Samsung's AP_/BL_/CP_/CSC_
    tar.md5, system.img + vendor.img ...) into out and find its APKs, build properties and stripped code.
    Every input file's SHA-256 is in FirmwareInfo.inputs.

    Never raises for bad content: what could not be read is in FirmwareInfo.issues. only_needed: write only
    what an APK scan reads (see extract.needed_for_scan), not every file of every partition. transient: out is a
    temporary folder, so a stripped app's APK and optimized files are deleted once its rebuilt copy is written
    (their SHA-256 stay in the record).
    """
    info, roots = extract_firmware(path, out, limits, only_needed)
    discover(info, out, roots, transient)
    return info


def firmware_inputs(info: FirmwareInfo, out: Path) -> list[ApkInput]:
    """One ApkInput per APK found, with its provenance chain (and a note when DEX was recovered)."""
    inputs = []
    for apk in [*info.apks, *info.framework]:
        chain = list(apk.chain)
        if (apk.code.startswith("recovered") or apk.unit != "app") and apk.code_note:
            chain.append(apk.code_note)
        inputs.append(
            ApkInput(
                path=str(out / apk.analysis_path),
                provenance=Provenance(origin="firmware", chain=chain, device_path=apk.device_path),
            )
        )
    return inputs
