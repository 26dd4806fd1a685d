"""ext4 reader against real images made by mke2fs -d (and cross-checked with debugfs)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import need
from toolkit.acquisition.firmware.dev import FileDev
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.ext4 import extract_ext4
from toolkit.acquisition.firmware.limits import Budget, Limits


def tree_hashes(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for fn in files:
            p = Path(dirpath) / fn
            if p.is_symlink():
                continue
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def extract(img: Path, out: Path, limits: Limits | None = None):  # type: ignore[no-untyped-def]
    dev = FileDev(img)
    try:
        return extract_ext4(dev, out, Budget(limits or Limits()), img.name)
    finally:
        dev.close()


def test_extracts_every_file_byte_for_byte(system_tree: Path, system_ext4: Path, tmp_path: Path) -> None:
    res = extract(system_ext4, tmp_path / "out")
    assert res.issues == []
    got = tree_hashes(tmp_path / "out")
    got.pop("lost+found", None)
    assert got == tree_hashes(system_tree)
    assert "shared_blocks" in res.detail


def test_symlinks_are_recorded_not_created(system_ext4: Path, tmp_path: Path) -> None:
    res = extract(system_ext4, tmp_path / "out")
    links = dict(res.symlinks)
    assert links["/system/bin/sh"] == "toybox"
    assert links["/escape"] == "../../../../../etc/passwd"
    assert not (tmp_path / "out" / "escape").exists() and not (tmp_path / "out" / "escape").is_symlink()
    assert not any(p.is_symlink() for p in (tmp_path / "out").rglob("*"))


@pytest.mark.parametrize(
    ("fs_type", "extra", "block_size"),
    [("ext2", (), 1024), ("ext4", ("-O", "inline_data"), 1024), ("ext4", ("-O", "^64bit,^metadata_csum"), 4096)],
)
def test_block_maps_inline_data_and_small_blocks(
    system_tree: Path, tmp_path: Path, fs_type: str, extra: tuple[str, ...], block_size: int
) -> None:
    need("mke2fs")
    img = writers.make_ext4(system_tree, tmp_path / "fs.img", size_mb=14, extra=extra, fs_type=fs_type,
                            block_size=block_size)
    res = extract(img, tmp_path / "out")
    assert res.issues == []
    got = tree_hashes(tmp_path / "out")
    assert got == tree_hashes(system_tree)


def test_matches_debugfs_rdump(system_ext4: Path, tmp_path: Path) -> None:
    need("debugfs")
    ref = tmp_path / "ref"
    ref.mkdir()
    subprocess.run(["debugfs", "-R", f"rdump / {ref}", str(system_ext4)], check=True, capture_output=True)
    extract(system_ext4, tmp_path / "ours")
    assert tree_hashes(tmp_path / "ours") == tree_hashes(ref)


def test_truncated_image_is_refused_with_a_reason(system_ext4: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.img"
    with open(system_ext4, "rb") as f:
        cut.write_bytes(f.read(2 * 1024 * 1024))
    with pytest.raises(FirmwareError, match="claims .* but the image holds only"):
        extract(cut, tmp_path / "out")


def test_output_limit_stops_extraction(system_ext4: Path, tmp_path: Path) -> None:
    with pytest.raises(FirmwareError, match="output limit"):
        extract(system_ext4, tmp_path / "out", Limits(max_output_bytes=20_000))


def test_damaged_inode_is_reported_and_the_rest_goes_on(system_tree: Path, tmp_path: Path) -> None:
    need("mke2fs", "debugfs")
    img = writers.make_ext4(system_tree, tmp_path / "fs.img", size_mb=12)
    # Point one file's first extent far past the end of the file system.
    out = subprocess.run(["debugfs", "-R", "stat /system/priv-app/DeviceReport/DeviceReport.apk", str(img)],
                         capture_output=True, text=True, check=True).stdout
    ino = int(out.split("Inode:")[1].split()[0])
    subprocess.run(["debugfs", "-w", "-R", f"sif <{ino}> block[5] 0x7fffff00", str(img)], check=True,
                   capture_output=True)
    res = extract(img, tmp_path / "out")
    bad = [reason for path, reason in res.issues if path.endswith("DeviceReport.apk")]
    assert bad and "beyond" in bad[0]
    assert (tmp_path / "out" / "system" / "app" / "Flashlight" / "Flashlight.apk").is_file()
    assert not (tmp_path / "out" / "system" / "priv-app" / "DeviceReport" / "DeviceReport.apk").exists()
    shutil.rmtree(tmp_path / "out")
