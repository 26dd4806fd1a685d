"""HTML reporter: one self-contained file, escaped content, and a real headless Chromium rendering it.

Chromium is Debian's `chromium` package; the browser tests skip when it is absent (CI installs it).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from toolkit.findings import apply_baseline, apply_indicators, create_baseline, load_indicator_file
from toolkit.models import ScanResult
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


def test_content(fixed_result: ScanResult) -> None:
    html = render_html(fixed_result)
    tags = _tags(html)
    cards = [a for t, a in tags if t == "article"]
    assert len(cards) == 9
    assert sorted(a["data-severity"] or "" for a in cards) == sorted(f.severity.value for f in fixed_result.all_findings())
    rows = html.split('id="apps-table"')[1].split("</table>")[0].count("<tr>") - 1
    assert rows == 4
    flows = html.split('id="flows"')[1].split("</section>")[0]
    assert "Data flows (4)" in flows and flows.count('class="flow"') == 4  # every flow, findings or not
    assert "com.vendor.cloudmsg</span>: 3 flows (contacts → network, imei → network, phone_number → network)" in flows
    for text in (
        "Norvo/n1lite/n1lite:4.4.2/KOT49H/1403150932:user/release-keys",  # overview
        "http://push.vendor-cloud.example/pns/register",  # endpoint
        "com.brightlight.flashlight.stats.Crypto.seal([B)[B@0010",  # call path step
        "alarm com.brightlight.flashlight.StatsReceiver every 1800 s",  # trigger
        "survives factory resets",  # why it matters
        "not a ZIP archive: end of central directory record not found",  # not analysed, with reason
        "pull failed: permission denied",  # input error
        "4 packages, 2 remote connections",  # inventory
    ):
        assert text in html, text


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
    html = render_html(evil)
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert [t for t, _ in _tags(html)].count("script") == 1


def test_iocs_and_suppressed_sections(fixed_result: ScanResult, tmp_path: Path) -> None:
    matched = apply_indicators(fixed_result, [load_indicator_file(BUNDLE)])
    baseline = create_baseline(matched)
    baseline.entries = [e for e in baseline.entries if e.rule_id == "install-packages"]
    out = apply_baseline(matched, baseline, tmp_path / "b.json")
    html = render_html(out)
    assert 'id="iocs"' in html and "VendorCloud" in html and "BrightStats" in html
    assert "process:name: not collected by phonehome" in html
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
    row = next(r for r in html.split("<tr>") if "Flashlight.apk" in r and "<td" in r)
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
def test_chromium_renders_findings_after_js(fixed_result: ScanResult, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(fixed_result), encoding="utf-8")
    done = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-ready="1"' in dom  # the inline script ran to the end
    assert "Showing 9 of 9 findings" in dom  # text written by the script, not by the server
    assert dom.count("<article") == 9
    assert "IMEI sent over the network" in dom and "Well-known app signed by the wrong key" in dom
    assert dom.count('<th class="sortable">') == 9  # the script made the 9 app-table headers sortable


@needs_chromium
def test_chromium_filter_from_link(fixed_result: ScanResult, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(fixed_result), encoding="utf-8")
    done = _chromium(tmp_path, "--dump-dom", page.as_uri() + "#q=com.brightlight.flashlight")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Showing 3 of 9 findings" in done.stdout
    hidden = re.findall(r'<article class="card [a-z]+ hidden" data-severity="[a-z]+" data-package="([^"]*)"', done.stdout)
    assert len(hidden) == 6 and "com.brightlight.flashlight" not in hidden


@needs_chromium
def test_chromium_screenshot(fixed_result: ScanResult, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(fixed_result), encoding="utf-8")
    shot = tmp_path / "report.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1280, 2000)
    assert len(data) > 50_000  # a rendered page, not a blank image
