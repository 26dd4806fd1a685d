"""Zips: nesting to any depth, APEX, and safety (traversal, absolute names, symlinks, bombs, limits)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import APKS, need
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware.limits import Limits


def test_factory_zip_with_nested_image_zip(system_sparse: Path, vendor_erofs: Path, tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(system_sparse, "system.img")
        z.write(vendor_erofs, "vendor.img")
        z.writestr("android-info.txt", "require board=acme\n")
    outer = tmp_path / "acme-factory.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("acme-uq1a/flash-all.sh", "#!/bin/sh\n")
        z.writestr("acme-uq1a/image-acme-uq1a.zip", inner.getvalue())
    info = run(outer, tmp_path / "out")
    apps = apk_by_device_path(info)
    assert apps["/system/app/Flashlight/Flashlight.apk"].chain == [
        "acme-factory.zip", "acme-uq1a/image-acme-uq1a.zip", "system.img", "ext4:/system/app/Flashlight/Flashlight.apk"
    ], issues_text(info)
    assert apps["/vendor/app/VendorSync/VendorSync.apk"].chain[-1] == "erofs:/app/VendorSync/VendorSync.apk"
    assert not (tmp_path / "out" / ".phonehome-tmp").exists()  # temporary space cleaned up


def test_apex_inside_ext4(tmp_path: Path) -> None:
    need("mke2fs")
    payload_src = tmp_path / "apex_src"
    (payload_src / "app" / "Perm").mkdir(parents=True)
    shutil.copy(APKS / "contacts_backup.apk", payload_src / "app" / "Perm" / "Perm.apk")
    apex_img = writers.make_ext4(payload_src, tmp_path / "apex_payload.img", size_mb=2)
    sys_src = tmp_path / "sys"
    (sys_src / "apex").mkdir(parents=True)
    writers.write_apex(sys_src / "apex" / "com.acme.perm.apex", apex_img)
    img = writers.make_ext4(sys_src, tmp_path / "system_ext.img", size_mb=6)
    info = run(img, tmp_path / "out")
    apps = apk_by_device_path(info)
    apk = apps["/apex/com.acme.perm/app/Perm/Perm.apk"]
    assert apk.chain == ["system_ext.img", "ext4:/apex/com.acme.perm.apex", "apex_payload.img",
                         "ext4:/app/Perm/Perm.apk"], issues_text(info)
    assert apk.partition == "apex/com.acme.perm"
    assert (tmp_path / "out" / "files" / "apex" / "com.acme.perm.apex").is_file()  # the APEX itself stays as found


def test_traversal_absolute_and_symlink_members(tmp_path: Path) -> None:
    fw = tmp_path / "evil.zip"
    with zipfile.ZipFile(fw, "w") as z:
        z.writestr("../../escape.txt", "x")
        z.writestr("/etc/cron.d/evil", "x")
        z.writestr("ok/file.txt", "fine")
        link = zipfile.ZipInfo("ok/link")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "../../../../etc/passwd")
        z.writestr("ok/link/inside.txt", "through the link")
    out = tmp_path / "out"
    info = run(fw, out)
    text = issues_text(info)
    assert "escape the output directory" in text and "absolute path" in text
    assert (out / "files" / "ok" / "file.txt").read_text() == "fine"
    assert not (out / "files" / "ok" / "link").is_symlink()
    assert [s.target for s in info.symlinks] == ["../../../../etc/passwd"]
    assert not (tmp_path / "escape.txt").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"evil.zip", "out"}


def test_zip_bomb_is_stopped(tmp_path: Path) -> None:
    fw = tmp_path / "bomb.zip"
    with zipfile.ZipFile(fw, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("zeros.bin", bytes(64 << 20))
    info = run(fw, tmp_path / "out", Limits(ratio_floor=1 << 20))
    assert "compression bomb" in issues_text(info)
    assert not (tmp_path / "out" / "files" / "zeros.bin").exists()


def test_nesting_depth_limit(tmp_path: Path) -> None:
    data = b"innermost"
    for i in range(6):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"level{i}.zip" if i else "leaf.txt", data)
        data = buf.getvalue()
    fw = tmp_path / "deep.zip"
    fw.write_bytes(data)
    info = run(fw, tmp_path / "out", Limits(max_depth=3))
    assert "nested more than 3 levels" in issues_text(info)


def test_damaged_zip_member_reported_rest_extracted(tmp_path: Path) -> None:
    fw = tmp_path / "fw.zip"
    with zipfile.ZipFile(fw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", "A" * 5000)
        z.writestr("b.txt", "B" * 5000)
    data = bytearray(fw.read_bytes())
    data[36:38] = b"\xff\xff"  # break a.txt's deflate stream (its data starts at byte 35)
    fw.write_bytes(bytes(data))
    info = run(fw, tmp_path / "out")
    assert any(i.chain[-1] == "a.txt" for i in info.issues), issues_text(info)
    assert (tmp_path / "out" / "files" / "b.txt").read_text() == "B" * 5000


def test_damaged_member_is_an_issue_and_its_neighbour_is_still_read(tmp_path: Path) -> None:
    fw = tmp_path / "fw.zip"
    good, bad = (APKS / "flashlight.apk").read_bytes(), (APKS / "cloudmsg.apk").read_bytes()
    with zipfile.ZipFile(fw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("system/app/Good/Good.apk", good)
        z.writestr("system/app/Bad/Bad.apk", bad)
    with zipfile.ZipFile(fw) as z:
        member = z.getinfo("system/app/Bad/Bad.apk")
    data = bytearray(fw.read_bytes())
    # One stored bit of Bad.apk's compressed data flipped: the inflated bytes no longer match the member's CRC-32.
    start = member.header_offset + 30 + len(member.filename.encode())
    data[start + member.compress_size // 2] ^= 0x01
    fw.write_bytes(bytes(data))
    info = run(fw, tmp_path / "out")
    # zlib reports the flipped bit either as bad deflate data or, once inflated, as a CRC-32 mismatch
    assert "damaged zip member: Bad CRC-32" in issues_text(info) or "compressed data is damaged" in issues_text(info)
    assert [i.chain for i in info.issues] == [["fw.zip", "system/app/Bad/Bad.apk"]]
    assert (tmp_path / "out" / "files" / "system" / "app" / "Good" / "Good.apk").read_bytes() == good
    assert not (tmp_path / "out" / "files" / "system" / "app" / "Bad" / "Bad.apk").exists()  # no half-written copy
