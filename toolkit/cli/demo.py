"""`phonehome demo`: the whole phone scan, through the real ADB protocol, against a built-in simulated handset.

The handset reproduces the case phonehome exists for: a budget phone whose preinstalled system "cloud
messaging" app reports IMEI, number and operator at boot, then contacts' numbers and SMS senders, and (after
the vendor's "fix") an encrypted payload every 30 minutes to a hard-coded cloud IP; a preloaded app market; a
tampered copy of a popular app; a messaging opt-in setting; a live socket to the vendor host; an alarm that
repeats every 1800 s.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from toolkit.acquisition import adb
from toolkit.acquisition.device import AcquireOptions
from toolkit.cli.device import device_facts, run_acquisition, scan_evidence
from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, ReportArgs, finish_scan
from toolkit.inventory import printable
from toolkit.models import DeviceInventory, ScanResult, Status
from toolkit.pipeline import ScanOptions
from toolkit.simulator import DeviceSimulator, ProfileError
from toolkit.traffic import traffic_scan
from toolkit.traffic.writer import demo_capture


def _say(console: Console, text: str, style: str | None = None) -> None:
    console.print(printable(text), markup=False, highlight=False, soft_wrap=True, style=style)


def _confirm_with_capture(sim: DeviceSimulator, scan: ScanResult, out: Path, console: Console) -> None:
    """Write the demo capture (from the simulated phone's scenario), scan it, and say which static flows the
    phone's records and the capture confirm (`observed`)."""
    capture = demo_capture(sim.profile, out / "capture.pcapng")
    _say(console, f"step 3/3: reading the network capture {capture} (DNS, TLS SNI, an HTTP POST, 30-minute reports)")
    report = traffic_scan(capture, scan).report
    (out / "traffic-report.json").write_text(report.model_dump_json(indent=2) + "\n")
    confirmed = [(a.package, f) for a in scan.apks for f in a.flows if f.observed]
    _say(console, f"static flows confirmed by the phone's records or the capture: {len(confirmed)}", style="bold")
    for package, flow in confirmed:
        kinds = ", ".join(sorted({o.kind for o in flow.observed}))
        _say(console, f"  - {package}: {flow.source.kind} -> {flow.sink.kind} observed ({kinds})")


def demo(
    out: Path = typer.Option(Path("phonehome-demo"), "--out", help="Output folder (evidence + reports)"),
    workers: int = typer.Option(0, "--workers", "-j", help="Parallel analysis processes (default: cores)"),
) -> None:
    """Run the full phone scan against a built-in simulated handset that phones home (no phone needed)."""
    console, err = Console(), Console(stderr=True)
    evidence = out / "evidence"
    key = out / "host-key" / "adbkey"  # a demo host key, kept out of ~/.android and out of the evidence
    try:
        key = adb.ensure_host_key(key)
        sim = DeviceSimulator("demo", auth="trusted", trusted_keys=[Path(str(key) + ".pub")])
    except ProfileError as exc:
        _say(err, f"error: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    except adb.AdbError as exc:
        _say(err, f"error: {exc.message}")
        raise typer.Exit(EXIT_ERROR) from None
    with sim:
        _say(console, f"phonehome demo: simulated {sim.profile.prop('ro.product.brand')} "
                      f"{sim.profile.prop('ro.product.model')} (Android {sim.profile.prop('ro.build.version.release')}) "
                      f"speaking ADB on {sim.serial}", style="bold")
        _say(console, f"  {sim.profile.spec.description}")
        _say(console, f"step 1/3: read-only acquisition over the ADB wire protocol into {evidence}")

        def connect() -> adb.AdbConnection:
            return adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=10)

        result = run_acquisition(evidence, connect, AcquireOptions(apks="all"), console)
    pulled = sum(1 for f in result.manifest.files if f.status == "pulled")
    _say(console, f"step 2/3: analysing the {pulled} pulled APKs and the device state, offline from the evidence")
    options = ScanOptions(no_cache=True) if workers <= 0 else ScanOptions(no_cache=True, workers=workers)
    scan = scan_evidence(evidence, "device", options, err).result
    _confirm_with_capture(sim, scan, out, console)
    facts = device_facts(scan.inventory or DeviceInventory())
    if facts:
        _say(console, "what the phone shows right now:", style="bold")
        for fact in facts:
            _say(console, f"  - {fact}")
    try:
        finish_scan(scan, ReportArgs(formats=["terminal", "json", "html"], output=out), console, err)
    except typer.Exit as done:
        code = done.exit_code
    else:  # pragma: no cover - finish_scan always exits
        code = EXIT_CLEAN
    _say(console, f"evidence folder: {evidence} (acquisition.json, sha256sums.txt); reports: {out}/phonehome-report.*")
    _say(console, f"re-run the analysis offline with: phonehome evidence scan {evidence}")
    # Findings are the expected outcome of the demo, and so is the one preinstalled app the shell user may not
    # read: 0 when the demo ran (every pulled APK analysed, reports written), 2 when something failed.
    analysed = all(a.status is not Status.not_analysed for a in scan.apks)
    reports = all((out / name).is_file() for name in ("phonehome-report.json", "phonehome-report.html"))
    ran = code in (EXIT_CLEAN, EXIT_FINDINGS) or (code == EXIT_ERROR and analysed and reports)
    raise typer.Exit(EXIT_CLEAN if ran else EXIT_ERROR)
