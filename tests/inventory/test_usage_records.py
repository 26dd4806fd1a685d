"""Usage-record parsers on raw text of Android 7, 10, 12 and 14 (tests/inventory/data/<version>/), and on hostile
input: each parser at its own level, then build_inventory assembling them."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.inventory.conftest import outputs, raw
from toolkit.inventory import build_inventory
from toolkit.inventory.activity import (
    parse_batterystats_checkin,
    parse_dumpsys_activity_services,
    parse_dumpsys_usagestats,
)
from toolkit.inventory.appops import parse_dumpsys_appops
from toolkit.inventory.logcat import parse_logcat
from toolkit.inventory.netstats import parse_dumpsys_netstats
from toolkit.inventory.powers import (
    parse_dumpsys_accessibility,
    parse_dumpsys_device_policy,
    parse_role_holders,
    powers_from_settings,
)
from toolkit.models.device import ParseProblem, Setting

# When each sample's dump was taken (the phone's local time) and the cloud-messaging app's last READ_SMS access.
READ_SMS = {
    "android7": (None, 252.033),
    "android10": (datetime(2020, 9, 20, 14, 26, 50, 89000), 252.033),
    "android12": (datetime(2021, 11, 2, 9, 39, 33, 500000), 267.5),
    "android14": (datetime(2023, 11, 20, 16, 52, 1, 377000), 418.623),
}


def test_appops_last_access_of_read_sms(version: str) -> None:
    problems: list[ParseProblem] = []
    records, now = parse_dumpsys_appops(raw(version, "dumpsys_appops"), problems)
    assert problems == []
    sms = [r for r in records if r.package == "com.vendor.cloudmsg" and r.op == "READ_SMS"]
    assert len(sms) == 1
    expected_time, expected_ago = READ_SMS[version]
    assert sms[0].mode == "allow" and sms[0].uid == 1000
    assert sms[0].last_access == expected_time
    assert sms[0].last_access_ago_seconds == pytest.approx(expected_ago)
    # Android 7 prints only offsets: no absolute time can be told from the dump alone.
    assert (now is None) == (version == "android7")


def test_appops_reject_times_and_uid_modes() -> None:
    records, _ = parse_dumpsys_appops(raw("android10", "dumpsys_appops"))
    cam = next(r for r in records if r.package == "com.brightlight.flashlight" and r.op == "CAMERA")
    assert cam.mode == "ignore" and cam.last_access is None
    assert cam.last_reject == datetime(2020, 9, 19, 12, 28, 58, 117000)
    uid_wide = [r for r in records if r.package is None]
    assert [(r.uid, r.op, r.mode) for r in uid_wide] == [(10087, "CAMERA", "ignore")]
    # Android 7 prints numeric modes and relative times; the reject is kept.
    records7, _ = parse_dumpsys_appops(raw("android7", "dumpsys_appops"))
    cam7 = next(r for r in records7 if r.package == "com.brightlight.flashlight" and r.op == "CAMERA")
    assert cam7.mode == "ignore" and cam7.last_reject_ago_seconds == pytest.approx(93784.005)


def test_appops_latest_of_several_attribution_tags() -> None:
    records, _ = parse_dumpsys_appops(raw("android12", "dumpsys_appops"))
    sms = next(r for r in records if r.package == "com.vendor.cloudmsg" and r.op == "READ_SMS")
    assert sms.last_access == datetime(2021, 11, 2, 9, 39, 33, 500000)  # null= tag, later than cloudmsg.sync=
    assert sms.last_reject == datetime(2021, 11, 1, 23, 0)
    fine = next(r for r in records if r.package == "com.vendor.cloudmsg" and r.op == "FINE_LOCATION")
    assert fine.mode == "allow" and fine.duration_ms == 1488


def test_netstats_uid_histories(version: str) -> None:
    problems: list[ParseProblem] = []
    histories = parse_dumpsys_netstats(raw(version, "dumpsys_netstats"), problems)
    assert problems == []
    system = [h for h in histories if h.uid == 1000 and h.network_type == "WIFI"]
    assert len(system) == 1 and system[0].set == "DEFAULT" and system[0].bucket_seconds == 7200
    assert len(system[0].buckets) == 12
    starts = [b.start for b in system[0].buckets]
    assert all(b - a == 7200 for a, b in zip(starts, starts[1:], strict=False))
    assert all(b.tx_bytes > 0 for b in system[0].buckets)
    # Dev/Xt stats (uid=-1) and tagged sub-totals are not per-UID totals: not read.
    assert all(h.uid >= 0 and h.tag == "0x0" for h in histories)
    mobile = [h for h in histories if h.network_type == "MOBILE"]
    assert len(mobile) == 1 and mobile[0].metered is (None if version == "android7" else True)


def test_netstats_cut_history_is_a_problem() -> None:
    text = ("UID stats:\n  Complete history:\n  ident=[{type=WIFI}] uid=10087 set=DEFAULT tag=0x0\n"
            "    NetworkStatsHistory: bucketDuration=7200\n      (omitting 40 buckets)\n"
            "      st=1600473600 rb=1 rp=1 tb=2 tp=1 op=0\n      garbage \xff line\n")
    problems: list[ParseProblem] = []
    histories = parse_dumpsys_netstats(text, problems)
    assert len(histories[0].buckets) == 1
    assert any("40 older buckets omitted" in p.reason for p in problems)
    assert any(p.line == 7 for p in problems)


def test_usagestats_last_use_and_foreground_events(version: str) -> None:
    usage = {u.package: u for u in parse_dumpsys_usagestats(raw(version, "dumpsys_usagestats"))}
    expected = {
        "android7": ("com.brightlight.flashlight", datetime(2016, 12, 4, 16, 29, 30)),
        "android10": ("com.popular.messenger", datetime(2020, 9, 20, 14, 21, 2)),
        "android12": ("com.popular.messenger", datetime(2021, 11, 2, 8, 13, 2)),
        "android14": ("com.popular.messenger", datetime(2023, 11, 20, 16, 58, 51)),
    }[version]
    assert usage[expected[0]].last_time_used == expected[1]
    assert usage[expected[0]].foreground_events
    if "com.vendor.cloudmsg" in usage:  # only a foreground service: never used by the person
        assert usage["com.vendor.cloudmsg"].last_time_used is None
        assert usage["com.vendor.cloudmsg"].foreground_events == []


def test_batterystats_checkin(version: str) -> None:
    stats = {s.uid: s for s in parse_batterystats_checkin(raw(version, "dumpsys_batterystats"))}
    system = stats[1000]
    assert "com.vendor.cloudmsg" in system.packages
    assert system.alarms in (47, 48) and system.wakelocks >= 47
    assert system.wifi_tx_bytes > 2_000_000 and system.mobile_tx_bytes > 1_000_000


def test_batterystats_garbage_is_recorded() -> None:
    problems: list[ParseProblem] = []
    stats = parse_batterystats_checkin("9,1000,l,nt,x,y,z,w\nnot checkin\n", problems)
    assert stats == [] and [p.line for p in problems] == [1, 2]  # the non-numeric nt line, the non-checkin line


def test_activity_services_start_reasons(version: str) -> None:
    services = {s.component: s for s in parse_dumpsys_activity_services(raw(version, "dumpsys_activity_services"))}
    report = services["com.vendor.cloudmsg/.ReportService"]
    assert report.foreground and report.start_requested and report.last_activity == "-4m12s40ms"
    assert report.start_reason == "foreground service, started (startService)"
    assert services["com.vendor.cloudmsg/.NotifyListener"].start_reason == "bound by a client"
    assert len(services) == 3


def test_accessibility_and_device_policy(version: str) -> None:
    access = parse_dumpsys_accessibility(raw(version, "dumpsys_accessibility"))
    policy = parse_dumpsys_device_policy(raw(version, "dumpsys_device_policy"))
    kinds = {(p.kind, p.package) for p in policy}
    assert ("device_admin", "com.vendor.cloudmsg") in kinds
    if version == "android7":
        assert access == []  # Android 7-9 print only labels: the secure setting names the components
        assert not any(k == "device_owner" for k, _ in kinds)
    else:
        assert [(p.package, p.component) for p in access] == [
            ("com.vendor.cloudmsg", "com.vendor.cloudmsg/com.vendor.cloudmsg.AssistService")]
        assert ("device_owner", "com.vendor.mdm") in kinds
    assert (("profile_owner", "com.corp.workprofile") in kinds) == (version == "android14")


def test_roles_and_settings_powers() -> None:
    assert [p.package for p in parse_role_holders("com.a.sms;com.b.sms\n", "default_sms")] == ["com.a.sms",
                                                                                               "com.b.sms"]
    problems: list[ParseProblem] = []
    assert parse_role_holders("Can't find service: role\n", "default_sms", problems) == [] and problems
    settings = [Setting(namespace="secure", key="enabled_notification_listeners", value="com.x/.L:com.y/com.y.L"),
                Setting(namespace="secure", key="always_on_vpn_app", value="com.vpn.app"),
                Setting(namespace="secure", key="always_on_vpn_lockdown", value="1"),
                Setting(namespace="secure", key="sms_default_application", value="null"),
                Setting(namespace="global", key="enabled_notification_listeners", value="com.z/.L")]
    got = [(p.kind, p.package, p.component, p.detail) for p in powers_from_settings(settings)]
    assert got == [("notification_listener", "com.x", "com.x/.L", None),
                   ("notification_listener", "com.y", "com.y/com.y.L", None),
                   ("always_on_vpn", "com.vpn.app", None, "lockdown=1")]


def test_logcat_truncation_is_noted() -> None:
    info = parse_logcat(raw("android12", "logcat"))
    assert info.lines == 6 and not info.truncated and info.buffers == ["main", "system", "events", "crash"]
    cut = parse_logcat("".join(f"12-05 18:20:{i % 60:02d}.000  1  1 I T: {i}\n" for i in range(50)), bound_lines=50)
    assert cut.truncated and cut.bound == "last 50 lines"


def test_build_inventory_assembles_usage(version: str) -> None:
    inv = build_inventory(outputs(version))
    usage = inv.usage
    assert usage is not None and usage.parse_problems == []
    assert set(usage.sources) >= {"dumpsys_appops", "dumpsys_netstats", "logcat"}
    system = next(h for h in usage.netstats if h.uid == 1000)
    assert "com.vendor.cloudmsg" in system.packages  # mapped through the UID table
    ids = {i.kind for i in usage.identifiers}
    assert {"serial", "android_id"} <= ids
    assert ("imei" in ids) == (version == "android7")  # dumpsys iphonesubinfo prints it only on old versions
    powers = {(p.kind, p.package) for p in usage.powers}
    assert ("device_admin", "com.vendor.cloudmsg") in powers
    if version == "android14":
        assert ("default_sms", "com.vendor.cloudmsg") in powers


def test_evidence_without_usage_outputs_has_no_usage() -> None:
    inv = build_inventory({"getprop": "[ro.build.version.sdk]: [29]\n"})
    assert inv.usage is None


@pytest.mark.parametrize("parser", [parse_dumpsys_appops, parse_dumpsys_netstats, parse_dumpsys_usagestats,
                                    parse_batterystats_checkin, parse_dumpsys_activity_services,
                                    parse_dumpsys_accessibility, parse_dumpsys_device_policy])
def test_hostile_input_is_recorded_not_raised(parser: object) -> None:
    problems: list[ParseProblem] = []
    garbage = "\x00\xff" * 1000 + "\nUid x:\n  Package :\n" + "A" * 100000 + "\n"
    parser(garbage, problems)  # type: ignore[operator]
    assert problems  # said what could not be read
