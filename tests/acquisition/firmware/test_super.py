"""super.img (liblp): metadata 10.0 and 10.2, A/B slots, sparse super, damaged metadata."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import need
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware.dev import FileDev
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.lp import read_metadata


@pytest.mark.parametrize("minor", [0, 2])
def test_super_partitions_are_read_in_place(system_ext4: Path, vendor_ext4: Path, tmp_path: Path, minor: int) -> None:
    sup = writers.write_super(
        tmp_path / "super.img",
        [("system_a", system_ext4.read_bytes()), ("vendor_a", vendor_ext4.read_bytes())],
        minor=minor, empty=("system_b", "vendor_b"),
    )
    meta = read_metadata(FileDev(sup))
    assert (meta.major, meta.minor, meta.slot_count) == (10, minor, 2)
    assert [p.name for p in meta.partitions] == ["system_a", "vendor_a", "system_b", "vendor_b"]
    assert meta.partitions[0].dev is not None
    assert meta.partitions[0].dev.read(0, 4096) == system_ext4.read_bytes()[:4096]
    info = run(sup, tmp_path / "out")
    assert info.partitions == ["system_a", "vendor_a"], issues_text(info)
    apps = apk_by_device_path(info)
    assert apps["/vendor/app/VendorSync/VendorSync.apk"].chain == [
        "super.img", "vendor_a", "ext4:/app/VendorSync/VendorSync.apk"
    ]
    assert apps["/system/app/Flashlight/Flashlight.apk"].partition == "system_a"
    assert any(c.kind == "empty" and c.chain[-1] == "system_b" for c in info.containers)


def test_sparse_super(system_ext4: Path, tmp_path: Path) -> None:
    writers.write_super(tmp_path / "super.raw", [("system_a", system_ext4.read_bytes())])
    sup = writers.img2simg(tmp_path / "super.raw", tmp_path / "super.img")
    info = run(sup, tmp_path / "out")
    assert [c.kind for c in info.containers][:3] == ["sparse", "super", "ext4"]
    assert "/system/priv-app/DeviceReport/DeviceReport.apk" in apk_by_device_path(info)


def test_damaged_metadata_falls_back_then_fails_clearly(system_ext4: Path, tmp_path: Path) -> None:
    sup = writers.write_super(tmp_path / "super.img", [("system_a", system_ext4.read_bytes())], corrupt_tables=True)
    with pytest.raises(FirmwareError, match="checksum mismatch"):
        read_metadata(FileDev(sup))
    info = run(sup, tmp_path / "out")
    assert "checksum mismatch" in issues_text(info)
    assert info.apks == []


def test_matches_7zip_lp_reader(system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    need("7z")
    if "LP" not in subprocess.run(["7z", "i"], capture_output=True, text=True).stdout:
        pytest.skip("this 7-Zip has no LP (super image) reader")
    sup = writers.write_super(tmp_path / "super.img", [("system_a", system_ext4.read_bytes()),
                                                       ("vendor_a", vendor_ext4.read_bytes())], minor=2)
    subprocess.run(["7z", "x", "-tLP", str(sup), f"-o{tmp_path / 'ref'}"], check=True, capture_output=True)
    meta = read_metadata(FileDev(sup))
    for part in meta.partitions:
        assert part.dev is not None
        (ref,) = (tmp_path / "ref").glob(f"{part.name}.*")  # 7-Zip names it after the content (.ext, .img)
        assert part.dev.read(0, part.dev.size) == ref.read_bytes()


def test_super_claiming_more_than_it_holds(system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    sup = writers.write_super(tmp_path / "super.img", [("system_a", system_ext4.read_bytes()),
                                                       ("vendor_a", vendor_ext4.read_bytes())])
    data = sup.read_bytes()
    cut = tmp_path / "cut.img"
    cut.write_bytes(data[: len(data) - (1 << 20)])  # vendor_a's data is gone
    parts = {p.name: p for p in read_metadata(FileDev(cut)).partitions}
    assert parts["vendor_a"].dev is None and "beyond the end" in (parts["vendor_a"].error or "")
    info = run(cut, tmp_path / "out")
    assert [i.chain for i in info.issues] == [["cut.img", "vendor_a"]]
    assert "beyond the end of the super image" in issues_text(info)
    assert info.partitions == ["system_a"]  # the damaged partition is reported, the other one still read
