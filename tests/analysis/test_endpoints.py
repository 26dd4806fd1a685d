"""Endpoint extraction from real fixture APKs and from real zip archives with resources, assets and .so files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from toolkit.analysis import analyse_apk
from toolkit.analysis.androguard_backend import open_apk
from toolkit.analysis.endpoints import classify_entry, extract_endpoints, extract_endpoints_from_file, url_endpoint
from toolkit.models import Endpoint

FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")


def by_value(endpoints: list[Endpoint]) -> dict[str, Endpoint]:
    return {e.value: e for e in endpoints}


def test_hard_coded_ip_with_country_from_fixture(fixture_apks: Path) -> None:
    endpoints = by_value(extract_endpoints(open_apk(fixture_apks / "cloudmsg_v2.apk")))
    report = endpoints["http://47.88.10.20:8080/report"]
    assert report.kind == "url"
    assert report.hard_coded_ip and report.host == "47.88.10.20" and report.port == 8080
    assert report.country == "US"
    assert report.found_in == ["dex"]


def test_fixture_urls_and_hosts(fixture_apks: Path) -> None:
    endpoints = by_value(extract_endpoints(open_apk(fixture_apks / "flashlight_tampered.apk")))
    assert set(endpoints) == {
        "http://ads.brightlight-cdn.example/config?app=flashlight&v=41",
        "http://stat.vendor-analytics.example/v2/collect",
    }
    stat = endpoints["http://stat.vendor-analytics.example/v2/collect"]
    assert stat.host == "stat.vendor-analytics.example" and not stat.hard_coded_ip and stat.country is None
    # package names of the app (com.vendor.analytics, com.brightlight.flashlight) are not hosts
    assert not any(e.kind == "host" for e in endpoints.values())


def test_bare_ip_sms_number_and_documentation_ranges(fixture_apks: Path) -> None:
    udp = by_value(extract_endpoints(open_apk(fixture_apks / "operator_udp.apk")))
    assert udp["198.51.100.23"].kind == "ip" and udp["198.51.100.23"].hard_coded_ip
    assert udp["198.51.100.23"].country is None  # TEST-NET-2: documentation range, no country
    sms = by_value(extract_endpoints(open_apk(fixture_apks / "phone_number_sms.apk")))
    assert sms["+447700900123"].kind == "phone_number"


def test_analyse_apk_fills_report_endpoints(fixture_apks: Path) -> None:
    report = analyse_apk(fixture_apks / "appmarket.apk")
    assert [e.value for e in report.endpoints] == [
        "http://api.vendor-market.example/v3/updates/check",
        "http://dl.vendor-market.example/apk/",
    ]


def _build_zip(path: Path, dex: bytes) -> None:
    native = (
        b"\x7fELF\x02\x01\x01" + b"\x00" * 40 + b"libc.so\x00GLIBC_2.17\x00"
        + b"tcp://c2.native-host.example:4444/ctl\x00" + b"\x01\x02" + b"47.88.10.21\x00"
        + b"1.94 3.56.71.48 1.54\x00" + b"http://www.w3.org/2000/svg\x00"
    )
    utf16_xml = b"\x03\x00\x08\x00" + "https://cfg.res-host.example/v1".encode("utf-16-le") + b"\x00\x00"
    utf16_xml += "http://schemas.android.com/apk/res/android".encode("utf-16-le") + b"\x00\x00"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("classes.dex", dex)
        zf.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00")
        zf.writestr("res/xml/config.xml", utf16_xml)
        zf.writestr("assets/sdk.json", b'{"endpoint": "https://collector.asset-host.example/in", "ip": "203.0.113.9:7000",'
                    b' "mail": "ops@vendor-mail.example", "license": "http://www.apache.org/licenses/LICENSE-2.0"}')
        zf.writestr("lib/arm64-v8a/libagent.so", native)
        zf.writestr("META-INF/CERT.RSA", b"http://crl.cert-authority.example/root.crl")
        zf.writestr("res/drawable/icon.png", b"\x89PNG http://png-noise.example/x")


def test_every_place_is_searched_and_noise_left_out(tmp_path: Path, fixture_apks: Path) -> None:
    dex = open_apk(fixture_apks / "imsi_url_query.apk").dex_bytes("classes.dex")
    apk = tmp_path / "mixed.apk"
    _build_zip(apk, dex)
    endpoints = by_value(extract_endpoints_from_file(apk))
    assert endpoints["http://t.adnet.example/hb?app=quickweather"].found_in == ["dex"]
    assert endpoints["https://cfg.res-host.example/v1"].found_in == ["resources"]
    assert endpoints["https://collector.asset-host.example/in"].found_in == ["assets"]
    assert endpoints["203.0.113.9:7000"].kind == "ip" and endpoints["203.0.113.9:7000"].port == 7000
    assert endpoints["ops@vendor-mail.example"].kind == "email"
    native_url = endpoints["tcp://c2.native-host.example:4444/ctl"]
    assert native_url.found_in == ["native"] and native_url.port == 4444 and native_url.scheme == "tcp"
    assert endpoints["47.88.10.21"].found_in == ["native"] and endpoints["47.88.10.21"].country == "US"
    values = " ".join(endpoints)
    for noise in ("schemas.android.com", "www.w3.org", "apache.org", "3.56.71.48", "libc.so", "crl.cert-authority",
                  "png-noise"):
        assert noise not in values, noise


def test_url_filtering_rules() -> None:
    assert url_endpoint("http://") is None
    assert url_endpoint("http://schemas.android.com/apk/res/android") is None
    assert url_endpoint("https://developer.android.com/reference") is None
    template = url_endpoint("http://%s:8080/report")
    assert template is not None and template.host is None
    ipv6 = url_endpoint("http://[2001:67c:2e8::1]:80/x")
    assert ipv6 is not None and ipv6.hard_coded_ip and ipv6.country == "NL"
    assert classify_entry("META-INF/CERT.RSA") is None
    assert classify_entry("classes2.dex") == "dex"
    assert classify_entry("lib/x86/libfoo.so") == "native"


@pytest.mark.skipif(not FRAMEWORK_RES.is_file(), reason="Debian android-framework-res not installed")
def test_real_framework_resources_have_little_noise() -> None:
    endpoints = by_value(extract_endpoints(open_apk(FRAMEWORK_RES)))
    assert "8.8.8.8" in endpoints and endpoints["8.8.8.8"].country == "US"
    assert "time.android.com" in endpoints
    assert len(endpoints) < 15, sorted(endpoints)
    assert not any(v.endswith((".on", ".rx", ".tx")) for v in endpoints)


def test_resource_string_pool_of_a_real_binary_manifest(fixture_apks: Path) -> None:
    from toolkit.analysis.endpoints import resource_strings

    apk = open_apk(fixture_apks / "cloudmsg.apk")
    strings = resource_strings(apk.file_bytes("AndroidManifest.xml"))
    assert strings is not None
    assert "com.vendor.cloudmsg" in strings and "android.uid.system" in strings
    assert "http://schemas.android.com/apk/res/android" in strings  # present in the pool, filtered as noise:
    assert not any(e.found_in == ["resources"] for e in extract_endpoints(apk))
    assert resource_strings(b"not a resource file at all, just text ...") is None


def test_base64_hidden_endpoint(fixture_apks: Path) -> None:
    from toolkit.analysis.endpoints import decode_base64_text

    endpoints = by_value(extract_endpoints(open_apk(fixture_apks / "obfuscated_sdk.apk")))
    hidden = endpoints["http://cfg.mobi-stat.example/collect"]
    assert hidden.found_in == ["dex:base64"] and hidden.host == "cfg.mobi-stat.example"
    assert decode_base64_text("SGVsbG8gV29ybGQhIQ==") is None  # "Hello World!!": no dot or colon
    assert decode_base64_text("com.example.SomeClassName") is None  # not Base64 at all
    assert decode_base64_text("aHR0cHM6Ly94LmV4YW1wbGUvYQ") == "https://x.example/a"  # URL-safe, unpadded
