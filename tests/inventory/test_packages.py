from __future__ import annotations

import hashlib
import ssl
from datetime import datetime
from pathlib import Path

import pytest

from toolkit.inventory.packages import (
    derived_apk_paths,
    java_signature_hash,
    merge_packages,
    parse_dumpsys_package,
    parse_dumpsys_package_sections,
    parse_pm_list_packages,
    parse_pm_list_users,
)
from toolkit.models.device import PackageRecord, ParseProblem

from .conftest import raw

REPO = Path(__file__).resolve().parents[2]


def _by_name(records: list[PackageRecord]) -> dict[str, PackageRecord]:
    return {r.name: r for r in records}


# ------------------------------------------------------------------------------------------- pm list


def test_pm_list_android10_paths_uid_installer_version() -> None:
    pkgs = _by_name(parse_pm_list_packages(raw("android10", "pm_list_packages")))
    assert len(pkgs) == 8
    fl = pkgs["com.brightlight.flashlight"]
    assert fl.apk_paths == ["/data/app/com.brightlight.flashlight-Qz7bN1sKxE5fJ9gHa3vRtw==/base.apk"]
    assert (fl.uid, fl.installer, fl.version_code) == (10087, "com.vendor.appstore", 40)
    assert pkgs["com.vendor.appstore"].installer is None  # "installer=null"
    assert pkgs["android"].apk_paths == ["/system/framework/framework-res.apk"]


def test_pm_list_android12_base64_paths_with_equals_signs() -> None:
    pkgs = _by_name(parse_pm_list_packages(raw("android12", "pm_list_packages")))
    fl = pkgs["com.brightlight.flashlight"]
    assert fl.apk_paths == [
        "/data/app/~~mC4xWq8ZrT0dV6yUe2pLhA==/com.brightlight.flashlight-Qz7bN1sKxE5fJ9gHa3vRtw==/base.apk"
    ]
    assert fl.uid == 10187


def test_pm_list_multi_user_uids_take_the_first() -> None:
    pkgs = _by_name(parse_pm_list_packages(raw("android14", "pm_list_packages")))
    assert pkgs["com.popular.messenger"].uid == 10233


def test_pm_list_android7_without_uid_or_versioncode() -> None:
    pkgs = _by_name(parse_pm_list_packages(raw("android7", "pm_list_packages_user0")))
    fl = pkgs["com.brightlight.flashlight"]
    assert fl.apk_paths == ["/data/app/com.brightlight.flashlight-1/base.apk"]
    assert fl.uid is None and fl.version_code is None
    assert fl.installer == "com.vendor.appstore"


def test_pm_list_error_is_a_problem_not_a_package() -> None:
    problems: list[ParseProblem] = []
    assert parse_pm_list_packages(raw("android7", "pm_list_packages"), problems) == []
    assert len(problems) == 1
    assert problems[0].source == "pm_list_packages" and problems[0].line == 1
    assert "Unknown option" in (problems[0].text or "")


def test_pm_list_plain_names_and_odd_tokens() -> None:
    problems: list[ParseProblem] = []
    pkgs = parse_pm_list_packages("package:com.a\npackage:com.b weird\npackage:com.a\n", problems)
    assert [p.name for p in pkgs] == ["com.a", "com.b"]
    assert [p.apk_paths for p in pkgs] == [[], []]
    assert {p.line for p in problems} == {2, 3}


def test_pm_list_users_versions() -> None:
    users7 = parse_pm_list_users(raw("android7", "pm_list_users"))
    assert [(u.id, u.name, u.running) for u in users7] == [(0, "Owner", True), (10, "Guest", False)]
    users14 = parse_pm_list_users(raw("android14", "pm_list_users"))
    assert [u.id for u in users14] == [0, 10, 150]
    assert users14[0].flags == 0x4C13
    assert users14[1].name == "Work profile"


# ------------------------------------------------------------------------------------------- dumpsys


