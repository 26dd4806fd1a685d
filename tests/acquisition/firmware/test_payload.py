"""A/B OTA payload.bin: REPLACE, REPLACE_BZ, REPLACE_XZ, ZSTD, ZERO; hashes; incremental refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware.dev import FileDev
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.limits import Budget, Limits
from toolkit.acquisition.firmware.payload import OP_NAMES, extract_partition, open_payload


def test_every_full_operation_including_zstd(system_ext4: Path, tmp_path: Path) -> None:
    data = system_ext4.read_bytes()
    pay = writers.write_payload(tmp_path / "payload.bin", [("system", data)])
    pl = open_payload(FileDev(pay))
    kinds = {OP_NAMES[o.type] for o in pl.partitions[0].ops}
    assert {"REPLACE", "REPLACE_BZ", "REPLACE_XZ", "ZSTD", "ZERO"} <= kinds
    out = tmp_path / "system.img"
    extract_partition(pl, pl.partitions[0], out, Budget(Limits()))
    assert out.read_bytes() == data


def test_ota_zip_reads_payload_in_place(system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    pay = writers.write_payload(tmp_path / "payload.bin", [("system", system_ext4.read_bytes()),
                                                         ("vendor", vendor_ext4.read_bytes()),
                                                         ("boot", b"ANDROID!" + bytes(8192))])
    ota = writers.write_ota_zip(tmp_path / "ota.zip", pay)
    info = run(ota, tmp_path / "out")
    assert info.partitions == ["system", "vendor"], issues_text(info)
    apps = apk_by_device_path(info)
    assert apps["/system/priv-app/DeviceReport/DeviceReport.apk"].chain == [
        "ota.zip", "payload.bin", "system", "ext4:/system/priv-app/DeviceReport/DeviceReport.apk"
    ]
    assert (tmp_path / "out" / "files" / "payload.bin.extracted" / "boot").is_file()  # non-fs partition kept as a file
    assert not (tmp_path / "out" / "files" / "payload.bin").exists()  # read in place, never copied out
    assert info.identity is not None and info.identity.brand == "acme"


def test_damaged_partition_reported_others_go_on(system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    pay = writers.write_payload(tmp_path / "payload.bin", [("system", system_ext4.read_bytes()),
                                                         ("vendor", vendor_ext4.read_bytes())], corrupt_op="system")
    info = run(writers.write_ota_zip(tmp_path / "ota.zip", pay), tmp_path / "out")
    assert "hash does not match" in issues_text(info)
    assert info.partitions == ["vendor"]
    assert "/vendor/app/VendorSync/VendorSync.apk" in apk_by_device_path(info)


def test_incremental_payload_refused(system_ext4: Path, tmp_path: Path) -> None:
    pay = writers.write_payload(tmp_path / "payload.bin", [("system", system_ext4.read_bytes())], incremental=True)
    with pytest.raises(FirmwareError, match="incremental OTA.*SOURCE_COPY"):
        open_payload(FileDev(pay))


def test_truncated_payload(system_ext4: Path, tmp_path: Path) -> None:
    pay = writers.write_payload(tmp_path / "payload.bin", [("system", system_ext4.read_bytes())])
    cut = tmp_path / "cut.bin"
    cut.write_bytes(pay.read_bytes()[: pay.stat().st_size // 2])
    info = run(cut, tmp_path / "out")
    assert "past the end of payload.bin" in issues_text(info)


def test_partition_names_cannot_escape(vendor_ext4: Path, tmp_path: Path) -> None:
    pay = writers.write_payload(tmp_path / "payload.bin", [("../../evil", b"x" * 4096),
                                                         ("vendor", vendor_ext4.read_bytes())])
    info = run(pay, tmp_path / "out")
    assert "unsafe partition name" in issues_text(info)
    assert info.partitions == ["vendor"]
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
