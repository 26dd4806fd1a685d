"""The read-only allow-list: enforced in one place (ReadOnlyDevice), before anything reaches the phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.simulator.support import make_host_key, simulator, small_profile
from toolkit.acquisition import adb
from toolkit.acquisition.device import COLLECTORS, NotAllowedError, ReadOnlyDevice, check_read_only

pytestmark = pytest.mark.timeout(60)

REFUSED = [
    "pm install /sdcard/x.apk", "pm uninstall com.vendor.cloudmsg", "pm clear com.vendor.cloudmsg",
    "pm disable-user com.vendor.cloudmsg", "pm grant com.x android.permission.CAMERA",
    "settings put global adb_enabled 0", "settings delete secure cloudmsg_optin",
    "rm -rf /sdcard", "reboot", "svc wifi disable", "am start -n com.x/.Main", "am force-stop com.x",
    "cmd package install-existing com.x", "setprop persist.sys.x 1", "input keyevent 26", "dd if=/dev/zero of=/x",
    "getprop; reboot", "getprop && rm /x", "getprop | sh", "cat /proc/net/tcp > /sdcard/x",
    "getprop `reboot`", "getprop $(reboot)", "cat /proc/net/../../data/x", "sha256sum /data/../x",
    "dumpsys package com.x; rm /x", "ps -A\nreboot", "getprop ro.x\n", "",
]


@pytest.mark.parametrize("command", REFUSED)
def test_changing_or_compound_commands_are_refused(command: str) -> None:
    with pytest.raises(NotAllowedError):
        check_read_only(command)


@pytest.mark.timeout(10)
def test_refusing_a_long_hostile_line_does_not_hang() -> None:
    # With a nested quantifier in the patterns this would backtrack for hours; the timeout mark fails it.
    for command in ["sha256sum /" + "a" * 5000 + "!", "dumpsys package " + "a." * 5000 + "!"]:
        with pytest.raises(NotAllowedError):
            check_read_only(command)


def test_every_collector_command_is_allowed() -> None:
    for collector in COLLECTORS:
        for command in collector.commands:
            check_read_only(command)
    for extra in ["getprop ro.serialno", "pm list packages -f -U -i --show-versioncode --user 10",
                  "dumpsys package com.vendor.cloudmsg", "pm path com.vendor.cloudmsg",
                  "sha256sum /data/app/~~mC4xWq8ZrT0dV6yUe2pLhA==/com.x-Qz7b==/base.apk"]:
        check_read_only(extra)


def test_refused_commands_never_reach_the_phone(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path), key) as sim:
        device = ReadOnlyDevice(adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=3))
        try:
            for command in ["pm uninstall com.vendor.appstore", "settings put secure cloudmsg_optin 0", "reboot"]:
                with pytest.raises(NotAllowedError):
                    device.shell(command)
            assert device.shell("getprop ro.serialno").stdout == b"TP0001\n"
            assert not hasattr(device, "push") and not hasattr(device, "install")
        finally:
            device.close()
    # Only the allowed command (plus the SDK probe) reached the phone.
    assert sim.commands == ["getprop ro.build.version.sdk", "getprop ro.serialno"]


# --- usage-record collectors (issue 16): each new command is read-only, and its state-changing relatives are not
USAGE_REFUSED = [
    "dumpsys batterystats --checkin",  # a "real check-in": deletes the saved check-in file after printing it
    "dumpsys batterystats --reset", "dumpsys batterystats --write", "dumpsys batterystats enable full-history",
    "dumpsys netstats --poll", "dumpsys netstats poll", "dumpsys netstats --full --poll",
    "logcat -c", "logcat -d -c", "logcat -G 16M", "logcat -d -b all -t 100", "logcat -d -f /sdcard/x -t 10",
    "logcat", "logcat -d -b main -t 20000 > /sdcard/log",
    "cmd role add-role-holder android.app.role.SMS com.x", "cmd role remove-role-holder android.app.role.SMS com.x",
    "cmd role get-role-holders android.app.role.HOME", "cmd appops set com.x READ_SMS allow", "cmd appops reset",
    "dumpsys appops --reset", "dumpsys usagestats flush", "dumpsys device_policy; reboot",
    "cat /sys/class/net/wlan0/../../x", "settings put secure enabled_notification_listeners x",
]


@pytest.mark.parametrize("command", USAGE_REFUSED)
def test_state_changing_usage_commands_are_refused(command: str) -> None:
    with pytest.raises(NotAllowedError):
        check_read_only(command)


def test_each_usage_collector_command_is_on_the_allow_list() -> None:
    from toolkit.acquisition.usage import USAGE_COMMANDS

    keys = {c.key for c in COLLECTORS}
    for key, commands in USAGE_COMMANDS:
        assert key in keys  # wired into the collectors
        for command in commands:
            check_read_only(command)  # and each command (fallbacks included) is allowed
            words = set(command.split())
            assert not words & {"--checkin", "--poll", "poll", "-G", "--reset", "add-role-holder", "set", ">"}
            assert "-c" not in words or command == "dumpsys batterystats -c"  # logcat -c clears the log
