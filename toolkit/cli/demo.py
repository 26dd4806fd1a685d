"""`phonehome demo`: the whole phone scan, through the real ADB protocol, against a built-in simulated handset.

The handset reproduces the case phonehome exists for: a budget phone whose preinstalled system "cloud
messaging" app reports IMEI, number and operator at boot, then contacts' numbers and SMS senders, and (after
the vendor's "fix") an encrypted payload every 30 minutes to a hard-coded cloud IP; a preloaded app market; a
tampered copy of a popular app (caught by the genuine app's signer pin and the genuine APK as reference, both
shipped with the demo); a messaging opt-in setting; a live socket to the vendor host; an alarm that repeats
every 1800 s.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli.options import WORKERS
from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR, consoles, fail, finish_scan, require_installed_data, say

if TYPE_CHECKING:
    from rich.console import Console

    from toolkit.models import ScanResult
    from toolkit.simulator import DeviceSimulator

# What ships with the demo handset to show the tampering: the genuine app's signer pin and the genuine APK. They are
# copied next to the evidence so that the analysis can be re-run from the demo's output folder alone.
DEMO_PINS = "pins.yml"
DEMO_REFERENCE = "flashlight.apk"


def _confirm_with_capture(sim: DeviceSimulator, scan: ScanResult, out: Path, console: Console) -> None:
    """Write the demo capture (from the simulated phone's scenario), scan it, and say which static flows the
    phone's records and the capture confirm (`observed`)."""
    from toolkit.traffic import traffic_scan
    from toolkit.traffic.writer import demo_capture

    capture = demo_capture(sim.profile, out / "capture.pcapng")
    say(console, f"step 3/3: reading the network capture {capture} (DNS, TLS SNI, an HTTP POST, 30-minute reports)")
    report = traffic_scan(capture, scan).report
    (out / "traffic-report.json").write_text(report.model_dump_json(indent=2) + "\n")
    confirmed = [(a.package, f) for a in scan.apks for f in a.flows if f.observed]
    say(console, f"static flows confirmed by the phone's records or the capture: {len(confirmed)}", style="bold")
    for package, flow in confirmed:
        kinds = ", ".join(sorted({o.kind for o in flow.observed}))
        say(console, f"  - {package}: {flow.source.kind} -> {flow.sink.kind} observed ({kinds})")


def demo(
    out: Path = typer.Option(Path("phonehome-demo"), "--out", metavar="DIR",
                             help="Output folder: evidence/, reference/, reports, result cache"),
    workers: int = WORKERS.info,
) -> None:
    """Run the full phone scan against a built-in simulated handset that phones home (no phone needed).

    Exit code: 0 when the demo ran as designed (the phone was acquired, every APK analysed, the reports written),
    2 when it could not. The findings are the expected outcome of the demo and do not change the exit code; the
    scanning commands (`evidence scan`, `store check` ...) exit 1 on the same findings.
    """
    from toolkit.acquisition import adb
    from toolkit.acquisition.device import AcquireOptions
    from toolkit.cli.device import print_parse_problems, run_acquisition
    from toolkit.cli.store import run_check
    from toolkit.findings.facts import device_facts
    from toolkit.models import Status
    from toolkit.pipeline import ScanOptions
    from toolkit.report.demo_story import story_lines
    from toolkit.simulator import DeviceSimulator, ProfileError
    from toolkit.store import StoreCheckOptions
    from toolkit.usecases import ReportRequest, relative_to_root

    console, err = consoles()
    require_installed_data(err)
    evidence = out / "evidence"
    key = out / "host-key" / "adbkey"  # a demo host key, kept out of ~/.android and out of the evidence
    try:
        key = adb.ensure_host_key(key)
        sim = DeviceSimulator("demo", auth="trusted", trusted_keys=[Path(str(key) + ".pub")])
    except ProfileError as exc:
        fail(err, str(exc))
    except adb.AdbError as exc:
        fail(err, exc.message)
    except OSError as exc:
        fail(err, f"{out}: cannot write the demo folder: {exc.strerror or exc}")
    with sim:
        say(console, f"phonehome demo: simulated {sim.profile.prop('ro.product.brand')} "
                     f"{sim.profile.prop('ro.product.model')} (Android {sim.profile.prop('ro.build.version.release')}) "
                     f"speaking ADB on {sim.serial}", style="bold")
        say(console, f"  {sim.profile.spec.description}")
        say(console, f"step 1/3: read-only acquisition over the ADB wire protocol into {evidence}")

        def connect() -> adb.AdbConnection:
            return adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=10)

        acquired = run_acquisition(evidence, connect, AcquireOptions(apks="all"), console)
        profile_dir = sim.profile.root
    reference = out / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    for name in (DEMO_PINS, DEMO_REFERENCE):
        if profile_dir is not None:
            shutil.copyfile(profile_dir / name, reference / name)
    cache = out / "cache" / "results.sqlite3"
    in_evidence = sum(1 for f in acquired.manifest.files if f.status == "pulled")
    run = acquired.manifest.runs[-1]
    kept = f" ({run.reused} kept from the earlier run)" if run.reused else ""
    say(console, f"step 2/3: analysing the {in_evidence} APKs of the evidence folder{kept} and the device state, "
                 f"offline; the signers are checked against the genuine app ({reference})")
    options = StoreCheckOptions(references=[reference / DEMO_REFERENCE], pin_files=[reference / DEMO_PINS],
                                scan=ScanOptions(cache_path=cache, **({"workers": workers} if workers > 0 else {})))
    cached = _CacheCount()
    result = run_check([evidence], options, err, on_progress=cached)
    result.target.kind = "device"  # a phone scan: acquired just now, analysed from its evidence folder
    result = relative_to_root(result, evidence)  # as `evidence scan` and `store check` of the folder write them
    say(console, f"  {cached.analysed} APKs analysed now, {cached.from_cache} results taken from the cache {cache} "
                 "(the evidence's APKs and the genuine reference)")
    print_parse_problems(result.inventory, err)
    _confirm_with_capture(sim, result, out, console)
    facts = device_facts(result.inventory)
    if facts:
        say(console, "what the phone shows right now:", style="bold")
        for fact in facts:
            say(console, f"  - {fact}")
    html = out / "phonehome-report.html"
    try:
        finish_scan(result, ReportRequest(formats=["terminal", "json", "html"], output=out), console, err)
    except typer.Exit as done:
        code = done.exit_code
    say(console, f"evidence folder: {evidence} (acquisition.json, sha256sums.txt); reports: {out}/phonehome-report.*")
    say(console, f"re-run the analysis offline: phonehome store check {evidence} --reference "
                 f"{reference / DEMO_REFERENCE} --pins {reference / DEMO_PINS}")
    say(console, "In short:", style="bold")
    for line in story_lines(result, html):
        say(console, f"  {line}")
    # Findings are the expected outcome of the demo, and so is the one preinstalled app the shell user may not
    # read: 0 when the demo ran (every pulled APK analysed, reports written), 2 when something failed.
    analysed = all(a.status is not Status.not_analysed for a in result.apks)
    reports = all((out / name).is_file() for name in ("phonehome-report.json", "phonehome-report.html"))
    ran = code != EXIT_ERROR and analysed and reports
    raise typer.Exit(EXIT_CLEAN if ran else EXIT_ERROR)


class _CacheCount:
    """Progress callback that counts, over every batch of the check, how many APKs came from the result cache."""

    def __init__(self) -> None:
        self.analysed = 0
        self.from_cache = 0

    def __call__(self, event: object) -> None:
        stage, done, total, cached = (getattr(event, k) for k in ("stage", "done", "total", "cached"))
        if stage == "analyse" and total is not None and done == total:
            self.from_cache += cached
            self.analysed += total - cached
