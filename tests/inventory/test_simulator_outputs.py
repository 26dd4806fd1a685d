"""The simulator's demo profile rendered by its renderer functions (no network) parses without a single problem."""

from __future__ import annotations

import pytest

from toolkit.inventory import build_inventory

render = pytest.importorskip("toolkit.simulator.render")
profile_mod = pytest.importorskip("toolkit.simulator.profile")


def test_demo_profile_renders_into_a_clean_inventory() -> None:
    profile = profile_mod.load_profile("demo")
    outputs = {
        "getprop": render.getprop(profile),
        "getenforce": "Enforcing\n",
        "pm_list_packages": render.pm_list_packages(profile, ["-f", "-U", "-i", "--show-versioncode"]),
        "pm_list_users": render.pm_list_users(profile),
        "dumpsys_package": render.dumpsys_package(profile),
        "dumpsys_alarm": render.dumpsys_alarm(profile),
        "dumpsys_jobscheduler": render.dumpsys_jobscheduler(profile),
        "ps": render.ps(profile, ["USER", "PID", "PPID", "NAME"]),
    }
    for ns in ("system", "secure", "global"):
        outputs[f"settings_{ns}"] = render.settings_list(profile, ns)
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        outputs[f"proc_net_{proto}"] = render.proc_net(profile, proto)
    inv = build_inventory(outputs)
    assert [str(p) for p in inv.parse_problems] == []
    names = {p.name for p in inv.packages}
    assert {"com.vendor.cloudmsg", "com.vendor.appstore", "com.brightlight.flashlight"} <= names
    # every package is known to both pm and dumpsys, and has a device path to pull
    assert all(p.sources == ["pm_list_packages", "dumpsys_package"] for p in inv.packages)
    assert all(p.apk_paths for p in inv.packages)
    cloud = inv.package("com.vendor.cloudmsg")
    assert cloud is not None and cloud.is_updated_system and cloud.factory_code_path == "/system/priv-app/CloudMsg"
    assert any(a.package == "com.vendor.cloudmsg" and a.interval_seconds == 1800 for a in inv.alarms)
    assert any(s.remote_address == "47.88.10.20" and s.remote_port == 8080 and "com.vendor.cloudmsg" in s.packages
               for s in inv.sockets)