def test_dumpsys_android10_updated_system_app() -> None:
    problems: list[ParseProblem] = []
    pkgs = _by_name(parse_dumpsys_package(raw("android10", "dumpsys_package"), problems))
    assert problems == []
    assert set(pkgs) == {"android", "com.android.settings", "com.android.phone", "com.vendor.cloudmsg",
                         "com.vendor.appstore", "com.brightlight.flashlight", "com.popular.messenger",
                         "com.kestrel.fmradio"}
    cm = pkgs["com.vendor.cloudmsg"]
    assert cm.uid == 1000 and cm.shared_user == "android.uid.system"
    assert cm.code_path == "/data/app/com.vendor.cloudmsg-Xk2mQ9vYbL1cT3wZ8nRf4A=="
    assert cm.apk_paths == ["/data/app/com.vendor.cloudmsg-Xk2mQ9vYbL1cT3wZ8nRf4A==/base.apk"]
    assert (cm.version_code, cm.version_name, cm.min_sdk, cm.target_sdk) == (3, "2.0", 19, 22)
    assert cm.is_system and cm.is_privileged and cm.is_updated_system and cm.is_persistent
    assert cm.factory_code_path == "/system/priv-app/CloudMsg"
    assert cm.factory_version_code == 1
    assert cm.installer == "com.vendor.appstore"
    assert cm.first_install_time == datetime(2009, 1, 1, 8, 0, 0)
    assert cm.first_install_time_raw == "2009-01-01 08:00:00"
    assert cm.last_update_time == datetime(2020, 6, 2, 3, 14, 7)
    assert cm.install_permissions == ["android.permission.INTERNET", "android.permission.RECEIVE_BOOT_COMPLETED",
                                      "android.permission.ACCESS_NETWORK_STATE"]
    assert "android.permission.ACCESS_BACKGROUND_LOCATION" in cm.requested_permissions  # ": restricted=true" cut
    assert cm.granted_runtime_permissions == [
        "android.permission.READ_PHONE_STATE", "android.permission.READ_CONTACTS",
        "android.permission.RECEIVE_SMS", "android.permission.ACCESS_FINE_LOCATION",
    ]
    assert cm.users[0].denied_runtime_permissions == ["android.permission.ACCESS_BACKGROUND_LOCATION"]
    assert cm.signature_hashes == ["f9a831e6"]
    assert cm.apk_signing_version == 2


def test_dumpsys_android10_splits_and_signer_lineage() -> None:
    pkgs = _by_name(parse_dumpsys_package(raw("android10", "dumpsys_package")))
    msg = pkgs["com.popular.messenger"]
    code = "/data/app/com.popular.messenger-3nVq0cJ1yB4aTtZ5kXw8mg=="
    assert msg.splits == ["base", "config.armeabi_v7a", "config.de", "config.xhdpi"]
    assert msg.apk_paths == [f"{code}/base.apk", f"{code}/split_config.armeabi_v7a.apk",
                             f"{code}/split_config.de.apk", f"{code}/split_config.xhdpi.apk"]
    assert msg.signature_hashes == ["5e0a1c77"]
    assert msg.past_signature_hashes == ["1c9f3e02", "5e0a1c77"]
    assert msg.apk_signing_version == 3
    assert not msg.is_system and msg.is_privileged is False


def test_dumpsys_disabled_by_user_state() -> None:
    pkgs = _by_name(parse_dumpsys_package(raw("android10", "dumpsys_package")))
    fm = pkgs["com.kestrel.fmradio"]
    assert fm.users[0].enabled == 3 and fm.users[0].enabled_state == "disabled_user"
    assert fm.enabled is False
    assert pkgs["com.vendor.appstore"].enabled is True
    # system apps have no /data/app base.apk and no pm path here: nothing is guessed
    assert pkgs["com.kestrel.fmradio"].apk_paths == []


def test_dumpsys_android7_old_formats_and_shared_user_permissions() -> None:
    problems: list[ParseProblem] = []
    pkgs = _by_name(parse_dumpsys_package(raw("android7", "dumpsys_package"), problems))
    assert problems == []
    cm = pkgs["com.vendor.cloudmsg"]
    assert (cm.version_code, cm.min_sdk, cm.target_sdk) == (1, None, 19)  # N prints no minSdk
    assert cm.signature_hashes == ["f9a831e6"]  # PackageSignatures{hash [sig]}
    assert cm.is_privileged and cm.is_system and not cm.is_updated_system
    # Android 7 prints install permissions of shared-UID packages under "Shared users:"
    assert "android.permission.READ_PRIVILEGED_PHONE_STATE" in cm.install_permissions
    assert cm.installed_users == [0, 10]
    assert cm.users[1].granted_runtime_permissions == ["android.permission.READ_PHONE_STATE"]
    assert cm.users[1].not_launched is True
    assert "android.permission.READ_SMS" in cm.granted_runtime_permissions
    store = pkgs["com.vendor.appstore"]
    assert store.installed_users == [0]  # "User 10: ... installed=false"
    wv = pkgs["com.google.android.webview"]
    assert wv.is_updated_system and wv.factory_code_path == "/system/app/WebViewGoogle"
    assert wv.factory_version_code == 295115052
    assert wv.apk_paths == ["/data/app/com.google.android.webview-2/base.apk"]
    fl = pkgs["com.brightlight.flashlight"]
    # a legacy (targetSdk 22) app: dangerous permissions are install-time grants on Android 7
    assert "android.permission.READ_PHONE_STATE" in fl.install_permissions


