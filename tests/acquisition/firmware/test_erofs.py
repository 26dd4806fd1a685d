"""EROFS through erofs-utils, with the superblock feature check before it."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware.dev import FileDev
from toolkit.acquisition.firmware.erofs import check_superblock
from toolkit.acquisition.firmware.errors import FirmwareError


def test_erofs_image_unpacks(vendor_tree: Path, vendor_erofs: Path, tmp_path: Path) -> None:
    info = run(vendor_erofs, tmp_path / "out")
    assert info.partition_details[0].fs == "erofs", issues_text(info)
    apps = apk_by_device_path(info)
    apk = apps["/vendor/app/VendorSync/VendorSync.apk"]
    want = hashlib.sha256((vendor_tree / "app" / "VendorSync" / "VendorSync.apk").read_bytes()).hexdigest()
    assert apk.sha256 == want
    assert apk.chain == ["vendor.erofs.img", "erofs:/app/VendorSync/VendorSync.apk"]


def _with_incompat(src: Path, dst: Path, bits: int) -> Path:
    data = bytearray(src.read_bytes())
    old = struct.unpack_from("<I", data, 1024 + 80)[0]
    struct.pack_into("<I", data, 1024 + 80, old | bits)
    dst.write_bytes(bytes(data))
    return dst


def test_newer_feature_names_the_erofs_utils_version(vendor_erofs: Path, tmp_path: Path) -> None:
    img = _with_incompat(vendor_erofs, tmp_path / "new.img", 0x40)  # xattr_prefixes
    with pytest.raises(FirmwareError, match=r"xattr_prefixes.*erofs-utils 1\.7 or newer \(installed: 1\.5\)"):
        check_superblock(FileDev(img), "1.5")
    info = run(img, tmp_path / "out")
    assert "erofs-utils" in issues_text(info)


def test_unknown_feature_bits(vendor_erofs: Path, tmp_path: Path) -> None:
    img = _with_incompat(vendor_erofs, tmp_path / "future.img", 0x8000)
    with pytest.raises(FirmwareError, match="unknown to phonehome"):
        check_superblock(FileDev(img), "1.5")


def test_erofs_partitions_in_payload_and_super(vendor_erofs: Path, system_ext4: Path, tmp_path: Path) -> None:
    from tests.acquisition.firmware import writers

    pay = writers.write_payload(tmp_path / "payload.bin", [("vendor", vendor_erofs.read_bytes())])
    info = run(writers.write_ota_zip(tmp_path / "ota.zip", pay), tmp_path / "out1")
    assert "/vendor/app/VendorSync/VendorSync.apk" in apk_by_device_path(info), issues_text(info)
    assert info.external_tools and info.external_tools[0].startswith("fsck.erofs")
    sup = writers.write_super(tmp_path / "super.img", [("system_a", system_ext4.read_bytes()),
                                                       ("vendor_a", vendor_erofs.read_bytes())])
    info = run(sup, tmp_path / "out2")
    assert {p.name: p.fs for p in info.partition_details} == {"system_a": "ext4", "vendor_a": "erofs"}
    assert "/vendor/app/VendorSync/VendorSync.apk" in apk_by_device_path(info), issues_text(info)
    assert not (tmp_path / "out2" / ".phonehome-tmp").exists()
