"""APK analysis: manifest and signing facts, and (engine) source-to-sink data flows.

Public API: `analyse_apk(path, options, provenance) -> ApkReport`. Never raises for bad input: a file that
cannot be analysed comes back with status `not_analysed` and the reason.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from toolkit.analysis.androguard_backend import ApkParseError, open_apk
from toolkit.analysis.container import check_container
from toolkit.analysis.endpoints import endpoints_for_report
from toolkit.analysis.options import AnalysisOptions
from toolkit.models import AnalysisStats, ApkReport, Provenance, Status

log = logging.getLogger(__name__)

ENGINE_VERSION = "0.1.0"

__all__ = ["ENGINE_VERSION", "AnalysisOptions", "analyse_apk", "sha256_file"]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def analyse_apk(
    path: str | Path, options: AnalysisOptions | None = None, provenance: Provenance | None = None
) -> ApkReport:
    """Analyse one APK file and return its report (never raises for bad input)."""
    options = options or AnalysisOptions()
    apk_path = Path(path)
    started = time.monotonic()
    report = ApkReport(path=str(path), status=Status.not_analysed, provenance=provenance or Provenance())
    try:
        report.size = apk_path.stat().st_size
        report.sha256 = sha256_file(apk_path)
    except OSError as exc:
        report.reason = f"cannot read file: {exc.strerror or exc}"
        return report
    container = check_container(apk_path)
    if container.fatal:
        report.reason = container.fatal
        return report
    try:
        loaded = open_apk(apk_path)
        metadata = loaded.metadata()
    except ApkParseError as exc:
        report.reason = str(exc)
        return report
    report.metadata = metadata
    report.package = metadata.package
    report.stats = AnalysisStats(dex_files=len(metadata.dex_files))
    report.endpoints = endpoints_for_report(loaded, str(path))  # URLs/hosts/IPs in DEX, resources, assets, native
    if container.problems:
        log.info("%s: container problems: %s", path, "; ".join(container.problems))
    if not metadata.dex_files:
        # Odexed system apps keep their code in oat/ next to the APK; manifest and signers are still evidence.
        report.status = Status.partial
        report.reason = "no classes.dex in the APK (odexed or resource-only): manifest and certificates analysed only"
    else:
        report.status = Status.analysed
    report.stats.seconds = round(time.monotonic() - started, 3)
    return report
