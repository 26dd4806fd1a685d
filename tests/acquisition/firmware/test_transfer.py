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


# -- brotli as OTA tools write it: multi-MB streams from the brotli CLI ------------------------------------------
def _big_system(tmp_path: Path, system_tree: Path) -> bytes:
    """A ~5 MB ext4 system image whose data does not compress away (so the .br stays several MB)."""
    import random
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(system_tree, tree, symlinks=True)
    rng = random.Random(15)
    words = [bytes(rng.choice(b"abcdefghijklmnop") for _ in range(rng.randint(3, 9))) for _ in range(2000)]
    blob = bytearray()
    while len(blob) < 4_500_000:  # text with random runs: compresses to about half, like system data
        blob += rng.randbytes(rng.randint(10, 300)) if rng.random() < 0.3 else b" ".join(rng.choices(words, k=20))
    (tree / "system" / "etc" / "blob.bin").write_bytes(bytes(blob))
    return writers.make_ext4(tree, tmp_path / "big.img", size_mb=12).read_bytes()


@pytest.mark.parametrize("quality", [None, 5])
def test_multi_mb_brotli_cli_stream_decodes_completely(system_tree: Path, tmp_path: Path, quality: int | None) -> None:
    """The brotli CLI at its default quality (11) and at 5 (OTA tools): the whole stream, not 'truncated'."""
    import subprocess

    from tests.acquisition.firmware.conftest import need
    from toolkit.acquisition.firmware.streams import open_decompressed

    need("brotli", "mke2fs")
    image = _big_system(tmp_path, system_tree)
    tl, new = writers.transfer_list(image)
    raw = tmp_path / "system.new.dat"
    raw.write_bytes(new)
    br = tmp_path / "system.new.dat.br"
    subprocess.run(["brotli", "-f", *(["-q", str(quality)] if quality else []), "-o", str(br), str(raw)], check=True)
    assert br.stat().st_size > 2_000_000  # several MB compressed
    with open(br, "rb") as f:
        assert open_decompressed("brotli", f).read() == new  # the stream level
    ota = tmp_path / "ota.zip"
    with zipfile.ZipFile(ota, "w") as z:
        z.writestr("system.transfer.list", tl)
        z.write(br, "system.new.dat.br")
    info = run(ota, tmp_path / "out")
    assert info.partitions == ["system"], issues_text(info)
    assert "/system/app/Flashlight/Flashlight.apk" in apk_by_device_path(info)


def test_split_brotli_new_dat_parts(system_tree: Path, tmp_path: Path) -> None:
    """A .new.dat.br cut into .new.dat.br.N parts is one brotli stream read across the parts, in numeric order."""
    from tests.acquisition.firmware.conftest import need

    need("mke2fs")
    image = _big_system(tmp_path, system_tree)
    tl, new = writers.transfer_list(image)
    br = writers.brotli_bytes(new)
    cut = [0, len(br) // 5, len(br) // 2, len(br) - 100, len(br)]
    ota = tmp_path / "ota.zip"
    with zipfile.ZipFile(ota, "w") as z:
        z.writestr("system.transfer.list", tl)
        for i in reversed(range(1, len(cut))):  # stored out of order, and .10-style numbering must sort numerically
            z.writestr(f"system.new.dat.br.{i if i < 3 else i + 8}", br[cut[i - 1] : cut[i]])
    info = run(ota, tmp_path / "out")
    assert info.partitions == ["system"], issues_text(info)
    kinds = {c.chain[-1]: c.detail for c in info.containers if c.kind == "transfer_list"}
    assert kinds["system.transfer.list"] == "brotli new.dat in 4 part(s)"


def test_data_after_the_brotli_stream_is_reported(tmp_path: Path) -> None:
    from toolkit.acquisition.firmware.streams import open_decompressed

    payload = bytes(range(256)) * 4000
    with pytest.raises(FirmwareError, match="brotli"):
        open_decompressed("brotli", io.BytesIO(writers.brotli_bytes(payload) + b"junk" * 40000)).read()
    with pytest.raises(FirmwareError, match="truncated"):
        open_decompressed("brotli", io.BytesIO(writers.brotli_bytes(payload)[:-20])).read()
