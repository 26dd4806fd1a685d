"""Discovery: apps with device paths, build properties, stripped apps and vdex 027 recovery."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.acquisition.firmware.conftest import APKS
from tests.acquisition.firmware.helpers import apk_by_device_path, run
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.vdex import dex_from_vdex, write_vdex027


def test_vdex027_round_trip() -> None:
    with zipfile.ZipFile(APKS / "imei_sms_binary.apk") as z:
        dex = z.read("classes.dex")
    assert dex_from_vdex(write_vdex027([dex, dex]), "x.vdex") == [dex, dex]


def test_older_vdex_is_not_recoverable() -> None:
    with pytest.raises(FirmwareError, match="vdex version 021"):
        dex_from_vdex(b"vdex021\0" + bytes(64), "old.vdex")


def test_apps_props_and_stripped_code(system_ext4: Path, tmp_path: Path) -> None:
    info = run(system_ext4, tmp_path / "out")
    apps = apk_by_device_path(info)
    assert set(apps) == {
        "/system/app/Flashlight/Flashlight.apk", "/system/priv-app/DeviceReport/DeviceReport.apk",
        "/system/app/SmsHelper/SmsHelper.apk", "/system/app/OldOdex/OldOdex.apk",
    }
    helper = apps["/system/app/SmsHelper/SmsHelper.apk"]
    assert helper.code == "recovered_vdex"
    rebuilt = tmp_path / "out" / helper.analysis_path
    with zipfile.ZipFile(rebuilt) as z, zipfile.ZipFile(APKS / "imei_sms_binary.apk") as orig:
        assert z.read("classes.dex") == orig.read("classes.dex")
    assert helper.sha256 in (helper.code_note or "")  # the original's hash is kept
    old = apps["/system/app/OldOdex/OldOdex.apk"]
    assert old.code == "not_recoverable" and "vdex 021" in (old.code_note or "")
    assert "not an Android OAT file" in (old.code_note or "")
    assert apps["/system/app/Flashlight/Flashlight.apk"].code == "present"
    assert info.identity is not None
    assert (info.identity.brand, info.identity.model, info.identity.android_version) == ("acme", "Acme One", "14")
    assert info.identity.security_patch == "2024-01-05"
    assert info.properties["ro.build.id"] == "UQ1A.240105.004"


def test_ro_properties_first_definition_wins(system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    folder = tmp_path / "fw"
    folder.mkdir()
    (folder / "system.img").write_bytes(system_ext4.read_bytes())
    (folder / "vendor.img").write_bytes(vendor_ext4.read_bytes())
    info = run(folder, tmp_path / "out")
    assert info.properties["ro.build.fingerprint"].startswith("acme/acmeone")
    assert info.properties["ro.vendor.build.security_patch"] == "2024-01-01"
    assert {p.partition for p in info.build_props} == {"system", "vendor"}


def test_a_firmware_folder_with_an_unlistable_subfolder_says_so(tmp_path: Path) -> None:
    """A sub-folder whose path is longer than PATH_MAX cannot be listed (ENAMETOOLONG, even for root): the
    APK beside it is still found, and the folder that could not be read is an issue, not a silent gap."""
    import os
    import shutil

    from tests.acquisition.firmware.conftest import APKS

    folder = tmp_path / "fw"
    (folder / "system" / "app" / "Flash").mkdir(parents=True)
    shutil.copy(APKS / "flashlight.apk", folder / "system" / "app" / "Flash" / "Flash.apk")
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(22):  # 22 x 200 characters > 4096
            os.mkdir("d" * 200, dir_fd=fd)
            child = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    info = run(folder, tmp_path / "out")
    assert [a.path for a in info.apks] == ["files/system/app/Flash/Flash.apk"]
    unlisted = [i for i in info.issues if "folder not readable" in i.reason]
    assert len(unlisted) == 1 and unlisted[0].chain[0] == "fw" and unlisted[0].chain[1].startswith("d" * 200)
