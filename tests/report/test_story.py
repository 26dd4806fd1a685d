"""The story of a scan: readable names, plain sentences, one flow told once, copies by SHA-256, device state."""

from __future__ import annotations

import pytest

from toolkit.models import ScanResult, Severity
from toolkit.report.story import build_story, duration, readable_api


@pytest.mark.parametrize(("raw", "readable"), [
    ("Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;", "TelephonyManager.getDeviceId()"),
    ("Ljava/io/OutputStream;->write([B)V", "OutputStream.write(byte[])"),
    ("Landroid/content/ContentResolver;->query(Landroid/net/Uri;[Ljava/lang/String;Ljava/lang/String;"
     "[Ljava/lang/String;Ljava/lang/String;)Landroid/database/Cursor;",
     "ContentResolver.query(Uri, String[], String, String[], String)"),
    ("Landroid/provider/Settings$Secure;->getString(Landroid/content/ContentResolver;Ljava/lang/String;)"
     "Ljava/lang/String;", "Settings.Secure.getString(ContentResolver, String)"),
    ("Ljava/net/URL;-><init>(Ljava/lang/String;)V", "new URL(String)"),
    ("Landroid/location/Location;->distanceTo(Landroid/location/Location;)F", "Location.distanceTo(Location)"),
    ("Lx/Y;->m(IJ[[DZ)V", "Y.m(int, long, double[][], boolean)"),
    ("not a signature", "not a signature"),  # already a name (or something odd): shown as it is
])
def test_readable_api(raw: str, readable: str) -> None:
    assert readable_api(raw) == readable


def test_duration() -> None:
    assert [duration(s) for s in (1800, 3600, 86400, 21600, 45, 90)] == [
        "30 minutes", "hour", "day", "6 hours", "45 seconds", "90 seconds"]


def test_flows_are_grouped_by_app_and_told_once(fixed_result: ScanResult) -> None:
    story = build_story(fixed_result)
    assert [a.package for a in story.apps] == ["com.brightlight.flashlight", "com.vendor.cloudmsg",
                                               "com.vendor.appmarket"]
    cloud = story.apps[1]
    assert [(f.id, [lab.rule_id for lab in f.labels]) for f in cloud.flows] == [
        ("f-3c1e0b7a", ["imei-to-network", "cleartext-endpoint"]),
        ("f-8d22f4c0", ["phone-number-to-network", "cleartext-endpoint"]),
        ("f-51a9e6d3", ["contacts-to-network", "cleartext-endpoint"]),
    ]
    assert cloud.findings == []  # every finding of it rests on flows: labels, no card of its own
    assert [v.finding.rule_id for v in story.apps[0].findings] == ["signer-mismatch"]
    assert [v.finding.rule_id for v in story.device_findings] == ["selinux-permissive"]


def test_sentences_say_what_to_where_how_often_and_who(fixed_result: ScanResult) -> None:
    story = build_story(fixed_result)
    texts = [s.text for s in story.sentences]
    assert texts[0] == ("com.brightlight.flashlight is a preinstalled system app. Every 30 minutes, it reads the IMEI "
                        "and sends it encrypted to 203.0.113.45 (a hard-coded IP address, registered in SG).")
    assert story.sentences[0].links == [("f-a07c93e1", "flow-f-a07c93e1")]
    assert story.sentences[0].severity is Severity.critical
    assert ("com.vendor.cloudmsg is a preinstalled privileged system app, running as the system user. When the phone "
            "starts, it reads the IMEI, the phone number and the contacts and sends them to push.vendor-cloud.example."
            ) in texts
    assert story.headline is not None
    assert story.headline.text == "2 apps send personal data away: com.brightlight.flashlight and com.vendor.cloudmsg."
    assert [t for t, _ in story.glossary][:2] == ["IMEI", "preinstalled"]


def test_a_flow_no_rule_judged_is_a_card_but_no_claim(fixed_result: ScanResult) -> None:
    result = fixed_result.model_copy(deep=True)
    result.apks[0].findings = []  # cloudmsg: its flows stay in the report, but no rule matched them
    story = build_story(result)
    cloud = next(a for a in story.apps if a.package == "com.vendor.cloudmsg")
    assert len(cloud.flows) == 3 and all(f.severity is None for f in cloud.flows)
    assert not any("com.vendor.cloudmsg is a preinstalled" in s.text for s in story.sentences)


def test_hostile_ids_make_safe_unique_anchors(fixed_result: ScanResult) -> None:
    result = fixed_result.model_copy(deep=True)
    result.apks[0].flows[0].id = '"><script>x</script>'
    result.apks[0].flows[1].id = '"><script>x</script>2'
    for f in result.apks[0].findings:
        f.flow_ids = ['"><script>x</script>' if i == "f-3c1e0b7a" else i for i in f.flow_ids]
    story = build_story(result)
    anchors = [f.anchor for a in story.apps for f in a.flows]
    assert len(anchors) == len(set(anchors))
    assert all(c.isalnum() or c in "_.-" for a in anchors for c in a)
    flow = next(f for a in story.apps for f in a.flows if f.id.startswith('"'))
    assert [lab.rule_id for lab in flow.labels] == ["imei-to-network", "cleartext-endpoint"]


def test_a_tampered_store_copy_is_said_on_page_one(fixed_result: ScanResult) -> None:
    from toolkit.models.store import SignerCheck, StoreCheckResult, TamperVerdict

    flash = fixed_result.apks[1]
    result = fixed_result.model_copy(update={"store": StoreCheckResult(signer_checks=[
        SignerCheck(apk_path=flash.path, package=flash.package, verdict=TamperVerdict(
            verdict="tampered", reasons=["differs from reference ref/Flashlight.apk", "other"])),
        SignerCheck(apk_path="x.apk", package="com.x", verdict=TamperVerdict(verdict="genuine")),
    ])})
    texts = [s.text for s in build_story(result).sentences]
    assert ("The store copy of com.brightlight.flashlight is tampered (differs from reference "
            "ref/Flashlight.apk).") in texts
    assert not any("com.x" in t for t in texts)  # a genuine copy is no news
