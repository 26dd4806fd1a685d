"""Samsung tar.md5 (MD5 trailer, LZ4 members) and Xiaomi fastboot .tgz."""

from __future__ import annotations

import subprocess
from pathlib import Path

import lz4.frame

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import need
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run


def test_tar_md5_with_lz4_members(system_sparse: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    fw = writers.write_tar_md5(tmp_path / "AP_X.tar.md5", [("system.img", system_sparse.read_bytes()),
                                                          ("vendor.img", vendor_ext4.read_bytes()),
                                                          ("boot.img", b"ANDROID!" + bytes(5000))])
    info = run(fw, tmp_path / "out")
    tar = next(c for c in info.containers if c.chain == ["AP_X.tar.md5"])
    assert (tar.kind, tar.detail) == ("tar.md5", "tar.md5: MD5 verified")
    assert info.issues == [], issues_text(info)
    apps = apk_by_device_path(info)
    assert apps["/system/app/Flashlight/Flashlight.apk"].chain == [
        "AP_X.tar.md5", "system.img.lz4", "system.img", "ext4:/system/app/Flashlight/Flashlight.apk"
    ]
    assert "/vendor/app/VendorSync/VendorSync.apk" in apps
    assert (tmp_path / "out" / "files" / "boot.img").read_bytes().startswith(b"ANDROID!")


def test_tar_md5_mismatch_is_reported_and_contents_still_read(vendor_ext4: Path, tmp_path: Path) -> None:
    fw = writers.write_tar_md5(tmp_path / "AP_Y.tar.md5", [("vendor.img", vendor_ext4.read_bytes())], corrupt=True)
    info = run(fw, tmp_path / "out")
    assert "checksum does not match" in issues_text(info)


def test_lz4_matches_the_lz4_tool(vendor_ext4: Path, tmp_path: Path) -> None:
    need("lz4")
    packed = tmp_path / "vendor.img.lz4"
    packed.write_bytes(lz4.frame.compress(vendor_ext4.read_bytes()))
    subprocess.run(["lz4", "-d", "-q", str(packed), str(tmp_path / "ref.img")], check=True)
    info = run(packed, tmp_path / "out")
    assert (tmp_path / "ref.img").read_bytes() == vendor_ext4.read_bytes()
    assert "/vendor/app/VendorSync/VendorSync.apk" in apk_by_device_path(info), issues_text(info)


def test_xiaomi_tgz_streamed(system_sparse: Path, tmp_path: Path) -> None:
    fw = writers.write_tgz(tmp_path / "acme_images_V14.tgz", [
        ("acme_images_V14/flash_all.sh", b"fastboot flash system system.img\n"),
        ("acme_images_V14/images/system.img", system_sparse.read_bytes()),
    ])
    info = run(fw, tmp_path / "out")
    apps = apk_by_device_path(info)
    assert apps["/system/app/Flashlight/Flashlight.apk"].chain[:3] == [
        "acme_images_V14.tgz", "acme_images_V14/images/system.img", "ext4:/system/app/Flashlight/Flashlight.apk"
    ], issues_text(info)
    assert (tmp_path / "out" / "files" / "acme_images_V14" / "flash_all.sh").is_file()


def test_tgz_bomb_member_is_stopped(tmp_path: Path) -> None:
    import io
    import tarfile

    fw = tmp_path / "bomb.tgz"
    with tarfile.open(fw, "w:gz", compresslevel=9) as tf:
        ti = tarfile.TarInfo("images/zeros.img")
        ti.size = 256 << 20
        tf.addfile(ti, io.BytesIO(bytes(ti.size)))
    info = run(fw, tmp_path / "out")
    assert "compression bomb" in issues_text(info)
    assert not (tmp_path / "out" / "files" / "images" / "zeros.img").exists()


def test_unknown_input_is_reported(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just text")
    info = run(junk, tmp_path / "out")
    assert "not a firmware format" in issues_text(info)


def test_truncated_tar_md5_keeps_what_was_read_and_says_where_it_broke(vendor_ext4: Path, tmp_path: Path) -> None:
    whole = writers.write_tar_md5(tmp_path / "AP_Z.tar.md5", [("vendor.img", vendor_ext4.read_bytes()),
                                                             ("boot.img", b"ANDROID!" + bytes(300_000))],
                                  lz4_members=False)
    data = whole.read_bytes()
    first_end = 512 + ((len(vendor_ext4.read_bytes()) + 511) // 512) * 512
    # Cut inside the second member's header (tarfile alone would end there quietly) and inside its data.
    for cut_at in (first_end + 100, first_end + 512 + 1000):
        cut = tmp_path / f"AP_Z_cut{cut_at}.tar.md5"
        cut.write_bytes(data[:cut_at])
        info = run(cut, tmp_path / f"out{cut_at}")
        assert "damaged tar archive" in issues_text(info), cut_at
        assert "/vendor/app/VendorSync/VendorSync.apk" in apk_by_device_path(info)


def test_a_fake_apk_in_an_image_is_an_issue_not_silently_dropped(vendor_tree: Path, tmp_path: Path) -> None:
    import shutil

    need("mke2fs")
    root = tmp_path / "root"
    shutil.copytree(vendor_tree, root)
    (root / "priv-app" / "X").mkdir(parents=True)
    (root / "priv-app" / "X" / "X.apk").write_bytes(b"\x8f" * 5000)
    (root / "app" / "NoManifest").mkdir(parents=True)
    import zipfile

    with zipfile.ZipFile(root / "app" / "NoManifest" / "NoManifest.apk", "w") as z:
        z.writestr("hello.txt", "not an app")
    image = writers.make_ext4(root, tmp_path / "vendor.img", size_mb=4)
    info = run(image, tmp_path / "out")
    text = issues_text(info)
    assert "X.apk" in text and "not an APK: no zip signature" in text
    assert "NoManifest.apk" in text and "no AndroidManifest.xml" in text
