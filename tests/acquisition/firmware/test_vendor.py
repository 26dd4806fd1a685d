"""Vendor packages: Huawei UPDATE.APP, OPPO/realme .ozip, MediaTek scatter folders, Samsung multi-file sets."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware import vendor
from toolkit.acquisition.firmware.dev import FileDev
from toolkit.acquisition.firmware.errors import FirmwareError

VENDOR_APP = "/vendor/app/VendorSync/VendorSync.apk"  # in the vendor_tree fixture


# -- Huawei UPDATE.APP ------------------------------------------------------------------------------------------
def test_crc16_x25_check_value() -> None:
    assert vendor.crc16_x25(b"123456789") == 0x906E  # the catalogued check value of CRC-16/X-25


def test_update_app_partitions(system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    fw = tmp_path / "UPDATE.APP"
    fw.write_bytes(vendor.write_update_app([("SYSTEM", system_ext4.read_bytes()), ("CUST", vendor_ext4.read_bytes()),
                                            ("VERSION", b"VIE-L29 8.0.0.360(C432)\n")]))
    dev = FileDev(fw)
    try:
        app = vendor.read_update_app(dev, "UPDATE.APP")
    finally:
        dev.close()
    assert [(i.name, i.size) for i in app.items] == [("SYSTEM", system_ext4.stat().st_size),
                                                      ("CUST", vendor_ext4.stat().st_size), ("VERSION", 24)]
    assert app.items[2].crc_ok is True and app.items[0].hardware == "HW7X"
    info = run(fw, tmp_path / "out")
    assert sorted(info.partitions) == ["cust", "system"], issues_text(info)
    apps = apk_by_device_path(info)
    assert "/system/app/Flashlight/Flashlight.apk" in apps
    assert apps["/cust/app/VendorSync/VendorSync.apk"].chain == [
        "UPDATE.APP", "CUST.img", "ext4:/app/VendorSync/VendorSync.apk"]
    top = next(c for c in info.containers if c.chain == ["UPDATE.APP"])
    assert top.kind == "updateapp" and "3 partitions" in (top.detail or "")
    assert (tmp_path / "out" / "files" / "VERSION.img").read_bytes().startswith(b"VIE-L29")  # content under files/


def test_update_app_in_a_zip_with_a_bad_crc_and_a_truncated_tail(vendor_ext4: Path, tmp_path: Path) -> None:
    blob = bytearray(vendor.write_update_app([("VERSION", b"x" * 5000), ("CUST", vendor_ext4.read_bytes())]))
    blob[92 + 98 + 4 + 10] ^= 0xFF  # one data byte of VERSION: its CRC no longer matches
    zpath = tmp_path / "update.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("UPDATE.APP", bytes(blob))
        z.writestr("cut/UPDATE.APP", bytes(blob[:5300]))
    info = run(zpath, tmp_path / "out")
    text = issues_text(info)
    assert "VERSION.img: CRC16 blocks do not match" in text
    assert "cut/UPDATE.APP: UPDATE.APP partition CUST claims" in text
    assert VENDOR_APP.replace("/vendor/", "/cust/") in apk_by_device_path(info)  # the rest was read


# -- OPPO .ozip ---------------------------------------------------------------------------------------------------
def _inner_zip(vendor_ext4: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("vendor.img", vendor_ext4.read_bytes())
        z.writestr("META-INF/com/android/metadata", "ota-type=BLOCK\n")
    return buf.getvalue()


def test_the_shipped_ozip_keys_each_name_their_published_source() -> None:
    doc = yaml.safe_load(vendor.KEYS_FILE.read_text("utf-8"))
    keys = vendor.ozip_keys()
    assert len(keys) == len(doc["keys"]) == len({k.key for k in keys})  # every entry read, no key twice
    for entry, key in zip(doc["keys"], keys, strict=True):
        # each names the repository and file it was published in; a key marked verified was compared with a source
        assert entry["sources"] and all(s["repository"] and s["file"] for s in entry["sources"]), entry
        assert key.verified is (entry.get("verified") is True)
        assert key.source.startswith(entry["sources"][0]["repository"])
        commits = [s["commit"] for s in entry["sources"] if s.get("commit")]
        assert all(len(c) == 40 and int(c, 16) >= 0 for c in commits), entry


def test_ozip_decrypts_with_a_shipped_key(vendor_ext4: Path, tmp_path: Path) -> None:
    keys = vendor.ozip_keys()
    fw = tmp_path / "CPH1607EX_11_OTA.ozip"
    fw.write_bytes(vendor.write_ozip(_inner_zip(vendor_ext4), keys[-1].key))
    info = run(fw, tmp_path / "out")
    assert info.partitions == ["vendor"], issues_text(info)
    assert VENDOR_APP in apk_by_device_path(info)
    top = next(c for c in info.containers if c.chain == [fw.name])
    assert top.kind == "ozip" and "AES-128-ECB" in (top.detail or "")
    assert keys[-1].models in (top.detail or "") and "not verified" not in (top.detail or "")


def test_ozip_with_an_unknown_key_is_one_clear_line(vendor_ext4: Path, tmp_path: Path) -> None:
    fw = tmp_path / "x.ozip"
    fw.write_bytes(vendor.write_ozip(_inner_zip(vendor_ext4), os.urandom(16)))
    info = run(fw, tmp_path / "out")
    assert len(info.issues) == 1
    assert "OPPO/realme .ozip (OPPOENCRYPT!) encrypted with a key phonehome does not know" in info.issues[0].reason
    with pytest.raises(FirmwareError, match="truncated"):
        fw.write_bytes(vendor.OZIP_MAGIC.ljust(0x1050, b"\0"))
        dev = FileDev(fw)
        try:
            vendor.ozip_key_for(dev, "x.ozip")
        finally:
            dev.close()


# -- MediaTek scatter ---------------------------------------------------------------------------------------------
SCATTER = """############################################################################################################
#  General Setting
############################################################################################################
- general: MTK_PLATFORM_CFG
  info:
    - config_version: V1.1.2
      platform: MT6765
      project: k65v1_64_bsp
      storage: EMMC
      boot_channel: MSDC_0
      block_size: 0x20000
