from __future__ import annotations

import pytest

from toolkit.inventory.schedules import parse_dumpsys_alarm, parse_dumpsys_jobscheduler, parse_duration, uid_from_format
from toolkit.models.device import ParseProblem

from .conftest import raw


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("+30m0s0ms", 1800), ("+6h0m0s0ms", 21600), ("+1d0h0m0s0ms", 86400), ("-3h12m5s300ms", -11525.3),
     ("+5s12ms", 5.012), ("0", 0), ("+0ms", 0), ("1800000", 1800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_duration_rejects_garbage() -> None:
    assert parse_duration("soon") is None
    assert parse_duration("--") is None
    assert parse_duration("+") is None


def test_uid_from_format() -> None:
    assert uid_from_format("u0a41") == 10041
    assert uid_from_format("u10a211") == 1010211
    assert uid_from_format("1000") == 1000
    assert uid_from_format("u10s1000") == 1001000
    assert uid_from_format("bogus") is None


def _alarms(version: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for a in parse_dumpsys_alarm(raw(version, "dumpsys_alarm")):
        out.setdefault(a.package, []).append(a)
    return out


def test_alarms_android7_batches() -> None:
    alarms = _alarms("android7")
    (cm,) = alarms["com.vendor.cloudmsg"]
    assert cm.type == "RTC_WAKEUP" and cm.wakeup
    assert cm.interval_seconds == 1800
    assert cm.tag == "*walarm*:com.vendor.cloudmsg.action.HEARTBEAT"
    assert cm.action == "com.vendor.cloudmsg.action.HEARTBEAT"
    assert cm.when == "2017-08-15 04:03:20"
    assert cm.operation == "broadcastIntent"
    (sysalarm,) = alarms["android"]
    assert sysalarm.interval_seconds is None and sysalarm.operation == "listener"
    # "Top Alarms" / "Alarm Stats" repeat the tag but are statistics, not pending alarms
    assert sum(len(v) for v in alarms.values()) == 2


def test_alarms_android10() -> None:
    alarms = _alarms("android10")
    assert sum(len(v) for v in alarms.values()) == 4
    (cm,) = alarms["com.vendor.cloudmsg"]
    assert (cm.type, cm.interval_seconds, cm.when) == ("RTC_WAKEUP", 1800, "2020-09-13 14:45:21")
    (fl,) = alarms["com.brightlight.flashlight"]
    assert fl.type == "ELAPSED_WAKEUP" and fl.interval_seconds == 1200 and fl.operation == "startService"
    assert fl.action == "com.brightlight.flashlight/com.adsdk.SyncService"
    (store,) = alarms["com.vendor.appstore"]
    assert store.type == "RTC" and not store.wakeup and store.interval_seconds == 86400
    assert store.tag == "*alarm*:com.vendor.appstore.action.CHECK_UPDATES"
    assert alarms["com.android.phone"][0].interval_seconds is None


def test_alarms_android12_pending_alarms_format() -> None:
    alarms = _alarms("android12")
    (cm,) = alarms["com.vendor.cloudmsg"]
    assert cm.interval_seconds == 1800
    assert cm.orig_when == "2022-05-11 08:18:20.000"
    assert cm.when == "+18m20s0ms"
    (fl,) = alarms["com.brightlight.flashlight"]
    assert (fl.type, fl.interval_seconds, fl.orig_when) == ("ELAPSED", 900, "+16m40s0ms")
    assert alarms["com.google.android.gms"][0].interval_seconds is None


def test_alarms_android14_exact_reason_and_listener() -> None:
    alarms = _alarms("android14")
    (cm,) = alarms["com.vendor.cloudmsg"]
    assert cm.interval_seconds == 1800 and cm.type == "RTC_WAKEUP"
    (msg,) = alarms["com.popular.messenger"]
    assert msg.operation == "listener" and msg.interval_seconds is None


def test_alarm_garbage_is_reported() -> None:
    problems: list[ParseProblem] = []
    assert parse_dumpsys_alarm("Can't find service: alarm\n", problems) == []
    assert len(problems) == 1 and problems[0].source == "dumpsys_alarm"
    problems = []
    assert parse_dumpsys_alarm("", problems) == []
    assert "empty" in problems[0].reason


def test_alarm_truncated_mid_alarm_keeps_what_was_read() -> None:
    text = raw("android10", "dumpsys_alarm")
    cut = text.index("      window=+22m30s0ms repeatInterval=1800000")
    alarms = parse_dumpsys_alarm(text[:cut])
    cm = next(a for a in alarms if a.package == "com.vendor.cloudmsg")
    assert cm.tag == "*walarm*:com.vendor.cloudmsg.action.REPORT" and cm.interval_seconds is None


def _jobs(version: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for j in parse_dumpsys_jobscheduler(raw(version, "dumpsys_jobscheduler")):
        out.setdefault(j.package, []).append(j)
    return out


def test_jobs_android7() -> None:
    jobs = _jobs("android7")
    (store,) = jobs["com.vendor.appstore"]
    assert (store.uid, store.job_id, store.service) == (10041, 3, "com.vendor.appstore/.UpdateCheckService")
    assert store.periodic and store.interval_seconds == 3600 and store.persisted
    assert store.requires_network  # "Network type: 1"
    (wv,) = jobs["com.google.android.webview"]
    assert not wv.periodic and wv.interval_seconds is None


def test_jobs_android10() -> None:
    jobs = _jobs("android10")
    (fl,) = jobs["com.brightlight.flashlight"]
    assert (fl.uid, fl.job_id) == (10087, 1001)
    assert fl.periodic and fl.interval_seconds == 1800 and fl.flex_seconds == 300
    assert fl.service == "com.brightlight.flashlight/com.adsdk.ReportJobService"
    assert fl.tag == "*job*/com.brightlight.flashlight/com.adsdk.ReportJobService"
    (store,) = jobs["com.vendor.appstore"]
    assert store.interval_seconds == 21600 and store.source_package == "com.vendor.appstore"
    (dex,) = jobs["android"]
    assert dex.job_id == -301 and dex.uid == 1000 and not dex.requires_network
    # "Job history" repeats "#u0a87/1001" but is not a registered job
    assert sum(len(v) for v in jobs.values()) == 3


def test_jobs_android12_secondary_user() -> None:
    (msg,) = _jobs("android12")["com.popular.messenger"]
    assert msg.uid == 1010211 and msg.source_user == 10
    assert msg.interval_seconds == 86400 and not msg.requires_network


def test_jobs_android14_namespace() -> None:
    jobs = _jobs("android14")
    (cm,) = jobs["com.vendor.cloudmsg"]
    assert (cm.uid, cm.job_id, cm.interval_seconds, cm.persisted) == (1000, 12, 1800, True)
    assert len(jobs["com.popular.messenger"]) == 1


def test_jobs_garbage_is_reported() -> None:
    problems: list[ParseProblem] = []
    assert parse_dumpsys_jobscheduler("JOB #u0a1/1: zz\n", problems) == []
    assert "Registered" in problems[0].reason
