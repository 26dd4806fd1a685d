"""APK analysis: manifest and signing facts, and (engine) source-to-sink data flows.

Public API: `analyse_apk(path, options, provenance) -> ApkReport`. Never raises for bad input: a file that
cannot be analysed comes back with status `not_analysed` and the reason.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from toolkit.analysis.androguard_backend import ApkParseError, LoadedApk, open_apk
from toolkit.analysis.catalogue import CatalogueError, load_catalogue
from toolkit.analysis.container import ContainerCheck, check_container, duplicate_findings
from toolkit.analysis.dataflow import find_leaks
from toolkit.analysis.dex import DexError, DexFile
from toolkit.analysis.endpoints import endpoints_for_report
from toolkit.analysis.options import AnalysisOptions
from toolkit.analysis.rules import evaluate, rule_infos, rules_version
from toolkit.models import AnalysisStats, ApkMetadata, ApkReport, Provenance, Status

log = logging.getLogger(__name__)

ENGINE_VERSION = "1.1.0"

__all__ = ["ENGINE_VERSION", "AnalysisOptions", "analyse_apk", "rule_infos", "rules_version", "sha256_file"]


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
        _container_results(report, container, loaded)
        report.stats.seconds = round(time.monotonic() - started, 3)
        return report
    _analyse_code(report, loaded, options, started)
    for order in loaded.other_dex_orders():  # duplicate classes*.dex: every copy's code is analysed (issue 12)
        _merge_flows(report, loaded.with_dex_order(order), options, started)
    for alt in loaded.other_manifests():  # duplicate AndroidManifest.xml: each copy's entry points (issue 12)
        _merge_flows(report, loaded, options, started, alt)
    _container_results(report, container, loaded)
    report.stats.seconds = round(time.monotonic() - started, 3)
    return report


def _merge_flows(report: ApkReport, loaded: object, options: AnalysisOptions, started: float,
                 metadata: ApkMetadata | None = None) -> None:
    """Analyse the code again (in another DEX order, or with another manifest copy) and add the flows not found
    yet."""
    other = report.model_copy(update={"flows": [], "findings": [], "status": Status.not_analysed, "reason": None,
                                      "stats": report.stats.model_copy(deep=True),
                                      "metadata": metadata or report.metadata})
    _analyse_code(other, loaded, options, started)
    known = {f.id for f in report.flows}
    new = [f for f in other.flows if f.id not in known]
    report.flows.extend(new)
    report.stats.limits.extend(lim for lim in other.stats.limits if lim not in report.stats.limits)
    if other.status is not Status.analysed and other.reason and other.reason not in (report.reason or ""):
        report.status = Status.partial
        report.reason = "; ".join([*([report.reason] if report.reason else []), other.reason])
    if new:
        report.findings = evaluate(report)


def _container_results(report: ApkReport, container: ContainerCheck, loaded: LoadedApk) -> None:
    """Duplicate-entry findings, and what the container/manifest readers could not read or cut at a cap."""
    report.findings.extend(duplicate_findings(container, report.package, report.sha256))
    report.stats.limits.extend(loaded.limits())
    cut = [c for c in [*container.limits, *loaded.incomplete()] if c not in (report.reason or "")]
    if cut:
        report.status = Status.partial if report.status is Status.analysed else report.status
        report.reason = "; ".join([*([report.reason] if report.reason else []), *cut])


def _analyse_code(report: ApkReport, loaded: object, options: AnalysisOptions, started: float) -> None:
    """Data-flow part of analyse_apk: fills flows/endpoints/status of `report`."""
    assert report.metadata is not None
    problems: list[str] = []
    dexes: list[DexFile] = []
    for name in loaded.dex_names():  # type: ignore[attr-defined]
        try:
            dexes.append(DexFile(loaded.dex_bytes(name), name))  # type: ignore[attr-defined]
        except (DexError, ApkParseError) as exc:
            problems.append(f"{name}: {exc}")
        except Exception as exc:  # a hostile DEX must not stop the batch
            problems.append(f"{name}: unreadable DEX ({type(exc).__name__}: {exc})")
    if not dexes:
        report.status = Status.partial
        report.reason = "no readable DEX: " + "; ".join(problems)
        return
    try:
        catalogue = load_catalogue()
    except CatalogueError as exc:
        report.status = Status.not_analysed
        report.reason = f"rule catalogue unusable: {exc}"
        return
    deadline = time.monotonic() + options.time_budget_seconds  # the budget is for data-flow work
    try:
        leaks = find_leaks(dexes, report.metadata, catalogue, deadline, loaded.resource_strings(),  # type: ignore[attr-defined]
                           loaded.layout_blob())  # type: ignore[attr-defined]
    except Exception as exc:  # never let one APK's odd bytecode crash a batch; say what happened, in one line
        log.warning("%s: leak analysis failed: %s: %s", report.path, type(exc).__name__, exc)
        report.status = Status.partial
        report.reason = f"data-flow analysis failed: {type(exc).__name__}: {exc}"
        return
    report.flows = leaks.flows
    try:
        report.findings = evaluate(report)
    except CatalogueError as exc:
        problems.append(f"rules unusable: {exc}")
    report.stats.methods_total = leaks.methods_total
    report.stats.methods_analysed = leaks.methods_analysed
    report.stats.limits = leaks.limits
    problems.extend(leaks.problems[:20])
    if leaks.partial_reason:
        # a limit cut the analysis: the flows found are real, but the app is not fully analysed
        report.stats.budget_exhausted = any(lim.name == "time_budget" for lim in leaks.limits)
        report.status = Status.partial
        report.reason = leaks.partial_reason
    elif problems and len(dexes) < len(report.metadata.dex_files):
        report.status = Status.partial
        report.reason = "some DEX files unreadable: " + "; ".join(problems)
    elif leaks.problems:
        # methods whose code could not be decoded were not analysed: the app is not fully checked
        report.status = Status.partial
        report.reason = (f"{len(leaks.problems)} method(s) with malformed code not analysed: "
                         + "; ".join(leaks.problems[:3]) + (" ..." if len(leaks.problems) > 3 else ""))
    else:
        report.status = Status.analysed
        if problems:
            log.info("%s: %s", report.path, "; ".join(problems))
