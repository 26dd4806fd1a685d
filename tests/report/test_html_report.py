"""HTML reporter: one self-contained file, escaped content, and a real headless Chromium rendering it.

Chromium is Debian's `chromium` package; the browser tests skip when it is absent (CI installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from toolkit.findings import apply_baseline, apply_indicators, create_baseline, load_indicator_file
from toolkit.models import ScanResult, Severity
from toolkit.report.html import render_html

BUNDLE = Path(__file__).parent.parent / "findings" / "data" / "vendor_cloud.stix2"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium not installed")


class _Collector(HTMLParser):
    """Every tag with its attributes, to check what a browser would load."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collector()
    parser.feed(html)
    return parser.tags


def test_self_contained(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    tags = _tags(html)
    for tag, attrs in tags:
        assert tag not in ("link", "img", "iframe", "object", "embed"), tag
        if tag == "script":
            assert "src" not in attrs
        href = attrs.get("href") or ""
        assert href == "" or href.startswith("#"), href
    assert not re.search(r"url\(|@import", html)
    assert "default-src 'none'" in html  # CSP: even injected content could not load anything
    assert html.count("<style>") == 1 and html.count("<script>") == 1


def _ids(html: str) -> list[str]:
    return [a["id"] or "" for _, a in _tags(html) if a.get("id")]


def _flow_cards(html: str) -> list[dict[str, str | None]]:
    return [a for t, a in _tags(html) if t == "article" and "flow-card" in (a.get("class") or "")]


def test_content(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    tags = _tags(html)
    flows = _flow_cards(html)
    assert sorted(a["data-flow-id"] or "" for a in flows) == ["f-3c1e0b7a", "f-51a9e6d3", "f-8d22f4c0", "f-a07c93e1"]
    # Findings that rest on flows are labels on them; the three that rest on none keep a card of their own.
    findings = [a for t, a in tags if t == "article" and "finding-card" in (a.get("class") or "")]
    assert sorted(a["data-rule"] or "" for a in findings) == ["install-packages", "selinux-permissive", "signer-mismatch"]
    rows = html.split('id="apps-table"')[1].split("</table>")[0].count("<tr>") - 1
    assert rows == 4
    for text in (
        "Norvo/n1lite/n1lite:4.4.2/KOT49H/1403150932:user/release-keys",  # overview
        "http://push.vendor-cloud.example/pns/register",  # endpoint
        "com.brightlight.flashlight.stats.Crypto.seal([B)[B@0010",  # call path step
        "alarm com.brightlight.flashlight.StatsReceiver every 30 minutes",  # trigger
        "survives factory resets",  # why it matters
        "not a ZIP archive: end of central directory record not found",  # not analysed, with reason
        "pull failed: permission denied",  # input error
        "4 packages, 2 remote connections",  # inventory
    ):
        assert text in html, text


def test_one_card_per_flow_with_its_rules_as_labels(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    ids = [a["data-flow-id"] for a in _flow_cards(html)]
    assert len(ids) == len(set(ids))  # no flow card twice, whatever the number of rules that matched it
    card = html.split('data-flow-id="f-3c1e0b7a"')[1].split("</article>")[0]
    labels = re.findall(r'<a class="rule sev-([a-z]+)" href="#rule-[^"]+" title="([^:"]+):', card)
    assert labels == [("critical", "imei-to-network"), ("medium", "cleartext-endpoint")]  # worst first
    assert html.count('data-flow-id="f-3c1e0b7a"') == 1
    # a rule is explained once, in its own section, however many flows it labels
    rules = html.split('<section id="rules">')[1].split("</section>")[0]
    assert rules.count('id="rule-cleartext-endpoint"') == 1 and html.count("id=\"rule-cleartext-endpoint\"") == 1
    assert html.count("Anyone on the path (Wi-Fi, operator) can read it.") == 1  # three flows, one explanation


def test_summary_sentences_link_to_their_evidence(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "com.brightlight.flashlight is a preinstalled system app. Every 30 minutes, it reads the IMEI and sends " \
        "it encrypted to 203.0.113.45 (a hard-coded IP address, registered in SG)." in summary
    assert "When the phone starts, it reads the IMEI, the phone number and the contacts and sends them to " \
        "push.vendor-cloud.example" in summary
    assert 'href="#flow-f-a07c93e1"' in summary and 'href="#flow-f-51a9e6d3"' in summary
    for apk in fixed_result.apks:  # every app with a critical or high finding is named on page 1
        if any(f.severity.rank >= Severity.high.rank for f in apk.findings):
            assert apk.package and apk.package in summary
    assert html.index('id="summary"') < html.index('id="overview"') < html.index("</main>")


def test_readable_api_names_keep_the_raw_signature(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    assert ('<abbr class="mono" title="Landroid/telephony/TelephonyManager;-&gt;getDeviceId()Ljava/lang/String;">'
            "TelephonyManager.getDeviceId()</abbr>") in html
    assert "ContentResolver.query(Uri, String[], String, String[], String)" in html


def test_every_link_resolves_and_device_findings_find_their_flows(fixed_result: ScanResult) -> None:
    result = fixed_result.model_copy(deep=True)
    flash = result.apks[1]
    live = result.device_findings[0].model_copy(update={
        "rule_id": "live-connection-to-hardcoded-endpoint", "title": "App connected to its own hard-coded endpoint",
        "severity": Severity.high, "package": flash.package, "apk_sha256": flash.sha256, "flow_ids": ["f-a07c93e1"],
        "fingerprint": "f" * 32})
    gone = live.model_copy(update={"flow_ids": ["f-a07c93e1", "f-gone"], "fingerprint": "e" * 32})
    result.device_findings += [live, gone]
    html = render_html(result)
    ids = _ids(html)
    assert len(ids) == len(set(ids))
    hrefs = [a["href"] or "" for t, a in _tags(html) if t == "a"]
    assert hrefs and all(h[1:] in ids for h in hrefs if h.startswith("#") and not h.startswith("#q=")), hrefs
    card = html.split('data-flow-id="f-a07c93e1"')[1].split("</article>")[0]
    assert "live-connection-to-hardcoded-endpoint" in card  # the device finding is a label on the app's flow
    # The old card said "Flows not in the report: ..." for flows that were in it; only a really absent one is named.
    assert "not in this report: f-gone" in html and "f-a07c93e1" not in html.split("not in this report")[1][:80]
    assert "Flows not in the report" not in html


def test_identical_copies_are_one_copy_with_their_locations(fixed_result: ScanResult) -> None:
    result = fixed_result.model_copy(deep=True)
    twin = result.apks[0].model_copy(deep=True)
    twin.path = "evidence/apks/product/priv-app/CloudMsg/CloudMsg.apk"
    twin.provenance.device_path = "/product/priv-app/CloudMsg/CloudMsg.apk"
    result.apks.append(twin)
    html = render_html(result)
    assert sorted(a["data-flow-id"] or "" for a in _flow_cards(html)) == [
        "f-3c1e0b7a", "f-51a9e6d3", "f-8d22f4c0", "f-a07c93e1"]
    app = html.split('<section class="app" id="app-com.vendor.cloudmsg"')[1].split("</section>")[0]
    assert "(2 identical copies): <span class=\"mono\">/system/priv-app/CloudMsg/CloudMsg.apk</span>, " \
        "<span class=\"mono\">/product/priv-app/CloudMsg/CloudMsg.apk</span>" in app
    assert "1 distinct APK (by SHA-256)" in app


def test_one_diagram_per_flow_card(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    cards = html.split('<article class="card flow-card')[1:]
    assert len(cards) == 4
    for card in cards:
        body = card.split("</article>")[0]
        assert body.count('<svg class="diagram"') == 1
        assert "READS" in body and "NETWORK SINK" in body
    imei = html.split('data-flow-id="f-a07c93e1"')[1].split("</article>")[0]
    assert ">json, cipher, base64</text>" in imei.replace("</text><text", "") or "cipher" in imei.split("<svg")[1]
    assert "203.0.113.45 (SG)" in imei.split("<svg")[1]  # the endpoint box names its country


def test_phone_state_connections_schedule_and_timeline(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    device = html.split('<section id="device">')[1].split("</section>")[0]
    table = device.split('id="connections-table"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if "203.0.113.45" in r)
    assert "com.brightlight.flashlight" in row and "yes: " in row and 'href="#flow-f-a07c93e1"' in row
    assert "::ffff:" not in row  # an IPv4-mapped address is shown as the IPv4 address the code names
    assert '<svg class="timeline"' in device and "com.vendor.cloudmsg installed" in device
    assert "com.brightlight.flashlight updated" in device


def test_header_counts_problems_and_tables_scroll_when_narrow(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    header = html.split("<header>")[1].split("</header>")[0]
    assert "1 not analysed, 1 part of the evidence not collected; 9 findings" in header
    assert re.search(r"; \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", header)
    assert '<div class="scroll"><table class="sortable" id="apps-table">' in html  # SHA-256 column reachable


def test_problem_label_follows_its_level(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)  # the fixture's pull failure is a warning: part of the evidence, not an input
    assert "not collected (warning): pull failed: permission denied" in html and "input error" not in html
    assert '<a href="#not-analysed">Problems</a>' in html
    assert "<h2>Problems: not (fully) analysed, not collected (3)</h2>" in html  # partial, not analysed, not pulled
    errored = fixed_result.model_copy(deep=True)
    errored.input_errors = [e.model_copy(update={"level": "error"}) for e in errored.input_errors]
    assert "input error: pull failed: permission denied" in render_html(errored)


def test_untrusted_text_is_escaped(fixed_result: ScanResult) -> None:
    evil = fixed_result.model_copy(deep=True)
    evil.apks[0].package = '<img src=x onerror="alert(1)">'
    evil.apks[0].findings[0].message = "</article><script>alert(2)</script>"
    flow = evil.apks[1].flows[0]
    flow.id = '"><script>alert(3)</script>'
    evil.apks[1].findings[0].flow_ids = [flow.id]
    flow.source.api = "Lx/</text><script>alert(4)</script>;->m()V"  # drawn in the SVG diagram too
    flow.endpoints[0].host = '"><svg onload=alert(5)>'
    html = render_html(evil)
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<script>alert(3)" not in html and "<script>alert(4)" not in html and "<svg onload" not in html
    assert [t for t, _ in _tags(html)].count("script") == 1
    assert not [a for _, a in _tags(html) if any(k.startswith("on") for k in a)]  # no event handler attribute
    card = next(a for a in _flow_cards(html) if (a["data-flow-id"] or "").startswith('"'))
    assert re.fullmatch(r"flow-[A-Za-z0-9_.-]+", card["id"] or "")  # a safe anchor, and links to it resolve
    assert f'href="#{card["id"]}"' in html


def test_iocs_and_suppressed_sections(fixed_result: ScanResult, tmp_path: Path) -> None:
    matched = apply_indicators(fixed_result, [load_indicator_file(BUNDLE)])
    baseline = create_baseline(matched)
    baseline.entries = [e for e in baseline.entries if e.rule_id == "install-packages"]
    out = apply_baseline(matched, baseline, tmp_path / "b.json")
    html = render_html(out)
    assert 'id="iocs"' in html and "VendorCloud" in html and "BrightStats" in html
    assert "process:name: not collected by phonehome" in html
    # the flow an indicator matched is named by its id, and the id is a link to the flow's card
    assert 'flow <a href="#flow-f-a07c93e1">f-a07c93e1</a>' in html.split('id="ioc-table"')[1]
    suppressed = [a for t, a in _tags(html) if t == "article" and a.get("data-suppressed") == "true"]
    assert [a["data-rule"] for a in suppressed] == ["install-packages"]
    assert "show suppressed (1)" in html


def test_store_check_columns(fixed_result: ScanResult) -> None:
    from toolkit.models.store import SignerCheck, StoreCheckResult, TamperVerdict, TrackerHit

    flash = fixed_result.apks[1]
    result = fixed_result.model_copy(update={"store": StoreCheckResult(
        signer_checks=[SignerCheck(apk_path=flash.path, package=flash.package, verdict=TamperVerdict(
            verdict="tampered", reasons=["signed by 033c0511..., the pinned publisher key is 9a3f5e0c..."]))],
        trackers=[TrackerHit(tracker_id="t1", name="Bright Stats SDK", package=flash.package, apk_path=flash.path,
                             on_leak_flow=True)],
    )})
    html = render_html(result)
    assert "<th>Signer check</th><th>SDKs</th>" in html
    table = html.split('id="apps-table"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if "Flashlight.apk" in r and "<td" in r)
    assert ">tampered</td>" in row and "Bright Stats SDK (on a leak flow)" in row
    assert "the pinned publisher key" in row  # the reasons, as the cell's tooltip
    assert "<th>Signer check</th>" not in render_html(fixed_result)  # no store check, no columns


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--mute-audio",
        f"--user-data-dir={tmp_path / 'profile'}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@needs_chromium
def test_chromium_renders_cards_after_js(fixed_result: ScanResult, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(fixed_result), encoding="utf-8")
    done = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-ready="1"' in dom  # the inline script ran to the end
    assert "Showing 7 of 7 cards" in dom  # text written by the script, not by the server
    assert dom.count("<article") == 7
    assert "IMEI -&gt; 203.0.113.45" in dom and "Well-known app signed by the wrong key" in dom
    assert dom.count('<th class="sortable">') == 9 + 6  # the script made the app and connection headers sortable


@needs_chromium
def test_chromium_filter_from_link(fixed_result: ScanResult, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(fixed_result), encoding="utf-8")
    done = _chromium(tmp_path, "--dump-dom", page.as_uri() + "#q=com.brightlight.flashlight")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Showing 2 of 7 cards" in done.stdout  # its flow and its signer finding
    hidden = [a["data-package"] for t, a in _tags(done.stdout)
              if t == "article" and "hidden" in (a.get("class") or "").split()]
    assert len(hidden) == 5 and "com.brightlight.flashlight" not in hidden


# --- the demo scan and a firmware scan, rendered and opened in Chromium, screen and print --------------------

SCREENSHOTS = Path(os.environ.get("PHONEHOME_SCREENSHOTS", Path(__file__).parents[2] / "build" / "report-screenshots"))
PDFTOTEXT = shutil.which("pdftotext")
needs_poppler = pytest.mark.skipif(PDFTOTEXT is None, reason="Debian package poppler-utils not installed")


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """The real demo: simulated phone over the ADB protocol, acquisition, analysis (as `phonehome demo` runs it)."""
    from typer.testing import CliRunner

    from toolkit.cli.main import app

    out = tmp_path_factory.mktemp("demo") / "demo"
    run = CliRunner().invoke(app, ["demo", "--out", str(out), "--workers", "1"])
    assert run.exit_code == 0, run.output
    return ScanResult.model_validate_json((out / "phonehome-report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def firmware_result(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """`firmware scan` of a real ext4 image (mke2fs -d) holding fixture APKs, one of them twice (identical bytes)."""
    from typer.testing import CliRunner

    from tests.acquisition.firmware.writers import make_ext4
    from toolkit.cli.main import app

    base = tmp_path_factory.mktemp("firmware")
    apks = Path(__file__).parents[2] / "fixtures" / "apks"
    for src, dest in (("cloudmsg", "priv-app/CloudMsg/CloudMsg.apk"), ("cloudmsg", "product/priv-app/CloudMsg/CloudMsg.apk"),
                      ("flashlight_tampered", "app/Flashlight/Flashlight.apk"), ("clean_notes", "app/Notes/Notes.apk")):
        target = base / "src" / "system" / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(apks / f"{src}.apk", target)
    (base / "src" / "system" / "build.prop").write_text("ro.product.brand=Kestrel\nro.product.model=K7 Lite\n")
    image = make_ext4(base / "src", base / "system.img", size_mb=24)
    run = CliRunner().invoke(app, ["firmware", "scan", str(image), "--no-cache", "--workers", "1", "-f", "json",
                                   "-o", str(base / "r.json")])
    assert run.exit_code == 1, run.output  # findings
    return ScanResult.model_validate_json((base / "r.json").read_text(encoding="utf-8"))


def _serious_apps(result: ScanResult) -> set[str]:
    return {f.package for f in result.all_findings() if f.package and f.severity.rank >= Severity.high.rank}


def _check_in_browser(result: ScanResult, tmp_path: Path, name: str) -> str:
    """Open the report in Chromium and check links, cards, diagrams and the summary on the DOM after the script."""
    page = tmp_path / f"{name}.html"
    page.write_text(render_html(result), encoding="utf-8")
    done = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-ready="1"' in dom
    tags = _tags(dom)
    ids = [a["id"] for _, a in tags if a.get("id")]
    assert len(ids) == len(set(ids))
    links = [a["href"] or "" for t, a in tags if t == "a" and (a.get("href") or "").startswith("#")]
    assert links and all(link[1:] in ids for link in links), [x for x in links if x[1:] not in ids]
    # every flow id named anywhere (a link's text) is a working link to its card
    for flow_id in {f.id for apk in result.apks for f in apk.flows}:
        for match in re.finditer(rf'<a href="#([^"]+)">{flow_id[:12]}</a>', dom):
            assert match.group(1) in ids
    cards = [a for t, a in tags if t == "article" and "flow-card" in (a.get("class") or "")]
    flow_ids = [a["data-flow-id"] for a in cards]
    assert len(flow_ids) == len(set(flow_ids))  # no flow id in two cards
    assert set(flow_ids) == {f.id for apk in result.apks for f in apk.flows}  # and none missing
    diagrams = [a for t, a in tags if t == "svg" and a.get("class") == "diagram"]
    assert sorted(a["data-flow-diagram"] or "" for a in diagrams) == sorted(f or "" for f in flow_ids)
    summary = dom.split('<section id="summary">')[1].split("</section>")[0]
    for package in _serious_apps(result):
        assert package in summary, package
    return dom


def _print(tmp_path: Path, name: str) -> Path:
    pdf = tmp_path / f"{name}.pdf"
    done = _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", (tmp_path / f"{name}.html").as_uri())
    assert done.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-", done.stderr[-2000:]
    return pdf


def _page_text(pdf: Path, page: int) -> str:
    assert PDFTOTEXT is not None
    done = subprocess.run([PDFTOTEXT, "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True)
    return " ".join(done.stdout.split())


def _screenshots(tmp_path: Path, name: str, pdf: Path) -> None:
    """Screen and print (page 1) pictures for a person to look at; kept in build/report-screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}-screen.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars",
                     (tmp_path / f"{name}.html").as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (1280, 2000)
    assert len(data) > 50_000  # a rendered page, not a blank image
    shutil.copyfile(pdf, SCREENSHOTS / f"{name}-print.pdf")
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(SCREENSHOTS / f"{name}-print-page1")], check=True, capture_output=True)
        assert (SCREENSHOTS / f"{name}-print-page1.png").stat().st_size > 10_000


@needs_chromium
@needs_poppler
@pytest.mark.timeout(300)
def test_demo_report_in_chromium_screen_and_print(demo_result: ScanResult, tmp_path: Path) -> None:
    dom = _check_in_browser(demo_result, tmp_path, "demo")
    assert _serious_apps(demo_result) == {"com.vendor.cloudmsg", "com.brightlight.flashlight", "com.vendor.appstore"}
    # the updated system app: two distinct APKs, each flow told once, with the copy that carries it
    app = dom.split('id="app-com.vendor.cloudmsg"')[1].split("</section>")[0]
    assert "2 distinct APK" in app and "update in use" in app and "factory copy" in app
    assert "47.88.10.20 (a hard-coded IP address, registered in US)" in dom  # a country on a flow's endpoint
    assert "Flows not in the report" not in dom
    pdf = _print(tmp_path, "demo")
    first = _page_text(pdf, 1)
    assert "What phonehome found" in first and "examined a Kestrel K7 Lite phone" in first
    for package in _serious_apps(demo_result):
        assert package in first, package
    assert "Every 30 minutes, it reads the IMEI" in first and "47.88.10.20" in first
    assert "Apps and their data flows" not in first  # the summary has page 1 to itself
    everything = subprocess.run([PDFTOTEXT or "pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Call path" in everything and "Why it matters" in everything  # collapsed details are printed open
    _screenshots(tmp_path, "demo", pdf)


@needs_chromium
@needs_poppler
@pytest.mark.timeout(300)
def test_firmware_report_in_chromium_with_verdicts_and_collapsed_copies(firmware_result: ScanResult,
                                                                         tmp_path: Path) -> None:
    dom = _check_in_browser(firmware_result, tmp_path, "firmware")
    verdicts = dom.split('<section id="verdicts">')[1].split("</section>")[0]
    assert '<svg class="verdicts"' in verdicts
    table = verdicts.split('id="verdict-table"')[1]
    assert re.search(r"critical</span></td><td[^>]*>1</td><td[^>]*>com\.vendor\.cloudmsg</td>", table)
    assert re.search(r"no findings</span></td><td[^>]*>1</td><td[^>]*>com\.phonehome\.fx\.clean_notes", table)
    app = dom.split('id="app-com.vendor.cloudmsg"')[1].split("</section>")[0]
    assert "(2 identical copies)" in app and "1 distinct APK" in app
    assert 'id="device"' not in dom  # a firmware image has no live state
    pdf = _print(tmp_path, "firmware")
    first = _page_text(pdf, 1)
    assert "What phonehome found" in first and "firmware file" in first
    for package in _serious_apps(firmware_result):
        assert package in first, package
    _screenshots(tmp_path, "firmware", pdf)