############################################################################################################
#  Layout Setting
############################################################################################################
- partition_index: SYS0
  partition_name: preloader
  file_name: preloader_k65v1_64_bsp.bin
  is_download: true
  type: SV5_BL_BIN
  linear_start_addr: 0x0
  partition_size: 0x40000
- partition_index: SYS20
  partition_name: nvram
  file_name: NONE
  is_download: false
  type: NORMAL_ROM
- partition_index: SYS28
  partition_name: vendor
  file_name: vnd_k65.img
  is_download: true
  type: EXT4_IMG
- partition_index: SYS30
  partition_name: system
  file_name: sys_k65.img
  is_download: true
  type: EXT4_IMG
"""


def test_scatter_parser() -> None:
    sc = vendor.parse_scatter(SCATTER, "MT6765_Android_scatter.txt")
    assert (sc.platform, sc.version) == ("MT6765", "V1.1.2")
    assert sc.partition_of("sys_k65.img") == "system" and sc.partition_of("NONE") is None
    assert [p.name for p in sc.partitions] == ["preloader", "nvram", "vendor", "system"]
    with pytest.raises(FirmwareError, match="names no partition"):
        vendor.parse_scatter("- general: MTK_PLATFORM_CFG\n", "x_Android_scatter.txt")


def test_mediatek_scatter_folder_names_the_partitions(system_sparse: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "k65v1_64_bsp"
    pkg.mkdir()
    (pkg / "MT6765_Android_scatter.txt").write_text(SCATTER)
    (pkg / "sys_k65.img").write_bytes(system_sparse.read_bytes())
    (pkg / "vnd_k65.img").write_bytes(vendor_ext4.read_bytes())
    info = run(pkg, tmp_path / "out")
    assert sorted(info.partitions) == ["system", "vendor"], issues_text(info)
    apps = apk_by_device_path(info)
    assert VENDOR_APP in apps  # mounted at /vendor because the scatter says so, not because of the file name
    sc = next(c for c in info.containers if c.kind == "mtk_scatter")
    assert "platform MT6765" in (sc.detail or "") and "not in the package: preloader_k65v1_64_bsp.bin" in (sc.detail or "")


# -- Samsung: the five tar.md5 files as one firmware --------------------------------------------------------------
def test_samsung_folder_of_tar_md5_files(system_sparse: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "SM-A105F_A105FXXU9CWA1"
    pkg.mkdir()
    writers.write_tar_md5(pkg / "AP_A105FXXU9CWA1.tar.md5", [("system.img", system_sparse.read_bytes())])
    writers.write_tar_md5(pkg / "BL_A105FXXU9CWA1.tar.md5", [("sboot.bin", b"\0" * 4096)])
    writers.write_tar_md5(pkg / "CP_A105FXXU9CWA1.tar.md5", [("modem.bin", b"\1" * 4096)])
    writers.write_tar_md5(pkg / "CSC_OXM_A105FOXM9CWA1.tar.md5", [("optics.img", vendor_ext4.read_bytes())])
    writers.write_tar_md5(pkg / "HOME_CSC_OXM_A105FOXM9CWA1.tar.md5", [("optics.img", vendor_ext4.read_bytes())])
    info = run(pkg, tmp_path / "out")
    assert not info.issues, issues_text(info)
    assert sorted(info.partitions) == ["optics", "optics", "system"]
    apps = apk_by_device_path(info)
    assert "/system/app/Flashlight/Flashlight.apk" in apps
    optics = [a for a in info.apks if a.device_path == "/optics/app/VendorSync/VendorSync.apk"]
    assert len(optics) == 2  # CSC and HOME_CSC each carry it; both are listed with their own chain
    assert {a.chain[1] for a in optics} == {"CSC_OXM_A105FOXM9CWA1.tar.md5", "HOME_CSC_OXM_A105FOXM9CWA1.tar.md5"}
