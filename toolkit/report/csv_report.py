"""CSV timeline of dated events, for investigators who build timelines (as MVT users do with timeline.csv).

Columns: timestamp (ISO 8601, UTC), event, package, detail, source. Events: scan start and end, package first
install and last update (from the device inventory), acquisition steps (when the result carries them) and the start of
validity of signing certificates (when a signer key was made). Rows are sorted by time, then by event.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from toolkit.models import ScanResult
from toolkit.models.common import PhModel

COLUMNS = ("timestamp", "event", "package", "detail", "source")


class TimelineEvent(PhModel):
    """One dated row of the timeline."""

    timestamp: datetime
    event: str
    package: str = ""
    detail: str = ""
    source: str = Field("", description="Where the date comes from (scan, inventory, acquisition, certificate ...)")


def render_csv(result: ScanResult) -> str:
    """The timeline of `result` as CSV text (header included, CRLF line ends as RFC 4180 says)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for event in timeline_events(result):
        writer.writerow([_iso(event.timestamp), *(_cell(v) for v in (event.event, event.package, event.detail, event.source))])
    return buffer.getvalue()


def _cell(value: str) -> str:
    """Text from the evidence must not become a spreadsheet formula when an investigator opens the file."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def timeline_events(result: ScanResult) -> list[TimelineEvent]:
    """Every dated event the result holds, sorted by time (stable for equal times)."""
    events: list[TimelineEvent] = [
        TimelineEvent(
            timestamp=result.started_at, event="scan_started", detail=_target(result), source="phonehome"
        ),
        TimelineEvent(
            timestamp=result.finished_at,
            event="scan_finished",
            detail=f"{len(result.apks)} APKs, {len(result.all_findings())} findings, {len(result.suppressed)} suppressed",
            source="phonehome",
        ),
    ]
    events.extend(_package_events(result))
    events.extend(_acquisition_events(result))
    for apk in result.apks:
        for cert in apk.metadata.certificates if apk.metadata else []:
            moment = _parse_time(cert.not_before)
            if moment is not None:
                events.append(
                    TimelineEvent(
                        timestamp=moment,
                        event="certificate_valid_from",
                        package=apk.package or "",
                        detail=f"signer {cert.sha256} {cert.subject}",
                        source=f"certificate of {apk.path}",
                    )
                )
    order = {name: i for i, name in enumerate(("scan_started",))}
    return sorted(events, key=lambda e: (_aware(e.timestamp), order.get(e.event, 1), e.event, e.package, e.detail))


def _target(result: ScanResult) -> str:
    target = result.target
    identity = target.identity
    who = " ".join(x for x in (identity.brand, identity.model) if x) if identity else ""
    parts = [target.kind, who, identity.fingerprint if identity and identity.fingerprint else "", ", ".join(target.inputs)]
    return "; ".join(p for p in parts if p)


def _package_events(result: ScanResult) -> Iterable[TimelineEvent]:
    """Install and update times of the inventory's packages (dumpsys package: firstInstallTime, lastUpdateTime).

    dumpsys prints the phone's local wall-clock time without a zone: those timestamps are written without a zone
    too (no trailing Z) and the source column says so; they sort as if they were UTC.
    """
    if result.inventory is None:
        return
    iocs: dict[str, list[str]] = {}
    for match in result.ioc_matches:
        if match.package:
            label = f"IOC {match.campaign or '-'} {match.kind} {match.indicator_value}"
            if label not in iocs.setdefault(match.package, []):
                iocs[match.package].append(label)
    for record in result.inventory.packages:
        bits = [f"version_name={record.version_name}" if record.version_name else "",
                f"version_code={record.version_code}" if record.version_code is not None else "",
                f"installer={record.installer}" if record.installer else "",
                f"code_path={record.code_path}" if record.code_path else ""]
        detail = " ".join(b for b in bits if b)
        if record.name in iocs:  # as MVT's timeline_detected: the rows of a package that matched indicators say so
            detail += "; " + "; ".join(iocs[record.name])
        for event, moment in (
            ("package_first_install", record.first_install_time),
            ("package_last_update", record.last_update_time),
        ):
            if moment is not None:
                source = "inventory (dumpsys package" + (", device local time)" if moment.tzinfo is None else ")")
                yield TimelineEvent(timestamp=moment, event=event, package=record.name, detail=detail, source=source)
        for user in record.users:
            if user.first_install_time is not None and user.user_id != 0:
                yield TimelineEvent(
                    timestamp=user.first_install_time, event="package_first_install_user", package=record.name,
                    detail=f"user {user.user_id}", source="inventory (dumpsys package, device local time)",
                )


def _acquisition_events(result: ScanResult) -> Iterable[TimelineEvent]:
    """Acquisition steps of a phone scan: every command run and every APK pulled (or refused), with its time."""
    manifest = result.acquisition
    if manifest is None:
        return
    for run in manifest.runs:
        yield TimelineEvent(timestamp=_aware(run.started_at), event="acquisition_started", source="acquisition",
                            detail=f"run {run.run} via {run.transport} from {run.host} ({run.tool_version})")
    for command in manifest.commands:
        outcome = command.error or (f"exit {command.exit_code}" if command.exit_code is not None else "")
        if command.sha256:
            outcome += f" sha256 {command.sha256}"
        yield TimelineEvent(timestamp=_aware(command.started_at), event="acquisition_command", source="acquisition",
                            detail=f"{command.command} -> {outcome.strip()}")
    run_started = {run.run: run.started_at for run in manifest.runs}
    for pulled in manifest.files:
        if pulled.device_mtime is not None:
            yield TimelineEvent(timestamp=_aware(pulled.device_mtime), event="apk_file_modified", package=pulled.package or "",
                                source="acquisition", detail=f"{pulled.device_path} (mtime on the phone)")
        if pulled.status == "failed" and pulled.run in run_started:
            # A refused APK is part of the story (what could not be examined): placed at the start of the run that
            # tried it, as the manifest records no time per pull.
            yield TimelineEvent(timestamp=_aware(run_started[pulled.run]), event="apk_not_pulled",
                                package=pulled.package or "", source="acquisition",
                                detail=f"{pulled.device_path}: {pulled.reason or 'no reason recorded'} "
                                       f"(run {pulled.run}; time of the run, not of the attempt)")
    if manifest.finished_at is not None:
        yield TimelineEvent(timestamp=_aware(manifest.finished_at), event="acquisition_finished", source="acquisition",
                            detail="complete" if manifest.complete else "incomplete")


def _parse_time(value: Any) -> datetime | None:
    """Datetimes, ISO 8601 text ('2026-11-21 13:16:01+00:00'), or epoch seconds/milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    try:
        return _aware(datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")))
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        return moment.isoformat()  # local time of the phone, zone unknown: do not pretend it is UTC
    return _aware(moment).isoformat().replace("+00:00", "Z")
