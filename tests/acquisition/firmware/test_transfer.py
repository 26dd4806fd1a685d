"""Non-A/B block OTAs: transfer.list v1-v4 with new.dat, new.dat.br and split new.dat.N."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.limits import Budget, Limits
from toolkit.acquisition.firmware.transfer import apply_transfer_list


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_transfer_list_rebuilds_the_image(system_ext4: Path, tmp_path: Path, version: int) -> None:
    data = system_ext4.read_bytes()
    tl, new = writers.transfer_list(data, version)
    out = tmp_path / "system.img"
    apply_transfer_list(tl, io.BytesIO(new), str(out), Budget(Limits()), "system.transfer.list")
    assert out.read_bytes() == data


def test_brotli_block_ota_zip(system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    tl, new = writers.transfer_list(system_ext4.read_bytes())
    vtl, vnew = writers.transfer_list(vendor_ext4.read_bytes(), 3)
    br = writers.brotli_bytes(vnew)
    ota = tmp_path / "ota.zip"
    with zipfile.ZipFile(ota, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("system.transfer.list", tl)
        third = len(new) // 3
        z.writestr("system.new.dat.1", new[:third])  # split new.dat.N parts
        z.writestr("system.new.dat.2", new[third : 2 * third])
        z.writestr("system.new.dat.3", new[2 * third :])
        z.writestr("vendor.transfer.list", vtl)
        z.writestr("vendor.new.dat.br", br, compress_type=zipfile.ZIP_STORED)
        z.writestr("system.patch.dat", b"")
    info = run(ota, tmp_path / "out")
    assert sorted(info.partitions) == ["system", "vendor"], issues_text(info)
    apps = apk_by_device_path(info)
    assert apps["/vendor/app/VendorSync/VendorSync.apk"].chain == [
        "ota.zip", "vendor", "ext4:/app/VendorSync/VendorSync.apk"
    ]
    kinds = {c.chain[-1]: c.detail for c in info.containers if c.kind == "transfer_list"}
    assert kinds["vendor.transfer.list"] == "brotli new.dat in 1 part(s)"
    assert kinds["system.transfer.list"] == "new.dat in 3 part(s)"


def test_incremental_commands_refused(tmp_path: Path) -> None:
    tl = "4\n10\n0\n0\nmove abc 2,0,1 1 2,1,2\n"
    with pytest.raises(FirmwareError, match="incremental block OTA.*move"):
        apply_transfer_list(tl, io.BytesIO(b""), str(tmp_path / "x"), Budget(Limits()), "x.transfer.list")


def test_short_new_dat_is_reported(system_ext4: Path, tmp_path: Path) -> None:
    tl, new = writers.transfer_list(system_ext4.read_bytes())
    with pytest.raises(FirmwareError, match="shorter than the transfer list"):
        apply_transfer_list(tl, io.BytesIO(new[:-5000]), str(tmp_path / "x"), Budget(Limits()), "x")


def test_brotli_bomb_is_stopped(tmp_path: Path) -> None:
    blocks = 200_000  # claims ~800 MB of data
    tl = f"4\n{blocks}\n0\n0\nnew 2,0,{blocks}\n"
    br = writers.brotli_bytes(bytes(blocks * 4096))
    ota = tmp_path / "bomb.zip"
    with zipfile.ZipFile(ota, "w") as z:
        z.writestr("system.transfer.list", tl)
        z.writestr("system.new.dat.br", br)
    info = run(ota, tmp_path / "out", Limits(max_output_bytes=64 << 20))
    assert "output limit" in issues_text(info)
    assert not any((tmp_path / "out").rglob("*.img"))
