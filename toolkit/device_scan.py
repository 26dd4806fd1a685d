"""Offline analysis of an evidence folder: evidence -> inventory -> APK analysis -> device findings -> ScanResult.

Used by `device scan`, `evidence scan` and `demo`; the folder alone is enough (no phone needed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from toolkit.acquisition.device import evidence_inputs
from toolkit.correlate import add_device_findings
from toolkit.models import ApkInput, ApkReport, InputError, ScanResult, Target
from toolkit.models.common import PhModel
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
    if analyse is None:
        scan_options = options or ScanOptions()

        def analyse(inputs: Sequence[ApkInput]) -> list[ApkReport]:
            return analyse_inputs(inputs, scan_options)

    reports = analyse(loaded.inputs) if loaded.inputs else []
    errors = list(loaded.errors) + [InputError(path=str(folder), reason=f"evidence integrity: {p}")
                                    for p in loaded.integrity_problems]
    target = Target(kind=kind, inputs=[str(folder)], identity=loaded.inventory.identity)
    result = build_result(target, reports, errors, started, inventory=loaded.inventory)
    add_device_findings(result)
    return EvidenceScan(result=result, integrity_problems=loaded.integrity_problems)
