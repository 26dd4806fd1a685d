"""The usage-record parsers on real phone outputs (MVT's test data, tests/inventory/data/real/README.md): no parse
problem, and the values a person reading the dump would see."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from toolkit.inventory.appops import parse_dumpsys_appops
from toolkit.inventory.packages import parse_dumpsys_package_sections
from toolkit.inventory.powers import parse_dumpsys_accessibility
from toolkit.models.device import ParseProblem

REAL = Path(__file__).resolve().parent / "data" / "real"


def _read(name: str) -> str:
    return (REAL / name).read_text(encoding="utf-8")


def test_samsung_appops() -> None:
    problems: list[ParseProblem] = []
    records, now = parse_dumpsys_appops(_read("mvt_dumpsys_appops.txt"), problems)
    assert problems == []
    assert len(records) == 37
    # The dump's own time: an access time plus its offset (23:03:03.763 + 24m50.324s).
    assert now == datetime(2022, 3, 29, 23, 27, 54, 87000)
    ops = {(r.package, r.op): r for r in records}
    phone = ops[("com.facebook.katana", "READ_PHONE_STATE")]
    assert phone.uid == 10103 and phone.mode == "allow"
    # The latest of its three per-state Access lines (fg, bg, cch).
    assert phone.last_access == datetime(2022, 3, 29, 18, 57, 58, 524000)
    assert phone.last_access_ago_seconds == 4 * 3600 + 29 * 60 + 55.563
    assert ops[("com.facebook.katana", "READ_CONTACTS")].last_access == datetime(2022, 3, 7, 18, 5, 34, 325000)
    # Reject lines without the space after the state (as this phone prints them) keep their times.
    ids = ops[("com.facebook.katana", "READ_DEVICE_IDENTIFIERS")]
    assert ids.mode == "deny" and ids.last_access is None
    assert ids.last_reject == datetime(2022, 3, 29, 18, 57, 58, 644000)
    assert ops[("com.facebook.katana", "WRITE_SMS")].last_reject == datetime(2022, 3, 29, 18, 48, 2, 923000)
    assert ops[("com.facebook.katana", "WAKE_LOCK")].duration_ms == 33
    assert ops[("com.sec.android.app.clockpackage", "WAKE_LOCK")].duration_ms == 126
    # UID-wide modes (no package) and the uid numbering (u0a104 = 10104).
    assert ops[(None, "COARSE_LOCATION")].mode == "ignore"
    assert {r.uid for r in records if r.op == "COARSE_LOCATION"} == {10103, 10104}
    assert ops[("com.sec.factory.camera", "RUN_IN_BACKGROUND")].uid == 1000
    assert all(r.access_count is None for r in records)  # no Android version prints counts


def test_samsung_accessibility_lists_on_several_lines() -> None:
    text = _read("mvt_dumpsys_accessibility.txt")
    problems: list[ParseProblem] = []
    assert parse_dumpsys_accessibility(text, problems) == []  # four installed, none enabled
    assert problems == []
    # The same dump with one service in its (multi-line) enabled list: derived from the real file by one line.
    enabled = text.replace("  enabled services: {\n  }",
                           "  enabled services: {\n    0 : com.samsung.accessibility/.universalswitch.UniversalSwitchService\n  }")
    assert enabled != text
    powers = parse_dumpsys_accessibility(enabled)
    assert [(p.package, p.component, p.source) for p in powers] == [
        ("com.samsung.accessibility", "com.samsung.accessibility/.universalswitch.UniversalSwitchService",
         "dumpsys_accessibility: enabled services")]


def test_samsung_accessibility_with_an_enabled_service() -> None:
    problems: list[ParseProblem] = []
    powers = parse_dumpsys_accessibility(_read("mvt_dumpsys_accessibility_enabled.txt"), problems)
    assert problems == []
    assert [(p.kind, p.package, p.component) for p in powers] == [
        ("accessibility", "com.samsung.accessibility",
         "com.samsung.accessibility/.universalswitch.UniversalSwitchService")]  # not the four other installed ones


def test_android14_accessibility() -> None:
    problems: list[ParseProblem] = []
    powers = parse_dumpsys_accessibility(_read("mvt_dumpsys_accessibility_v14_or_later.txt"), problems)
    assert problems == []
    # "Bound services:{Service[label=...]}" names no component: only the enabled one is a power.
    assert [p.component for p in powers] == ["com.malware.accessibility/com.malware.service.malwareservice"]


def test_samsung_dumpsys_package() -> None:
    problems: list[ParseProblem] = []
    dump = parse_dumpsys_package_sections(_read("mvt_dumpsys_packages.txt"), problems)
    assert problems == []
    pkgs = {p.name: p for p in dump.packages}
    assert sorted(pkgs) == ["com.samsung.android.provider.filterprovider", "com.sec.android.app.DataCreate"]
    filt = pkgs["com.samsung.android.provider.filterprovider"]
    assert (filt.uid, filt.shared_user, filt.version_code, filt.version_name) == (
        1000, "android.uid.system", 500700000, "5.0.07")
    assert filt.is_system and not filt.is_privileged and filt.code_path == "/system/app/FilterProvider"
    assert filt.signature_hashes == ["b378e95c"] and filt.apk_signing_version == 2
    assert filt.first_install_time == datetime(2008, 12, 31, 16, 0)  # the factory image's time stamp
    data = pkgs["com.sec.android.app.DataCreate"]
    assert data.uid == 10143 and data.shared_user is None and (data.min_sdk, data.target_sdk) == (29, 29)
    assert "android.permission.GET_ACCOUNTS" in data.requested_permissions and len(data.requested_permissions) == 11
    assert "android.permission.READ_PRIVILEGED_PHONE_STATE" in data.install_permissions
    assert len(data.install_permissions) == 20
    user0 = data.users[0]
    assert user0.user_id == 0 and user0.enabled_state == "default" and user0.granted_runtime_permissions == []
    assert "android.permission.READ_SMS" in user0.denied_runtime_permissions and len(user0.denied_runtime_permissions) == 13
