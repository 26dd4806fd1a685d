"""Firmware test fixtures: source trees with real fixture APKs, and real images built from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.acquisition.firmware import writers
from toolkit.acquisition.firmware.vdex import write_vdex027

REPO = Path(__file__).resolve().parents[3]
APKS = REPO / "fixtures" / "apks"

SYSTEM_PROPS = """# begin build properties
ro.build.id=UQ1A.240105.004
ro.build.version.release=14
ro.build.version.sdk=34
ro.build.version.security_patch=2024-01-05
ro.product.system.brand=acme
ro.product.system.model=Acme One
ro.product.system.manufacturer=Acme Mobile
ro.product.system.device=acmeone
ro.build.fingerprint=acme/acmeone/acmeone:14/UQ1A.240105.004/1:user/release-keys
import /oem/oem.prop
"""
VENDOR_PROPS = """ro.product.vendor.brand=acme
ro.build.fingerprint=vendor/should/not:win
ro.vendor.build.security_patch=2024-01-01
"""


def need(*tools: str) -> None:
    for t in tools:
        if not writers.have(t):
            pytest.skip(f"{t} is not installed (apt-get install e2fsprogs erofs-utils android-sdk-libsparse-utils)")


@pytest.fixture(scope="session")
def system_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A system-as-root tree: two apps with code, a stripped app with vdex 027, an odexed app, symlinks."""
    root = tmp_path_factory.mktemp("system_tree")
    sysd = root / "system"
    (sysd / "app" / "Flashlight").mkdir(parents=True)
    shutil.copy(APKS / "flashlight.apk", sysd / "app" / "Flashlight" / "Flashlight.apk")
    (sysd / "priv-app" / "DeviceReport").mkdir(parents=True)
    shutil.copy(APKS / "imei_http_post.apk", sysd / "priv-app" / "DeviceReport" / "DeviceReport.apk")
    stripped = sysd / "app" / "SmsHelper"
    (stripped / "oat" / "arm64").mkdir(parents=True)
    dexes = writers.strip_dex(APKS / "imei_sms_binary.apk", stripped / "SmsHelper.apk")
    (stripped / "oat" / "arm64" / "SmsHelper.vdex").write_bytes(write_vdex027(dexes))
    old = sysd / "app" / "OldOdex"
    (old / "oat" / "arm").mkdir(parents=True)
    writers.strip_dex(APKS / "location_listener.apk", old / "OldOdex.apk")
    (old / "oat" / "arm" / "OldOdex.odex").write_bytes(b"\x7fELF" + bytes(60))
    (old / "oat" / "arm" / "OldOdex.vdex").write_bytes(b"vdex021\0" + bytes(40))
    (sysd / "build.prop").write_text(SYSTEM_PROPS)
    (sysd / "bin").mkdir()
    (sysd / "bin" / "toybox").write_bytes(b"\x7fELF toybox")
    (sysd / "bin" / "sh").symlink_to("toybox")
    (root / "escape").symlink_to("../../../../../etc/passwd")
    (sysd / "etc").mkdir()
    for i in range(120):  # enough entries for an htree directory
        (sysd / "etc" / f"file{i:03d}.xml").write_text(f"<x>{i}</x>\n" * (i % 7))
    return root


@pytest.fixture(scope="session")
def vendor_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vendor_tree")
    (root / "app" / "VendorSync").mkdir(parents=True)
    shutil.copy(APKS / "sms_forwarder.apk", root / "app" / "VendorSync" / "VendorSync.apk")
    (root / "build.prop").write_text(VENDOR_PROPS)
    return root


@pytest.fixture(scope="session")
def system_ext4(system_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("mke2fs", "debugfs")
    out = tmp_path_factory.mktemp("img") / "system.img"
    return writers.make_ext4(system_tree, out, size_mb=12, shared_blocks=True)


@pytest.fixture(scope="session")
def vendor_ext4(vendor_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("mke2fs")
    out = tmp_path_factory.mktemp("img") / "vendor.img"
    return writers.make_ext4(vendor_tree, out, size_mb=4)


@pytest.fixture(scope="session")
def vendor_erofs(vendor_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("mkfs.erofs", "fsck.erofs")
    out = tmp_path_factory.mktemp("img") / "vendor.erofs.img"
    return writers.make_erofs(vendor_tree, out)


@pytest.fixture(scope="session")
def system_sparse(system_ext4: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("img2simg")
    out = tmp_path_factory.mktemp("img") / "system.sparse.img"
    return writers.img2simg(system_ext4, out)
