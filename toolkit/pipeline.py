"""Orchestration shared by every way in: APK inputs -> per-APK reports -> one ScanResult.

Sources (files, phone, firmware, store) build `ApkInput`s; this module runs the analysis on them and assembles the
result. Reporters then render the result. Progress goes to an optional callback; this module never prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime

from pydantic import Field

from toolkit import __version__
from toolkit.analysis import ENGINE_VERSION, AnalysisOptions, analyse_apk
from toolkit.models import (
    ApkInput,
    ApkReport,
    DeviceInventory,
    FirmwareInfo,
    InputError,
    RuleInfo,
    ScanResult,
    Target,
    ToolInfo,
)
from toolkit.models.common import PhModel


class ScanOptions(PhModel):
    """Options of a whole scan (many APKs)."""

    analysis: AnalysisOptions = Field(default_factory=AnalysisOptions)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)


class ProgressEvent(PhModel):
    """One step of progress: `done` of `total` items of `stage` finished; `item` is the one just finished."""

    stage: str
    done: int
    total: int | None = None
    item: str | None = None


ProgressCallback = Callable[[ProgressEvent], None]


def _analyse_one(item: ApkInput, options: AnalysisOptions) -> ApkReport:
    return analyse_apk(item.path, options, item.provenance)


def analyse_inputs(
    inputs: Sequence[ApkInput], options: ScanOptions | None = None, progress: ProgressCallback | None = None
) -> list[ApkReport]:
    """Analyse every input, in parallel processes when workers > 1; results come back in input order."""
    options = options or ScanOptions()
    total = len(inputs)
    results: list[ApkReport | None] = [None] * total
    if options.workers <= 1 or total <= 1:
        for index, item in enumerate(inputs):
            results[index] = _analyse_one(item, options.analysis)
            if progress:
                progress(ProgressEvent(stage="analyse", done=index + 1, total=total, item=item.path))
    else:
        with ProcessPoolExecutor(max_workers=min(options.workers, total)) as pool:
            futures = {pool.submit(_analyse_one, item, options.analysis): i for i, item in enumerate(inputs)}
            for done, future in enumerate(as_completed(futures), start=1):
                index = futures[future]
                results[index] = future.result()
                if progress:
                    progress(ProgressEvent(stage="analyse", done=done, total=total, item=inputs[index].path))
    return [r for r in results if r is not None]


def tool_info() -> ToolInfo:
    """Versions that make a result reproducible."""
    return ToolInfo(version=__version__, engine_version=ENGINE_VERSION, rules_version=_rules_version())


def _rules_version() -> str:
    try:
        from toolkit.analysis import rules_version  # type: ignore[attr-defined]
    except ImportError:
        return ""
    return str(rules_version())


def build_result(
    target: Target,
    reports: Sequence[ApkReport],
    input_errors: Sequence[InputError] = (),
    started_at: datetime | None = None,
    inventory: DeviceInventory | None = None,
    firmware: FirmwareInfo | None = None,
    rules: Sequence[RuleInfo] = (),
) -> ScanResult:
    """Assemble the ScanResult of a run."""
    now = datetime.now(UTC)
    return ScanResult(
        tool=tool_info(),
        started_at=started_at or now,
        finished_at=now,
        target=target,
        apks=list(reports),
        input_errors=list(input_errors),
        rules=list(rules),
        inventory=inventory,
        firmware=firmware,
    )
