"""Terminal reporter: the rich summary says what was scanned, what was not, and what was found."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from toolkit.findings import apply_baseline, apply_indicators, create_baseline, load_indicator_file
from toolkit.models import ScanResult, Target
from toolkit.pipeline import build_result
from toolkit.report.terminal import render_terminal

BUNDLE = Path(__file__).parent.parent / "findings" / "data" / "vendor_cloud.stix2"


def _text(result: ScanResult) -> str:
    console = Console(record=True, width=200, color_system=None, force_terminal=False)
    render_terminal(result, console)
    return console.export_text()


def test_summary(fixed_result: ScanResult) -> None:
    text = _text(fixed_result)
    assert "device: Norvo N1 Lite (Android 4.4.2, serial NV0N1L0042, SELinux Permissive)" in text
    assert "APKs: 4 scanned, 2 analysed, 1 partial, 1 not analysed; 1 part of the evidence not collected" in text
    assert "Findings: 3 critical  2 high  2 medium  1 low  1 info" in text
    assert "Inventory: 4 packages, 2 remote connections" in text
    assert "Apps and flows (7; -v adds rules and call paths)" in text
    assert "203.0.113.45:8443" in text and "push.vendor-cloud.example" in text
    assert "not analysed: evidence/apks/system/app/OemLogger/OemLogger.apk: not a ZIP archive" in text
    assert "warning: /data/app/com.example.notes-1/base.apk: pull failed: permission denied" in text
    assert "error: /data/app" not in text and "unusable" not in text  # a warning-level problem is not an error
    lines = text.splitlines()
    first_flow = next(i for i, line in enumerate(lines) if "critical IMEI -> 203.0.113.45 (hard-coded IP, SG)" in line)
    info_finding = next(i for i, line in enumerate(lines) if "install-packages" in line)
    assert first_flow < info_finding  # most severe first


def test_summary_sentences_come_first_and_each_flow_is_one_entry(fixed_result: ScanResult) -> None:
    text = _text(fixed_result)
    story = text.split("What phonehome found")[1].split("Apps and flows")[0]
    assert "On 2026-11-21 phonehome examined a Norvo N1 Lite phone (Android 4.4.2, serial NV0N1L0042)" in story
    assert "2 apps send personal data away: com.brightlight.flashlight and com.vendor.cloudmsg." in story
    assert ("• com.brightlight.flashlight is a preinstalled system app. Every 30 minutes, it reads the IMEI and "
            "sends it encrypted to 203.0.113.45 (a hard-coded IP address, registered in SG). [f-a07c93e1]") in story
    flows = text.split("Apps and flows")[1].split("The phone's state")[0]
    # grouped by app, then one entry per flow, its rules counted instead of repeating the flow under each rule
    assert flows.index("CRITICAL com.brightlight.flashlight") < flows.index("CRITICAL com.vendor.cloudmsg")
    for flow_id in ("f-a07c93e1", "f-3c1e0b7a", "f-8d22f4c0", "f-51a9e6d3"):
        assert flows.count(flow_id) == 1, flow_id
    assert "IMEI -> push.vendor-cloud.example, when the phone starts [f-3c1e0b7a, 2 rules]" in flows
    assert "signer-mismatch: com.brightlight.flashlight is signed by" in flows  # a finding resting on no flow
    state = text.split("The phone's state when it was examined")[1]
    assert "com.brightlight.flashlight (uid 10061) -> 203.0.113.45:8443; in its code: 203.0.113.45:8443" \
        in " ".join(state.split())  # the IPv4-mapped address (::ffff:) as the IPv4 address the code names


def test_verbose_adds_rules_and_the_call_path(fixed_result: ScanResult) -> None:
    console = Console(record=True, width=200, color_system=None, force_terminal=False)
    render_terminal(fixed_result, console, verbose=True)
    text = console.export_text()
    assert "rules: imei-to-network, periodic-upload" in text
    assert ("path: TelephonyManager.getDeviceId() in Collector.collect -> Crypto.seal -> Uploader.send -> "
            "Socket.getOutputStream()") in text
    assert "path:" not in _text(fixed_result)


def test_iocs_and_baseline(fixed_result: ScanResult, tmp_path: Path) -> None:
    matched = apply_indicators(fixed_result, [load_indicator_file(BUNDLE)])
    out = apply_baseline(matched, create_baseline(matched), tmp_path / "b.json")
    text = _text(out)
    assert f"Indicator matches: {len(out.ioc_matches)} (" in text and "VendorCloud" in text
    iocs = text.split("Indicator matches")[1]
    assert "203.0.113.0/24" in iocs and "BrightStats: ipv4" in iocs  # one row per indicator
    assert "endpoint, flow_endpoint, socket" in iocs
    assert "http://push.vendor-cloud.example/pns/contacts" in iocs  # URL indicators whole, never cut with '…'
    assert "121e3c27ae0d7ee7f1cc0cf…" in iocs  # only hashes are shortened (the JSON/HTML reports hold them whole)
    assert f"{len(out.suppressed)} findings suppressed by baseline" in text
    assert "No findings." in text


def test_unusable_inputs_are_errors(fixed_result: ScanResult) -> None:
    errored = fixed_result.model_copy(deep=True)
    errored.input_errors = [e.model_copy(update={"level": "error"}) for e in errored.input_errors]
    text = _text(errored)
    assert "; 1 input unusable" in text and "not collected" not in text
    assert "error: /data/app/com.example.notes-1/base.apk: pull failed: permission denied" in text


def test_reads_at_80_columns(fixed_result: ScanResult) -> None:
    # Package names, rule ids and the source -> sink of a flow must not be cut mid-word on an 80-column terminal:
    # the location and methods go below them in the same cell instead of in narrow columns of their own.
    console = Console(record=True, width=80, color_system=None, force_terminal=False)
    render_terminal(fixed_result, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for whole in ("com.brightlight.flashlight", "com.vendor.cloudmsg", "signer-mismatch", "IMEI ->",
                  "[f-a07c93e1, 2 rules]"):
        assert whole in text, whole
    assert "package / where" in text


def test_many_problems_are_cut_with_a_pointer(fixed_result: ScanResult) -> None:
    many = fixed_result.model_copy(deep=True)
    template = many.input_errors[0]
    many.input_errors = [template.model_copy(update={"path": f"/data/app/x{i}.apk"}) for i in range(50)]
    text = _text(many)
    assert "/data/app/x0.apk" in text and "/data/app/x49.apk" not in text
    assert "… and 22 more problems: see stderr or the json/html report for all" in text  # 2 APK problems + 50


def test_empty_scan() -> None:
    text = _text(build_result(Target(kind="apk_files", inputs=["x/"]), []))
    assert "APKs: 0 scanned" in text and "No findings." in text


def test_long_flow_lists_are_cut_with_a_pointer(fixed_result: ScanResult) -> None:
    many = fixed_result.model_copy(deep=True)
    template = many.apks[0].flows[0]
    many.apks[0].flows += [template.model_copy(update={"id": f"f-extra{i:03d}"}) for i in range(70)]
    text = _text(many)
    assert "… and 17 more flows and findings: see the json or html report for all" in text  # 77 - 60
    assert "f-a07c93e1" in text.split("Apps and flows")[1]  # the most severe app comes first and is kept


def test_hostile_text_is_neither_markup_nor_terminal_control(fixed_result: ScanResult) -> None:
    """An endpoint like "http://x/[/]" or an ESC sequence inside an APK must not crash or drive the terminal."""
    import io as _io

    from rich.console import Console as _Console

    from toolkit.report.terminal import render_terminal as _render

    result = fixed_result.model_copy(deep=True)
    finding = next(f for apk in result.apks for f in apk.findings if not f.flow_ids)  # shown as its own line
    finding.message = "sent to http://evil.example/[/]path [bold]x[/bold] \x1b[31mRED\x07"
    result.apks[0].flows[0].endpoints[0].host = "evil.example/[/][bold]\x1b]0;owned\x07"
    buffer = _io.StringIO()
    _render(result, _Console(file=buffer, width=400, color_system=None))
    out = buffer.getvalue()
    assert "http://evil.example/[/]path [bold]x[/bold]" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31mRED\\x07" in out
    assert "evil.example/[/][bold]\\x1b]0;owned\\x07" in out  # an endpoint of a flow line, and of a sentence
