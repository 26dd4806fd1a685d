"""The firmware source: unpack a firmware file and hand its APKs to the analysis as ApkInputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from toolkit.acquisition.firmware.discover import discover
from toolkit.acquisition.firmware.extract import extract_firmware
from toolkit.acquisition.firmware.limits import Limits
from toolkit.models.common import Status
from toolkit.models.device import DeviceInventory, PackageRecord
from toolkit.models.firmware import FirmwareInfo
from toolkit.models.scan import ApkInput, ApkReport, Provenance


def unpack(path: Path, out: Path, limits: Limits | None = None) -> FirmwareInfo:
    """Unpack a firmware file (or folder) into out and find its APKs, build properties and stripped code.

    Never raises for bad content: what could not be read is in FirmwareInfo.issues.
    """
    info, roots = extract_firmware(path, out, limits)
    discover(info, out, roots)
    return info


def firmware_inputs(info: FirmwareInfo, out: Path) -> list[ApkInput]:
    """One ApkInput per APK found, with its provenance chain (and a note when DEX was recovered)."""
    inputs = []
    for apk in info.apks:
        chain = list(apk.chain)
        if apk.code == "recovered_vdex" and apk.code_note:
            chain.append(apk.code_note)
        inputs.append(
            ApkInput(
                path=str(out / apk.analysis_path),
                provenance=Provenance(origin="firmware", chain=chain, device_path=apk.device_path),
            )
        )
    return inputs


def annotate_reports(reports: Sequence[ApkReport], info: FirmwareInfo, out: Path) -> None:
    """Stripped apps whose code could not be recovered are at best 'partial': say why on the report."""
    by_path = {str(out / a.analysis_path): a for a in info.apks}
    for r in reports:
        apk = by_path.get(r.path)
        if apk is None or apk.code != "not_recoverable":
            continue
        if r.status == Status.analysed:
            r.status = Status.partial
        r.reason = "; ".join(x for x in (r.reason, apk.code_note) if x)


def firmware_inventory(info: FirmwareInfo, reports: Sequence[ApkReport], out: Path) -> DeviceInventory:
    """The inventory a phone running this build would show: identity, properties, preinstalled packages.

    Built from the same models as the phone path so a firmware scan and a phone scan compare field by field.
    """
    by_path = {str(out / a.analysis_path): a for a in info.apks}
    by_rel = {a.path: a for a in info.apks}
    packages: list[PackageRecord] = []
    for r in reports:
        apk = by_path.get(r.path) or by_rel.get(r.path)
        if apk is None or r.metadata is None:
            continue
        m = r.metadata
        device = apk.device_path
        packages.append(
            PackageRecord(
                name=m.package,
                apk_paths=[device] if device else [],
                code_path=str(PurePosixPath(device).parent) if device else None,
                version_code=int(m.version_code) if m.version_code and m.version_code.isdigit() else None,
                version_name=m.version_name,
                min_sdk=m.min_sdk,
                target_sdk=m.target_sdk,
                shared_user=m.shared_user_id,
                is_system=True,
                is_privileged=apk.privileged,
                is_persistent=m.persistent,
                requested_permissions=list(m.permissions),
                signing_cert_sha256=[c.sha256 for c in m.certificates],
                sources=["firmware:" + " > ".join(apk.chain)],
            )
        )
    return DeviceInventory(identity=info.identity or DeviceInventory().identity, properties=dict(info.properties),
                           packages=packages)
