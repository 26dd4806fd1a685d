"""Scans of what a source collected, assembled into a ScanResult (the CLI only parses options and renders):

- an evidence folder from a phone: evidence -> inventory -> APK analysis -> device findings (`device scan`,
  `evidence scan`, `demo`; the folder alone is enough, no phone needed);
- an unpacked firmware: preinstalled APKs -> analysis -> the inventory a phone with this build would show
  (`firmware scan`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import Field

from toolkit.acquisition.device import evidence_inputs
from toolkit.acquisition.firmware import firmware_inputs
from toolkit.correlate import add_device_findings
from toolkit.models import ApkInput, ApkReport, InputError, ScanResult, Target
from toolkit.models.common import PhModel, Status
from toolkit.models.device import DeviceInventory, PackageRecord
from toolkit.models.firmware import FirmwareInfo
from toolkit.pipeline import ScanOptions, analyse_inputs, build_result

Analyse = Callable[[Sequence[ApkInput]], list[ApkReport]]


class EvidenceScan(PhModel):
    """The result of scanning an evidence folder, and what did not match its hash list."""

    result: ScanResult
    integrity_problems: list[str] = Field(default_factory=list, description="[] when the folder is intact")

    @property
    def intact(self) -> bool:
        return not self.integrity_problems


def scan_evidence_folder(folder: Path, kind: Literal["device", "evidence"] = "evidence",
                         options: ScanOptions | None = None, analyse: Analyse | None = None) -> EvidenceScan:
    """Analyse an evidence folder. `analyse` runs the APK analysis (default: `analyse_inputs` with `options`; the
    CLI passes one that shows progress). Raises EvidenceError when the folder has no usable acquisition.json.

    Integrity problems (a file that differs from sha256sums.txt ...) do not stop the scan: they are returned and
    also recorded in the result's input errors, so the report itself says the evidence was not intact.
    """
    started = datetime.now(UTC)
    loaded = evidence_inputs(folder)
    analyse = analyse or _default_analyse(options)
    reports = analyse(loaded.inputs) if loaded.inputs else []
    errors = list(loaded.errors) + [InputError(path=str(folder), reason=f"evidence integrity: {p}")
                                    for p in loaded.integrity_problems]
    errors += package_mismatches(reports, loaded.inventory)
    if not loaded.inputs and loaded.manifest.apk_selection != "none":
        # Every pull dropped, stalled or refused: nothing checked must never read as "nothing found" (exit 0).
        failed = len(loaded.manifest.unreadable)
        errors.append(InputError(path=str(folder), reason=f"no APK could be analysed ({failed} could not be pulled, "
                                 "0 pulled): nothing was checked"))
    target = Target(kind=kind, inputs=[str(folder)], identity=loaded.inventory.identity)
    result = build_result(target, reports, errors, started, inventory=loaded.inventory)
    result.acquisition = loaded.manifest  # its commands and pulls go into the CSV timeline
    add_device_findings(result)
    return EvidenceScan(result=result, integrity_problems=loaded.integrity_problems)


def package_mismatches(reports: Sequence[ApkReport], inventory: DeviceInventory) -> list[InputError]:
    """A pulled APK whose manifest names another package than the one the phone listed at that path: the phone's
    package list and the bytes it handed over disagree (a lying phone, or an APK swapped during acquisition)."""
    listed: dict[str, str] = {}
    for record in inventory.packages:
        for apk_path in record.apk_paths:
            listed.setdefault(apk_path, record.name)
    out: list[InputError] = []
    for report in reports:
        device_path = report.provenance.device_path
        expected = listed.get(device_path) if device_path else None
        if expected and report.package and report.package != expected:
            out.append(InputError(path=device_path or report.path, level="warning", reason=(
                f"package mismatch: the phone's package list has {expected!r} at this path, but the pulled APK's "
                f"manifest names {report.package!r}")))
    return out


def _default_analyse(options: ScanOptions | None) -> Analyse:
    scan_options = options or ScanOptions()

    def analyse(inputs: Sequence[ApkInput]) -> list[ApkReport]:
        return analyse_inputs(inputs, scan_options)

    return analyse


def scan_unpacked_firmware(info: FirmwareInfo, workdir: Path, options: ScanOptions | None = None,
                           analyse: Analyse | None = None, keep_files: bool = True,
                           started: datetime | None = None) -> ScanResult:
    """Analyse the APKs of a firmware that `toolkit.acquisition.firmware.unpack` put in `workdir`.

    keep_files=False: `workdir` is temporary, so report paths are given relative to the firmware (the chain) and
    `firmware.output_dir` is cleared. A damaged member among good ones is a warning; the firmware file itself
    unusable (an issue whose chain is the file alone) is an error.
    """
    started = started or datetime.now(UTC)
    analyse = analyse or _default_analyse(options)
    inputs = firmware_inputs(info, workdir)
    reports = analyse(inputs) if inputs else []
    annotate_firmware_reports(reports, info, workdir)
    inventory = firmware_inventory(info, reports, workdir)
    if not keep_files:
        by_path = {str(workdir / a.analysis_path): a.path for a in [*info.apks, *info.framework]}
        for r in reports:
            r.path = by_path.get(r.path, r.path)
        info.output_dir = None
    errors = [InputError(path=" > ".join(i.chain), reason=i.reason, level="error" if len(i.chain) == 1 else "warning")
              for i in info.issues]
    given = [i.path for i in info.inputs] if info.kind == "files" else [info.file]  # several files: each one
    target = Target(kind="firmware", inputs=given, identity=info.identity)
    return build_result(target, reports, errors, started, inventory=inventory, firmware=info)


FRAMEWORK_PARTIAL = ("framework code has no declared entry points: the data-flow engine enters code through an "
                     "app's declared components (and static initialisers), so flows inside framework jars are mostly "
                     "not followed yet; endpoints and API use are reported")


def annotate_firmware_reports(reports: Sequence[ApkReport], info: FirmwareInfo, out: Path) -> None:
    """Stripped apps whose code could not be recovered, or only approximately, are at best 'partial': say why."""
    by_path = {str(out / a.analysis_path): a for a in [*info.apks, *info.framework]}
    for r in reports:
        apk = by_path.get(r.path)
        if apk is None or (apk.code != "not_recoverable" and not apk.code_approximated and apk.unit == "app"):
            continue
        if r.status == Status.analysed:
            r.status = Status.partial
        why = [apk.code_note if apk.code == "not_recoverable" else apk.code_approximated]
        if apk.unit == "framework_jar":  # the engine starts flows at an app's declared components; a jar has none
            why.append(FRAMEWORK_PARTIAL)
        r.reason = "; ".join(x for x in (r.reason, *why) if x)


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
