from __future__ import annotations

import pytest

from toolkit.inventory import OUTPUT_KEYS, build_inventory, packages_by_uid
from toolkit.models.device import DeviceInventory

from .conftest import VERSIONS, outputs


def test_every_version_parses_cleanly(version: str) -> None:
    inv = build_inventory(outputs(version))
    expected_problems = {"android7": 2}  # the pm error and the fallback note; see test_android7_fallback
    assert len(inv.parse_problems) == expected_problems.get(version, 0), [str(p) for p in inv.parse_problems]
    assert inv.identity.brand == "Kestrel"
    assert inv.package("com.vendor.cloudmsg") is not None
    assert any(a.package == "com.vendor.cloudmsg" and a.interval_seconds == 1800 for a in inv.alarms)
    assert inv.processes and inv.settings and inv.users
    assert inv.setting("secure", "cloudmsg_optin") is not None
    assert inv.setting("secure", "cloudmsg_optin").value == "1"  # type: ignore[union-attr]
    # the live connection to the vendor host maps to the cloud-messaging app on every version
    vendor = [s for s in inv.sockets if s.remote_address == "47.88.10.20" and s.state == "ESTABLISHED"]
    assert vendor and all("com.vendor.cloudmsg" in s.packages for s in vendor)
    # round trip through JSON: the inventory is part of the report contract
    assert DeviceInventory.model_validate_json(inv.model_dump_json()) == inv


def test_android10_inventory_joins_pm_and_dumpsys() -> None:
    inv = build_inventory(outputs("android10"))
    fl = inv.package("com.brightlight.flashlight")
    assert fl is not None
    assert fl.sources == ["pm_list_packages", "dumpsys_package"]
    assert fl.uid == 10087 and fl.installer == "com.vendor.appstore"
    assert fl.signature_hashes == ["2dbd39a0"]
    assert inv.identity.selinux == "Enforcing"
    alarm = next(a for a in inv.alarms if a.package == "com.brightlight.flashlight")
    assert alarm.uid == 10087  # filled from the package's uid
    assert packages_by_uid(inv)[1000] == ["android", "com.android.settings", "com.vendor.cloudmsg"]
    assert packages_by_uid(inv)[10087] == ["com.brightlight.flashlight"]
    assert len(inv.sockets) == 11
    assert inv.properties["vendor.cloudmsg.server"] == "47.88.10.20:8080"


def test_android7_fallback_to_user0_listing() -> None:
    inv = build_inventory(outputs("android7"))
    reasons = [(p.source, p.reason) for p in inv.parse_problems]
    assert ("pm_list_packages", "no packages in the plain listing; used pm_list_packages_user0") in reasons
    fl = inv.package("com.brightlight.flashlight")
    assert fl is not None and fl.sources == ["pm_list_packages_user0", "dumpsys_package"]
    assert fl.uid == 10087  # from dumpsys: Android 7's pm has no -U
    assert inv.identity.selinux == "Permissive"


def test_missing_outputs_are_problems_and_the_rest_goes_on() -> None:
    raw_outputs = outputs("android10")
    del raw_outputs["dumpsys_package"]
    del raw_outputs["proc_net_udp6"]
    inv = build_inventory(raw_outputs)
    missing = {p.source for p in inv.parse_problems if p.reason.startswith("output missing")}
    assert missing == {"dumpsys_package", "proc_net_udp6"}
    fl = inv.package("com.brightlight.flashlight")
    assert fl is not None and fl.uid == 10087 and fl.sources == ["pm_list_packages"]
    tcp6 = next(s for s in inv.sockets if s.remote_address == "47.88.10.20" and s.state == "ESTABLISHED")
    assert tcp6.packages == ["android", "com.android.settings", "com.vendor.cloudmsg"]  # uids from pm -U


def test_nothing_at_all() -> None:
    inv = build_inventory({})
    # pm_list_packages_user0 is a fallback: its absence alone is not a problem
    assert {p.source for p in inv.parse_problems} == set(OUTPUT_KEYS) - {"pm_list_packages_user0"}
    assert inv.packages == [] and inv.identity.model is None


@pytest.mark.parametrize("key", [k for k in OUTPUT_KEYS if k != "pm_list_packages_user0"])
def test_garbage_in_any_output_never_raises(key: str) -> None:
    raw_outputs = outputs("android12")
    raw_outputs[key] = "\x00\xff garbage [[[ ]]] ==== \n\tUser 0: x\n  Package [\nJOB #\n" * 3
    inv = build_inventory(raw_outputs)
    assert inv.identity.sdk == (31 if key != "getprop" else None)
    assert any(p.source == key for p in inv.parse_problems), key
    if key == "getenforce":
        assert inv.identity.selinux is None
    if key != "dumpsys_package":
        assert inv.package("com.popular.messenger") is not None


def test_truncated_outputs_everywhere(version: str) -> None:
    cut = {k: v[: len(v) * 2 // 3] for k, v in outputs(version).items()}
    inv = build_inventory(cut)
    assert isinstance(inv, DeviceInventory)
    assert inv.packages  # what was before the cut is kept


def test_versions_constant() -> None:
    assert VERSIONS == ("android7", "android10", "android12", "android14")


def test_a_flood_of_bad_lines_is_listed_then_counted() -> None:
    from toolkit.inventory._common import MAX_PROBLEMS_PER_OUTPUT

    raw_outputs = outputs("android10")
    raw_outputs["settings_global"] = "adb_enabled=1\n" + "not a setting=x\n" * 5000
    inv = build_inventory(raw_outputs)
    mine = [p for p in inv.parse_problems if p.source == "settings_global"]
    assert len(mine) == MAX_PROBLEMS_PER_OUTPUT + 1
    assert mine[-1].reason.startswith(f"{5000 - MAX_PROBLEMS_PER_OUTPUT} more problem(s)")
    assert inv.setting("global", "adb_enabled") is not None


def test_excerpts_of_hostile_output_cannot_drive_a_terminal() -> None:
    """A phone controls its outputs: an escape sequence in a bad line is kept visible, not passed on raw."""
    raw_outputs = outputs("android10")
    raw_outputs["getprop"] += "\x1b]0;pwned\x07 [\x1b[2J]\n"
    inv = build_inventory(raw_outputs)
    [problem] = [p for p in inv.parse_problems if p.source == "getprop"]
    assert problem.text is not None and "\x1b" not in problem.text and "\x07" not in problem.text
    assert problem.text.startswith("\\x1b]0;pwned\\x07") and "\\x1b[2J" in problem.text
