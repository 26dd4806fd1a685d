"""Several files named on the command line are one firmware: Samsung's five tar.md5, loose partition images."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.helpers import issues_text
from toolkit.acquisition.firmware import unpack
from toolkit.cli.main import app

runner = CliRunner()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def samsung(system_sparse: Path, vendor_ext4: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The five files of a Samsung firmware as the vendor ships them (AP with a sparse system, CSC/HOME_CSC with an
    optics image carrying a vendor app)."""
    pkg = tmp_path_factory.mktemp("samsung")
    return [
        writers.write_tar_md5(pkg / "AP_A105FXXU9CWA1.tar.md5", [("system.img", system_sparse.read_bytes())]),
        writers.write_tar_md5(pkg / "BL_A105FXXU9CWA1.tar.md5", [("sboot.bin", b"\0" * 4096)]),
        writers.write_tar_md5(pkg / "CP_A105FXXU9CWA1.tar.md5", [("modem.bin", b"\1" * 4096)]),
        writers.write_tar_md5(pkg / "CSC_OXM_A105FOXM9CWA1.tar.md5", [("optics.img", vendor_ext4.read_bytes())]),
        writers.write_tar_md5(pkg / "HOME_CSC_OXM_A105FOXM9CWA1.tar.md5", [("optics.img", vendor_ext4.read_bytes())]),
    ]


def test_scan_of_the_five_samsung_files_with_bad_ones_among_them(samsung: list[Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    garbage = tmp_path / "notes.bin"
    garbage.write_bytes(bytes(range(256)) * 32)
    empty = tmp_path / "USERDATA_A105FXXU9CWA1.tar.md5"
    empty.write_bytes(b"")
    missing = tmp_path / "PIT_A105F.tar.md5"
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["firmware", "scan", *map(str, samsung), str(garbage), str(empty), str(missing),
                              "--format", "json", "--output", str(report), "-j", "1"])
    # an input the user named is unusable: exit 2, although the good files were scanned and have findings
    assert res.exit_code == 2, res.output
    for bad, reason in ((garbage, "not a firmware format phonehome knows"), (empty, "empty file (0 bytes)"),
                        (missing, "no such file or directory")):
        lines = [line for line in res.output.splitlines() if bad.name in line and line.startswith("error: ")]
        assert len(lines) == 1 and reason in lines[0], res.output
    r = json.loads(report.read_text())
    fw = r["firmware"]
    assert fw["kind"] == "files"
    # every file that could be read is in the record with its own SHA-256, in the order given; the set's SHA-256
    # is that of their sha256sum-style list
    assert [(i["path"], i["sha256"], i["size"]) for i in fw["inputs"]] == [
        (str(p), _sha(p), p.stat().st_size) for p in [*samsung, garbage, empty]]
    listing = "".join(f"{i['sha256']}  {i['path']}\n" for i in fw["inputs"])
    assert fw["sha256"] == hashlib.sha256(listing.encode()).hexdigest()
    assert r["target"]["inputs"] == [str(p) for p in [*samsung, garbage, empty]]
    assert sorted(fw["partitions"]) == ["optics", "optics", "system"]
    apks = {}
    for a in r["apks"]:
        apks.setdefault(a["provenance"]["device_path"], []).append(a)
    # the known flows of the AP's system app and of the CSC's optics app are found
    device_report = apks["/system/priv-app/DeviceReport/DeviceReport.apk"][0]
    assert device_report["findings"] and device_report["provenance"]["chain"][0] == samsung[0].name
    optics = apks["/optics/app/VendorSync/VendorSync.apk"]
    assert {a["provenance"]["chain"][0] for a in optics} == {samsung[3].name, samsung[4].name}
    assert all(a["findings"] for a in optics)


def test_extract_of_loose_partition_images_and_a_block_ota_given_as_files(
        system_ext4: Path, vendor_ext4: Path, tmp_path: Path) -> None:
    """system.img vendor.img, and a block OTA's transfer list with its new.dat.br named separately: one firmware."""
    loose = tmp_path / "loose"
    loose.mkdir()
    system = loose / "system.img"
    system.write_bytes(system_ext4.read_bytes())
    tl, dat = writers.transfer_list(vendor_ext4.read_bytes())
    (loose / "product.transfer.list").write_text(tl)
    (loose / "product.new.dat.br").write_bytes(writers.brotli_bytes(dat))
    files = [system, loose / "product.transfer.list", loose / "product.new.dat.br"]
    out = tmp_path / "out"
    res = runner.invoke(app, ["firmware", "extract", *map(str, files), "--out", str(out)])
    summary = json.loads((out / "firmware.json").read_text())
    assert res.exit_code == 0, res.output + json.dumps(summary["issues"])
    assert sorted(summary["partitions"]) == ["product", "system"]
    assert [(i["path"], i["sha256"]) for i in summary["inputs"]] == [(str(p), _sha(p)) for p in files]
    devices = {a["device_path"] for a in summary["apks"]}
    assert {"/system/priv-app/DeviceReport/DeviceReport.apk", "/product/app/VendorSync/VendorSync.apk"} <= devices


def test_two_inputs_with_one_name_and_a_folder_among_files(system_ext4: Path, vendor_ext4: Path,
                                                           tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, other = tmp_path / "a" / "system.img", tmp_path / "b" / "system.img"
    first.write_bytes(system_ext4.read_bytes())
    other.write_bytes(vendor_ext4.read_bytes())
    info = unpack([first, first, other, tmp_path / "b", vendor_ext4], tmp_path / "out")
    text = issues_text(info)
    assert info.partitions == ["system", "vendor"], text
    assert [i.path for i in info.inputs] == [str(first), str(vendor_ext4)]
    assert [(i.chain, i.reason.split(":")[0]) for i in info.issues] == [
        ([str(first)], "given twice"),
        ([str(other)], f"another input file has the same name ({first})"),
        ([str(tmp_path / "b")], "a folder among several files"),
    ], text


def test_a_folder_records_every_file_it_holds(samsung: list[Path]) -> None:
    info = unpack(samsung[0].parent, samsung[0].parent.parent / "folder-out")
    assert info.kind == "dir" and not info.issues, issues_text(info)
    assert sorted((i.path, i.sha256) for i in info.inputs) == sorted((p.name, _sha(p)) for p in samsung)
