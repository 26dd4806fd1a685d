"""Hostile firmware (issue 12, items 6-11): duplicate members, names that take phonehome's own files, deep
nesting, bombs that amplify disk use. Every input is built here with zipfile, mke2fs -d or the payload writer."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import APKS, need
from tests.acquisition.firmware.helpers import issues_text, run
from toolkit.acquisition.files import make_dirs, remove_tree, walk
from toolkit.acquisition.firmware.dev import FileDev
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.limits import Budget, Limits
from toolkit.cli.main import app

runner = CliRunner()
LEAKY, CLEAN = APKS / "imei_http_post.apk", APKS / "flashlight.apk"
EVIL = "system/app/Evil/Evil.apk"


def _dup_zip(path: Path, compress: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compress) as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr(EVIL, LEAKY.read_bytes())  # leaky first ...
        z.writestr(EVIL, CLEAN.read_bytes())  # ... clean second: a "last one wins" reader sees only this one
    return path


# -- 6: duplicate member names -------------------------------------------------------------------
@pytest.mark.parametrize("compress", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_duplicate_member_names_keep_every_copy_with_its_own_provenance(tmp_path: Path, compress: int) -> None:
    info = run(_dup_zip(tmp_path / "fw.zip", compress), tmp_path / "out")
    by_chain = {tuple(a.chain): a for a in info.apks}
    assert set(by_chain) == {("fw.zip", EVIL), ("fw.zip", f"{EVIL} (copy 2 of 2)")}, issues_text(info)
    first, second = by_chain[("fw.zip", EVIL)], by_chain[("fw.zip", f"{EVIL} (copy 2 of 2)")]
    assert first.sha256 != second.sha256
    assert (tmp_path / "out" / first.path).read_bytes() == LEAKY.read_bytes()
    assert (tmp_path / "out" / second.path).read_bytes() == CLEAN.read_bytes()
    dup = [i for i in info.issues if "duplicate member name" in i.reason]
    assert len(dup) == 1 and dup[0].chain == ["fw.zip", EVIL] and "2 members" in dup[0].reason


def test_duplicate_member_in_a_tar_is_kept_too(tmp_path: Path) -> None:
    fw = writers.write_tar_md5(tmp_path / "fw.tar.md5", [("a.txt", b"first"), ("a.txt", b"second")],
                               lz4_members=False)
    info = run(fw, tmp_path / "out")
    assert "duplicate member name" in issues_text(info)
    assert (tmp_path / "out" / "files" / "a.txt").read_bytes() == b"first"
    assert (tmp_path / "out" / "files" / "a.txt.copy2" / "a.txt").read_bytes() == b"second"


def test_firmware_scan_of_duplicate_members_reports_the_leaky_copy(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["firmware", "scan", str(_dup_zip(tmp_path / "fw.zip")), "--format", "json",
                              "--output", str(report), "-j", "1", "--no-cache"])
    r = json.loads(report.read_text())
    assert res.exit_code == 1, res.output  # the leak in the first copy is found: not "clean", exit 0
    chains = {tuple(a["provenance"]["chain"]): a for a in r["apks"]}
    assert chains[("fw.zip", EVIL)]["findings"]
    assert ("fw.zip", f"{EVIL} (copy 2 of 2)") in chains
    assert any("duplicate member name" in e["reason"] for e in r["input_errors"])


# -- 7 and 8: names that would take phonehome's own files -----------------------------------------
def test_member_named_firmware_json_folder_does_not_break_extract(tmp_path: Path) -> None:
    fw = tmp_path / "fw.zip"
    with zipfile.ZipFile(fw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("firmware.json/x.txt", "mine")
        z.writestr(EVIL, CLEAN.read_bytes())
    out = tmp_path / "out"
    res = runner.invoke(app, ["firmware", "extract", str(fw), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "firmware.json").read_text())["file"] == str(fw)
    assert (out / "files" / "firmware.json" / "x.txt").read_text() == "mine"


def test_member_named_firmware_json_is_not_overwritten(tmp_path: Path) -> None:
    fw = tmp_path / "fw.zip"
    with zipfile.ZipFile(fw, "w") as z:
        z.writestr("firmware.json", '{"file": "forged"}')
    out = tmp_path / "out"
    runner.invoke(app, ["firmware", "extract", str(fw), "--out", str(out)])
    assert json.loads((out / "firmware.json").read_text())["file"] == str(fw)  # phonehome's summary
    assert (out / "files" / "firmware.json").read_text() == '{"file": "forged"}'  # the member, kept as found


@pytest.mark.parametrize("member", [".phonehome-tmp", ".phonehome-tmp/x", "_recovered/system/app/A/A.apk"])
def test_members_named_like_phonehome_folders(tmp_path: Path, member: str) -> None:
    fw = tmp_path / "fw.zip"
    with zipfile.ZipFile(fw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member, CLEAN.read_bytes() if member.endswith(".apk") else b"x")
        z.writestr(EVIL, LEAKY.read_bytes())  # deflated: goes through the temporary space
    info = run(fw, tmp_path / "out")
    assert not info.issues, issues_text(info)
    found = {a.chain[-1] for a in info.apks}
    assert EVIL in found
    if member.endswith(".apk"):
        assert member in found  # not hidden because its name is that of phonehome's recovered-code folder
    assert not (tmp_path / "out" / ".phonehome-tmp").exists()


# -- 9: deep nesting ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deep_ext4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("mke2fs")
    t = tmp_path_factory.mktemp("deep")
    src = t / "src"
    deep = src / os.path.join(*["d"] * 1000)
    make_dirs(deep)
    shutil.copy(LEAKY, deep / "Deep.apk")
    (src / "system").mkdir()
    (src / "system" / "build.prop").write_text("ro.product.system.brand=acme\n")
    img = writers.make_ext4(src, t / "deep.img", size_mb=16)
    remove_tree(src)
    return img


def test_walk_and_remove_tree_do_not_recurse(tmp_path: Path) -> None:
    deep = tmp_path / os.path.join(*["d"] * 1100)
    make_dirs(deep)
    (deep / "f").write_text("x")
    (tmp_path / "d" / "link").symlink_to(tmp_path)  # never followed
    seen = [(d, files) for d, _dirs, files in walk(tmp_path)]
    assert len(seen) == 1101 and seen[-1][1] == ["f"]
    assert remove_tree(tmp_path / "d") and not (tmp_path / "d").exists()


def test_extract_of_1000_nested_folders(deep_ext4: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    try:
        res = runner.invoke(app, ["firmware", "extract", str(deep_ext4), "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
        apks = json.loads((out / "firmware.json").read_text())["apks"]
        assert [a["device_path"].count("/d") for a in apks] == [1000]
    finally:
        remove_tree(out)  # pytest's own clean-up of old temporary folders would recurse into it


def test_scan_of_1000_nested_folders_reports_and_cleans_up(deep_ext4: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["firmware", "scan", str(deep_ext4), "--format", "json", "--output", str(report),
                              "-j", "1", "--no-cache"])
    assert res.exit_code == 1, res.output  # the leaky APK at the bottom is analysed
    assert json.loads(report.read_text())["apks"][0]["findings"]
    assert not [p for p in scratch.iterdir() if p.name.startswith("phonehome-fw-")]


def test_temporary_space_is_removed_when_a_limit_stops_the_run(system_ext4: Path, tmp_path: Path) -> None:
    fw = tmp_path / "fw.zip"
    with zipfile.ZipFile(fw, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(system_ext4, "system.img")  # deflated: copied to the temporary space first
    info = run(fw, tmp_path / "out", Limits(max_output_bytes=1 << 20))
    assert "output limit" in issues_text(info)
    assert not (tmp_path / "out" / ".phonehome-tmp").exists()


# -- 11: disk amplification -----------------------------------------------------------------------
def _zeros_zip(path: Path, members: int, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for i in range(members):
            z.writestr(f"blob{i:03d}.bin", bytes(size))
    return path


def test_total_output_is_bounded_relative_to_the_input(tmp_path: Path) -> None:
    # Each member is below the per-member ratio floor, so no ratio check fires: only the total can stop it.
    fw = _zeros_zip(tmp_path / "amp.zip", 64, 1 << 20)
    limits = Limits(expansion_floor=4 << 20, max_expansion=20)
    info = run(fw, tmp_path / "out", limits)
    text = issues_text(info)
    assert "unpacking stopped at amp.zip > blob" in text and "20 times the input" in text, text
    assert "--max-expansion" in text
    assert info.bytes_written <= 4 << 20
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= 4 << 20


def test_the_absolute_cap_is_named_when_it_stops_the_run(tmp_path: Path) -> None:
    fw = _zeros_zip(tmp_path / "amp.zip", 8, 1 << 20)
    info = run(fw, tmp_path / "out", Limits(max_output_bytes=3 << 20))
    assert "output limit of 3145728 bytes" in issues_text(info) and "--max-output" in issues_text(info)


def test_scan_writes_only_what_the_apk_analysis_reads(system_ext4: Path, tmp_path: Path) -> None:
    from toolkit.acquisition.firmware import unpack

    info = unpack(system_ext4, tmp_path / "out", only_needed=True)
    files = tmp_path / "out" / "files"
    assert (files / "system" / "app" / "Flashlight" / "Flashlight.apk").is_file()
    assert (files / "system" / "build.prop").is_file()
    assert (files / "system" / "app" / "SmsHelper" / "oat" / "arm64" / "SmsHelper.vdex").is_file()
    assert not (files / "system" / "etc" / "file001.xml").exists()
    assert not (files / "system" / "bin" / "toybox").exists()
    assert info.skipped_files >= 121
    assert {a.device_path for a in info.apks} >= {"/system/app/Flashlight/Flashlight.apk"}
    full = unpack(system_ext4, tmp_path / "full")
    assert full.skipped_files == 0 and (tmp_path / "full" / "files" / "system" / "etc" / "file001.xml").is_file()
    assert [a.sha256 for a in full.apks] == [a.sha256 for a in info.apks]


# -- 10: payload.bin ZSTD bomb -------------------------------------------------------------------
def test_payload_zstd_bomb_is_streamed_and_stopped_by_the_ratio_check(tmp_path: Path) -> None:
    import resource

    pay = writers.write_zstd_bomb_payload(tmp_path / "payload.bin", 2 << 30)  # 2 GiB of zeros in one operation
    assert pay.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The relative cap would stop the 2 GiB partition before a byte is decompressed: lifted to reach the operation.
    info = run(pay, tmp_path / "out", Limits(max_expansion=1e6))
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) << 10
    text = issues_text(info)
    assert "payload.bin > system: expands" in text and "compression bomb" in text, text
    assert grown < 256 << 20  # streamed: nowhere near the 2 GiB the operation expands to
    assert info.peak_bytes <= (2 << 30) and not (tmp_path / "out" / ".phonehome-tmp").exists()


def test_payload_bomb_within_the_default_limits_is_stopped_by_the_relative_cap(tmp_path: Path) -> None:
    pay = writers.write_zstd_bomb_payload(tmp_path / "payload.bin", 1 << 30)
    info = run(pay, tmp_path / "out")
    assert "20 times the input" in issues_text(info)
    assert info.bytes_written == 0


def test_payload_operation_giving_more_than_its_extents_is_refused(tmp_path: Path) -> None:
    from toolkit.acquisition.firmware import payload as pl_mod

    pay = writers.write_zstd_bomb_payload(tmp_path / "payload.bin", 8 << 20)
    pl = pl_mod.open_payload(FileDev(pay))
    pl.partitions[0].ops[0].dst = [(0, 1)]  # the manifest now says one block: the data gives 2048
    with pytest.raises(FirmwareError, match="more than the 4096 bytes"):
        pl_mod.extract_partition(pl, pl.partitions[0], tmp_path / "p.img", Budget(Limits()))


def test_firmware_scan_with_no_apk_at_all_is_not_clean(tmp_path: Path) -> None:
    fw = _zeros_zip(tmp_path / "amp.zip", 4, 1 << 20)
    res = runner.invoke(app, ["firmware", "scan", str(fw), "-j", "1", "--no-cache"])
    assert res.exit_code == 2, res.output
    assert "no APK found in the firmware: nothing analysed" in res.output


def test_content_folder_named_like_phonehome_output_is_still_searched(tmp_path: Path) -> None:
    # Output folders phonehome makes are named X.extracted; a folder of the image named so must not be skipped.
    need("mke2fs")
    inner_src = tmp_path / "inner"
    (inner_src / "app" / "Hidden").mkdir(parents=True)
    shutil.copy(LEAKY, inner_src / "app" / "Hidden" / "Hidden.apk")
    outer_src = tmp_path / "outer"
    (outer_src / "odm.extracted").mkdir(parents=True)
    writers.make_ext4(inner_src, outer_src / "odm.extracted" / "odm.img", size_mb=2)
    img = writers.make_ext4(outer_src, tmp_path / "vendor.img", size_mb=6)
    info = run(img, tmp_path / "out")
    assert [a.chain for a in info.apks] == [["vendor.img", "ext4:/odm.extracted/odm.img", "ext4:/app/Hidden/Hidden.apk"]], \
        issues_text(info)
