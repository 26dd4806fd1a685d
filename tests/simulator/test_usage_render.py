"""The simulated phone's usage records are consistent with each other and with the demo capture: parsed with the
real parsers from the simulator's real shell answers."""

from __future__ import annotations

from pathlib import Path

from toolkit.behaviour.findings import uid_periods
from toolkit.inventory import build_inventory
from toolkit.simulator.profile import load_profile
from toolkit.simulator.shell import Shell
from toolkit.traffic.capture import ReadState, read_packets
from toolkit.traffic.writer import demo_capture

COMMANDS = {
    "getprop": "getprop", "pm_list_packages": "pm list packages -f -U -i --show-versioncode",
    "dumpsys_package": "dumpsys package", "settings_secure": "settings list secure", "dumpsys_alarm": "dumpsys alarm",
    "dumpsys_appops": "dumpsys appops", "dumpsys_netstats": "dumpsys netstats --full --uid",
    "dumpsys_usagestats": "dumpsys usagestats", "dumpsys_batterystats": "dumpsys batterystats -c",
    "dumpsys_activity_services": "dumpsys activity services", "dumpsys_device_policy": "dumpsys device_policy",
    "dumpsys_iphonesubinfo": "dumpsys iphonesubinfo", "role_sms": "cmd role get-role-holders android.app.role.SMS",
    "logcat": "logcat -d -b main,system,crash,events -t 20000", "wifi_mac": "cat /sys/class/net/wlan0/address",
}


def test_demo_phone_records_are_consistent(tmp_path: Path) -> None:
    profile = load_profile("demo")
    shell = Shell(profile, set())
    raw = {key: shell.run(cmd).stdout.decode() for key, cmd in COMMANDS.items()}
    inv = build_inventory(raw)
    usage = inv.usage
    assert usage is not None and usage.parse_problems == []
    sms = next(o for o in usage.appops if o.package == "com.vendor.cloudmsg" and o.op == "READ_SMS")
    assert abs((sms.last_access_ago_seconds or 0) - 4.2 * 60) < 1  # minutes ago
    period = next(p for p in uid_periods(usage) if p.uid == 1000)
    assert period.verdict.periodic and period.verdict.period_seconds == 1800 and period.background_share == 1.0
    assert period.bucket_seconds == 900
    battery = next(b for b in usage.battery if b.uid == 1000)
    sent = sum(b.tx_bytes for h in usage.netstats if h.uid == 1000 for b in h.buckets)
    assert battery.wifi_tx_bytes == sent and battery.alarms == 48 == period.verdict.transmissions
    assert {i.kind for i in usage.identifiers} >= {"imei", "phone_number", "serial", "android_id", "wifi_mac"}
    assert {(p.kind, p.package) for p in usage.powers} >= {("device_admin", "com.vendor.cloudmsg"),
                                                           ("notification_listener", "com.vendor.cloudmsg")}
    # The demo capture's reports to the hard-coded IP fall in the buckets where netstats shows uid 1000 sending.
    capture = demo_capture(profile, tmp_path / "demo.pcapng")
    starts = {b.start for h in usage.netstats if h.uid == 1000 for b in h.buckets}
    syns = [p.ts for p in read_packets(capture, ReadState()) if p.dst == "47.88.10.20" and p.syn]
    assert len(syns) == 12 and all(int(t) - int(t) % 900 in starts for t in syns)
    assert demo_capture(profile, tmp_path / "again.pcapng").read_bytes() == capture.read_bytes()  # reproducible
