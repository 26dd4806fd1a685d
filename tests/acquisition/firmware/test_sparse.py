"""Android sparse images: in-place reading, cross-checked with simg2img; split sparsechunk sets."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import need
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware.dev import FileDev
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.sparse import open_sparse


def test_sparse_reads_like_simg2img(system_sparse: Path, tmp_path: Path) -> None:
    need("simg2img")
    raw = tmp_path / "raw.img"
    subprocess.run(["simg2img", str(system_sparse), str(raw)], check=True)
    dev = open_sparse([FileDev(system_sparse)], "system")
    assert dev.size == raw.stat().st_size
    assert dev.read(0, dev.size) == raw.read_bytes()
    # copy_to (the fast path used for extraction) gives the same bytes
    out = tmp_path / "copy.img"
    import os

    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    dev.copy_to(fd, 0, dev.size, 0)
    os.close(fd)
    assert out.read_bytes() == raw.read_bytes()
    dev.close()


def test_sparse_image_unpacks_to_apps(system_sparse: Path, tmp_path: Path) -> None:
    info = run(system_sparse, tmp_path / "out")
    assert info.kind == "sparse"
    apps = apk_by_device_path(info)
    assert "/system/priv-app/DeviceReport/DeviceReport.apk" in apps
    assert apps["/system/priv-app/DeviceReport/DeviceReport.apk"].privileged


def test_truncated_sparse_is_refused(system_sparse: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.img"
    cut.write_bytes(system_sparse.read_bytes()[: system_sparse.stat().st_size // 2])
    with pytest.raises(FirmwareError, match="past the end of the file"):
        open_sparse([FileDev(cut)], "cut")
    info = run(cut, tmp_path / "out")
    assert "past the end of the file" in issues_text(info)


def test_split_sparsechunk_set_in_a_zip(system_ext4: Path, tmp_path: Path) -> None:
    data = system_ext4.read_bytes()
    total = len(data) // 4096
    half = total // 2
    c0 = writers.write_sparse(data, tmp_path / "c0", 0, half, total)
    c1 = writers.write_sparse(data, tmp_path / "c1", half, total, total)
    fw = tmp_path / "fastboot.zip"
    with zipfile.ZipFile(fw, "w") as z:
        z.write(c0, "super.img_sparsechunk.0", compress_type=zipfile.ZIP_STORED)
        z.write(c1, "super.img_sparsechunk.1", compress_type=zipfile.ZIP_DEFLATED)
    info = run(fw, tmp_path / "out")
    assert any(c.kind == "sparse_set" for c in info.containers), issues_text(info)
    assert "/system/app/Flashlight/Flashlight.apk" in apk_by_device_path(info)