def test_dumpsys_android12_multi_user_and_disabled_in_profile() -> None:
    pkgs = _by_name(parse_dumpsys_package(raw("android12", "dumpsys_package")))
    msg = pkgs["com.popular.messenger"]
    assert msg.installed_users == [0, 10]
    assert [u.enabled_state for u in msg.users] == ["default", "disabled"]
    assert msg.users[1].denied_runtime_permissions == ["android.permission.READ_CONTACTS"]
    assert msg.apk_paths[1].endswith("/com.popular.messenger-Kp0Wm1Cq2Hs3Jt4Lu5Nv6A==/split_config.arm64_v8a.apk")
    cm = pkgs["com.vendor.cloudmsg"]
    assert "android.permission.READ_CALL_LOG" in cm.granted_runtime_permissions
    assert "android.permission.READ_PRIVILEGED_PHONE_STATE" in cm.install_permissions
    assert pkgs["com.vendor.appstore"].granted_runtime_permissions == []


def test_dumpsys_android14_app_id_per_user_install_time_and_factory_privilege() -> None:
    problems: list[ParseProblem] = []
    pkgs = _by_name(parse_dumpsys_package(raw("android14", "dumpsys_package"), problems))
    assert problems == []
    cm = pkgs["com.vendor.cloudmsg"]
    assert cm.uid == 1000  # "appId=" on Android 14
    # no package-level firstInstallTime on 14: user 0's is used, not user 10's (not installed there)
    assert cm.first_install_time == datetime(2023, 11, 20, 9, 0, 0)
    assert cm.users[0].first_install_time_raw == "2023-11-20 09:00:00"
    assert cm.installed_users == [0]
    # the update lost PRIVILEGED in its own flags; the factory copy in /system/priv-app has it
    assert cm.is_updated_system and cm.is_privileged
    assert cm.factory_code_path == "/system/priv-app/CloudMsg" and cm.factory_version_code == 5
    assert cm.users[0].denied_runtime_permissions == ["android.permission.POST_NOTIFICATIONS"]
    assert cm.apk_paths[1].endswith("/split_config.arm64_v8a.apk")
    store = pkgs["com.vendor.appstore"]
    assert store.uid == 10154 and store.is_privileged
    assert store.users[1].enabled_state == "disabled_until_used"
    assert "android.permission.INSTALL_PACKAGES" in store.install_permissions
    msg = pkgs["com.popular.messenger"]
    assert msg.first_install_time == datetime(2024, 1, 5, 10, 31, 9)
    assert msg.granted_runtime_permissions == ["android.permission.READ_CONTACTS",
                                               "android.permission.POST_NOTIFICATIONS",
                                               "android.permission.READ_MEDIA_IMAGES"]


def test_dumpsys_sections_keep_hidden_and_shared_users() -> None:
    dump = parse_dumpsys_package_sections(raw("android7", "dumpsys_package"))
    assert [p.name for p in dump.hidden_system] == ["com.google.android.webview"]
    assert [s.name for s in dump.shared_users] == ["android.uid.system"]
    assert dump.shared_users[0].uid == 1000


def test_dumpsys_truncated_block_is_reported() -> None:
    text = raw("android10", "dumpsys_package")
    cut = text.index("    codePath=/data/app/com.popular.messenger")
    problems: list[ParseProblem] = []
    pkgs = _by_name(parse_dumpsys_package(text[:cut], problems))
    assert "com.popular.messenger" in pkgs  # kept, with what was there
    assert pkgs["com.popular.messenger"].uid == 10112
    assert pkgs["com.popular.messenger"].is_system is None  # its flags line was cut off: unknown, not False
    assert any("com.popular.messenger" in p.reason and "codePath" in p.reason for p in problems)
    assert "com.vendor.cloudmsg" in pkgs


def test_dumpsys_garbage_and_permission_denial() -> None:
    problems: list[ParseProblem] = []
    assert parse_dumpsys_package("\x00\x01 garbage ][\n", problems) == []
    assert any("no 'Packages:' section" in p.reason for p in problems)
    problems = []
    denial = "Permission Denial: can't dump PackageManager from from pid=4180, uid=2000 without permission android.permission.DUMP\n"
    assert parse_dumpsys_package(denial, problems) == []
    assert problems[0].reason.startswith("dumpsys refused")


def test_dumpsys_unreadable_time_and_permission_lines() -> None:
    text = (
        "Packages:\n"
        "  Package [com.x] (1a2b):\n"
        "    userId=10200\n"
        "    codePath=/data/app/com.x-1\n"
        "    firstInstallTime=yesterday\n"
        "    install permissions:\n"
        "      android.permission.INTERNET granted\n"
    )
    problems: list[ParseProblem] = []
    (rec,) = parse_dumpsys_package(text, problems)
    assert rec.first_install_time is None and rec.first_install_time_raw == "yesterday"
    assert sorted(p.line for p in problems if p.line) == [5, 7]


