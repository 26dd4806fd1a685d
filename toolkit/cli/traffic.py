"""`phonehome traffic scan CAPTURE [--evidence DIR]`: what a network capture of the phone shows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, consoles, say

if TYPE_CHECKING:
    from toolkit.models import ScanResult
    from toolkit.models.usage import DeviceIdentifier

app = typer.Typer(help="Read network captures (pcap/pcapng) of the phone and tie them to its apps.",
                  no_args_is_help=True)
_KINDS = ("imei", "imsi", "iccid", "phone_number", "android_id", "serial", "wifi_mac")


def _identifier(text: str) -> DeviceIdentifier:
    from toolkit.models.usage import DeviceIdentifier

    kind, _, value = text.partition("=")
    if kind not in _KINDS or not value:
        raise typer.BadParameter(f"{text!r}: expected KIND=VALUE with KIND one of {', '.join(_KINDS)}")
    return DeviceIdentifier.model_validate({"kind": kind, "value": value, "source": "examiner"})


@app.command("scan")
def scan(
    capture: Path = typer.Argument(..., help="pcap or pcapng file"),
    evidence: Path | None = typer.Option(None, "--evidence", help="Evidence folder of the phone (identifiers, "
                                         "netstats; its apps are analysed for their hard-coded endpoints)"),
    report: Path | None = typer.Option(None, "--report", help="A saved phonehome JSON report of that evidence "
                                       "(skips the APK analysis)"),
    identifier: list[str] = typer.Option([], "--identifier", help="Extra identifier to search, KIND=VALUE"),
    show_identifiers: bool = typer.Option(False, "--show-identifiers", help="Print identifiers unmasked"),
    output: Path | None = typer.Option(None, "--output", help="Folder for traffic-report.json (and, with "
                                       "evidence, phonehome-report.json with the observed marks)"),
    max_seconds: float = typer.Option(600.0, "--max-seconds", help="Stop reading the capture after this long"),
    keylog: Path | None = typer.Option(None, "--keylog", help="TLS key log (NSS format, as SSLKEYLOGFILE writes): "
                                       "decrypt TLS with tshark and search identifiers inside"),
) -> None:
    """Find where the phone's data went: destinations, apps, identifiers leaving, beacons, encrypted payloads."""
    # the library is imported here, not at start-up: `phonehome --help` must not pay for it
    from toolkit.acquisition.evidence import EvidenceError
    from toolkit.report.traffic import traffic_lines
    from toolkit.traffic import CaptureError, traffic_scan
    from toolkit.usecases import load_report

    console, err = consoles()
    extra = [_identifier(i) for i in identifier]
    result: ScanResult | None = None
    try:
        if report is not None:
            result = load_report(report)
        elif evidence is not None:
            from toolkit.scans import scan_evidence_folder

            result = scan_evidence_folder(evidence).result
        outcome = traffic_scan(capture, result, extra, show_identifiers, max_seconds, keylog)
    except (CaptureError, EvidenceError, OSError, ValueError) as exc:
        say(err, f"error: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    for line in traffic_lines(outcome.report, show_identifiers):
        say(console, line)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "traffic-report.json").write_text(outcome.report.model_dump_json(indent=2) + "\n")
        say(console, f"wrote {output / 'traffic-report.json'}")
        if outcome.scan is not None:
            (output / "phonehome-report.json").write_text(outcome.scan.model_dump_json(indent=2) + "\n")
            say(console, f"wrote {output / 'phonehome-report.json'} (static flows with their observed marks)")
    if outcome.report.capture.decoded == 0:
        raise typer.Exit(EXIT_ERROR)  # nothing could be checked
    raise typer.Exit(EXIT_FINDINGS if outcome.report.findings else EXIT_CLEAN)