# ------------------------------------------------------------------------------------------- merge


def test_merge_prefers_pm_base_path_and_keeps_one_sided_packages() -> None:
    listed = parse_pm_list_packages(raw("android14", "pm_list_packages"))
    dumped = parse_dumpsys_package(raw("android14", "dumpsys_package"))
    problems: list[ParseProblem] = []
    merged = _by_name(merge_packages(listed, dumped, problems))
    assert problems == []
    assert merged["android"].sources == ["pm_list_packages"]  # not in this dumpsys: kept anyway
    store = merged["com.vendor.appstore"]
    assert store.apk_paths == ["/product/priv-app/AppMarket/AppMarket.apk"]  # system path from pm
    assert store.sources == ["pm_list_packages", "dumpsys_package"]


def test_merge_reports_uid_disagreement() -> None:
    listed = parse_pm_list_packages("package:/data/app/com.x-1/base.apk=com.x uid:10300\n")
    dumped = [PackageRecord(name="com.x", uid=10301, code_path="/data/app/com.x-1")]
    problems: list[ParseProblem] = []
    (rec,) = merge_packages(listed, dumped, problems)
    assert rec.uid == 10301
    assert "10300" in problems[0].reason and "10301" in problems[0].reason


def test_derived_paths_do_not_guess_system_split_names() -> None:
    rec = PackageRecord(name="com.x", code_path="/system/app/X", splits=["base", "config.en"])
    assert derived_apk_paths(rec) == []
    assert derived_apk_paths(rec, "/system/app/X/X.apk") == ["/system/app/X/X.apk"]


# ------------------------------------------------------------------------------------------- signer hash


@pytest.mark.parametrize("key", ["dev", "other"])
def test_java_signature_hash_matches_the_dumpsys_samples(key: str) -> None:
    der = ssl.PEM_cert_to_DER_cert((REPO / "fixtures" / "keys" / f"{key}.cert.pem").read_text())
    expected = {"dev": "f9a831e6", "other": "2dbd39a0"}[key]
    assert java_signature_hash(der) == expected
    assert len(hashlib.sha256(der).hexdigest()) == 64


def test_java_signature_hash_known_values() -> None:
    # java.util.Arrays.hashCode(new byte[0]) == 1; {(byte)0xff} == 31 + (-1) == 30; overflow wraps to 32 bits
    assert java_signature_hash(b"") == "1"
    assert java_signature_hash(b"\xff") == "1e"
    assert java_signature_hash(b"\x80" * 16) == format(_java_ref(b"\x80" * 16), "x")


def _java_ref(data: bytes) -> int:
    h = 1
    for b in data:
        h = (31 * h + (b if b < 128 else b - 256))
        h = ((h + 2**31) % 2**32) - 2**31  # Java int overflow
    return h & 0xFFFFFFFF


def test_certificate_digests_are_kept_when_printed() -> None:
    # Some builds (OEM dumpsys extensions) print the signer's SHA-256; it is kept in canonical lowercase hex.
    digest = "7B:40:F3:35:D0:B1:1B:A8:83:9D:F4:73:AF:5C:94:3C:5C:17:62:F7:86:44:48:FF:C2:93:73:0E:33:EB:E9:FF"
    text = (
        "Packages:\n"
        "  Package [com.x] (1a2b):\n"
        "    userId=10200\n"
        "    codePath=/data/app/com.x-1\n"
        f"    Signing certificate SHA-256 digest: {digest}\n"
    )
    (rec,) = parse_dumpsys_package(text)
    assert rec.signing_cert_sha256 == ["7b40f335d0b11ba8839df473af5c943c5c1762f7864448ffc293730e33ebe9ff"]


def test_system_app_uninstalled_for_owner_is_still_inventoried() -> None:
    # `pm uninstall --user 0` (a common way to "remove" preinstalled apps) leaves the APK in the image:
    # pm list packages no longer shows it, dumpsys does.
    listed = parse_pm_list_packages(raw("android12", "pm_list_packages"))
    assert "com.kestrel.analytics" not in {p.name for p in listed}
    dumped = parse_dumpsys_package(raw("android12", "dumpsys_package"))
    merged = _by_name(merge_packages(listed, dumped))
    an = merged["com.kestrel.analytics"]
    assert an.sources == ["dumpsys_package"]
    assert an.installed_users == [10]
    assert an.users[1].hidden is True and an.users[0].installed is False
    assert an.is_privileged and an.code_path == "/system_ext/priv-app/KestrelAnalytics"
    assert "android.permission.PACKAGE_USAGE_STATS" in an.install_permissions
    assert an.apk_paths == []  # the file name inside a system partition is not guessed
