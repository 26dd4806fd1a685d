"""Code recovery from the optimized files of every Android generation: OAT (5-7), vdex 006-021 (8-11), Dalvik odex.

Fixtures are written by writers that follow AOSP's layouts (toolkit/acquisition/firmware/{oat,vdex,odex}.py) from
the real fixture DEX files; quickening is done on those DEX files as dex2oat/dexopt do it (tests writers).
"""

from __future__ import annotations

import json
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.acquisition.firmware import writers
from tests.acquisition.firmware.conftest import APKS, need
from tests.acquisition.firmware.helpers import apk_by_device_path, issues_text, run
from toolkit.acquisition.firmware import oat, odex, vdex
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.recover import recover
from toolkit.cli.main import app
from toolkit.models.scan import ApkInput
from toolkit.pipeline import ScanOptions, analyse_inputs

DEX = zipfile.ZipFile(APKS / "imei_sms_binary.apk").read("classes.dex")
DEX2 = zipfile.ZipFile(APKS / "location_listener.apk").read("classes.dex")
REAL = Path(__file__).resolve().parents[3].parent / "shared" / "realfirmware" / "vince_7.1.2"


def _recover(tmp_path: Path, blob: bytes, name: str = "x.odex"):
    p = tmp_path / name
    p.write_bytes(blob)
    return recover(p, name)


# -- OAT -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["039", "045", "064", "079", "088"])
@pytest.mark.parametrize("elf64", [True, False])
def test_oat_dex_records_give_the_dex_byte_identical(tmp_path: Path, version: str, elf64: bool) -> None:
    locs = [("/system/app/X/X.apk", DEX), ("/system/app/X/X.apk:classes2.dex", DEX2)]
    rec = _recover(tmp_path, oat.write_oat_elf(oat.write_oat(locs, version), elf64))
    assert rec.format == f"oat {version}"
    assert rec.dexes == [DEX, DEX2]
    assert [r.location for r in rec.records] == ["/system/app/X/X.apk", "/system/app/X/X.apk:classes2.dex"]
    assert all(r.state == "verbatim" and r.crc_matches for r in rec.records)
    assert rec.kind == "recovered_oat"


def test_oat_elf_writer_is_a_real_elf_for_readelf(tmp_path: Path) -> None:
    need("readelf")
    p = tmp_path / "x.odex"
    p.write_bytes(oat.write_oat_elf(oat.write_oat([("/system/app/X/X.apk", DEX)])))
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", str(p)], capture_output=True, text=True, check=True).stdout
    assert " oatdata" in syms and " oatlastword" in syms
    sections = subprocess.run(["readelf", "-SW", str(p)], capture_output=True, text=True, check=True).stdout
    assert ".rodata" in sections


def test_android7_quickened_oat_is_restored_exactly(tmp_path: Path) -> None:
    """dex-to-dex quickened code + the quickening tables dex2oat 7.x keeps in the method headers -> the original."""
    quick, tables = writers.quicken_dex(DEX)
    assert quick != DEX and tables
    blob = oat.write_oat_elf(oat.write_oat([("/system/app/X/X.apk", quick)], "088", quickening=[tables],
                                           checksums=[zlib.crc32(DEX)]))
    rec = _recover(tmp_path, blob)
    assert rec.dexes == [DEX]
    r = rec.records[0]
    assert r.state == "restored" and r.crc_matches is True
    assert r.stored_sha256 != r.sha256  # both the stored (quickened) copy and the result are hashed
    assert not rec.approximated


def test_quickened_oat_without_tables_is_approximated_not_invented(tmp_path: Path) -> None:
    """Android 5/6 keep no quickening tables: the quickened calls are neutralised, the result says so."""
    quick, _ = writers.quicken_dex(DEX)
    rec = _recover(tmp_path, oat.write_oat_elf(oat.write_oat([("/system/app/X/X.apk", quick)], "064",
                                                             checksums=[zlib.crc32(DEX)])))
    r = rec.records[0]
    assert r.state == "approximated" and r.crc_matches is False
    assert "invoke-virtual-quick" in (r.detail or "") and rec.approximated
    # the rewritten copy keeps every method walkable and holds no quickened instruction any more
    from array import array

    from toolkit.acquisition.firmware.quicken import ART_M, _walk, code_items
    for item in code_items(rec.dexes[0]):
        u = array("H", rec.dexes[0][item.insns_off : item.insns_off + 2 * item.insns_size])
        assert not [q for _pc, _op, q in _walk(u, ART_M) if q is not None]


@pytest.mark.parametrize("blob, reason", [
    (b"\x7fELF" + bytes(200), "not a little-endian ELF"),
    (b"garbage" * 20, "not a vdex, OAT or Dalvik odex"),
    (oat.write_oat_elf(oat.write_oat([("/system/app/X/X.apk", DEX)]))[:0x1100], "ELF section table"),
])
def test_damaged_optimized_files_are_one_clear_reason(tmp_path: Path, blob: bytes, reason: str) -> None:
    with pytest.raises(FirmwareError, match=reason):
        _recover(tmp_path, blob)


def test_oat_with_a_dex_past_the_end_is_refused(tmp_path: Path) -> None:
    data = bytearray(oat.write_oat([("/system/app/X/X.apk", DEX)]))
    data = data[: len(data) - len(DEX) // 2 - 200]
    with pytest.raises(FirmwareError, match="OAT"):
        _recover(tmp_path, bytes(data), "x.oat")


# -- vdex 006-021 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["006", "010"])
def test_oreo_vdex_is_unquickened_with_its_quickening_info(tmp_path: Path, version: str) -> None:
    q1, t1 = writers.quicken_dex(DEX)
    q2, t2 = writers.quicken_dex(DEX2)
    rec = _recover(tmp_path, vdex.write_old_vdex([q1, q2], version, [t1, t2]), "x.vdex")
    assert rec.format == f"vdex {version}"
    assert rec.dexes == [DEX, DEX2]
    assert [r.state for r in rec.records] == ["restored", "restored"]


@pytest.mark.parametrize("version", ["006", "010", "019", "021"])
def test_unquickened_vdex_gives_dex_verbatim(tmp_path: Path, version: str) -> None:
    rec = _recover(tmp_path, vdex.write_old_vdex([DEX, DEX2], version), "x.vdex")
    assert rec.dexes == [DEX, DEX2] and {r.state for r in rec.records} == {"verbatim"}


@pytest.mark.parametrize("version", ["019", "021"])
@pytest.mark.parametrize("nop_slots", [True, False])
def test_pie_and_android10_vdex_are_unquickened_with_their_quickening_tables(tmp_path: Path, version: str,
                                                                              nop_slots: bool) -> None:
    """vdex 019/021: per DEX a compact offset table by method index, per method a QuickenInfoTable of indices;
    as pie and android10's dex2oat write them, nops and payloads have a slot, and a check-cast made into two nops
    its register and type (nop_slots); a later quicken_info.h gives nops no slot: both are read."""
    q1, s1 = writers.quicken_dex_slots(DEX, nop_slots)
    q2, s2 = writers.quicken_dex_slots(DEX2, nop_slots)
    assert q1 != DEX and q2 != DEX2
    assert s1 != writers.quicken_dex_slots(DEX, not nop_slots)[1]  # the fixture has what tells the rules apart
    rec = _recover(tmp_path, vdex.write_old_vdex([q1, q2], version, slots=[s1, s2]), "x.vdex")
    assert rec.format == f"vdex {version}"
    assert rec.dexes == [DEX, DEX2]  # byte-identical: every quickened instruction (and elided check-cast) restored
    assert [r.state for r in rec.records] == ["restored", "restored"] and not rec.approximated


def test_vdex019_without_or_with_a_damaged_quickening_table_is_approximated(tmp_path: Path) -> None:
    q, slots = writers.quicken_dex_slots(DEX)
    rec = _recover(tmp_path, vdex.write_old_vdex([q], "019"), "x.vdex")
    assert rec.records[0].state == "approximated" and "neutralised" in rec.approximated[0]
    # one method's table cut to half: no rule uses it up, so that method is neutralised, never restored with
    # wrong indices
    idx = max(slots, key=lambda m: len(slots[m]))
    short = {**slots, idx: slots[idx][: len(slots[idx]) // 2]}
    rec = _recover(tmp_path, vdex.write_old_vdex([q], "019", slots=[short]), "y.vdex")
    assert rec.records[0].state == "approximated" and rec.dexes[0] != DEX
    assert "neutralised" in rec.approximated[0] and rec.records[0].detail


def test_quickened_compact_dex_in_a_vdex_is_converted_and_unquickened(tmp_path: Path) -> None:
    from toolkit.acquisition.firmware.cdex import write_cdex

    plain = _recover(tmp_path, vdex.write_old_vdex([write_cdex(DEX)], "021"), "plain.vdex").dexes[0]
    q, slots = writers.quicken_dex_slots(DEX, nop_slots=False)
    rec = _recover(tmp_path, vdex.write_old_vdex([write_cdex(q)], "021", slots=[slots]), "x.vdex")
    # the same standard DEX as the conversion of the unquickened CompactDex (checked against ART's dexdump below)
    assert rec.dexes == [plain] and rec.records[0].state == "restored"
    assert "quickened instruction(s) restored" in (rec.records[0].detail or "")


def test_compact_offset_table_matches_arts_own_test_vector() -> None:
    # art/libdexfile/dex/compact_offset_table_test.cc: these offsets round-trip through Build and GetOffset
    base = 1234567
    offsets = [0, 17, 2, 3, 11, 0, 0, 0, 0, 1, 0, 1552, 100, 122, 44, 1234567, 0, 0, 0xFFFFFFFF - base, *[0] * 23, 12]
    offsets = [o + base if o else 0 for o in offsets]
    table = vdex.build_compact_offsets(offsets)
    assert len(table) < 4 * len(offsets)
    assert [vdex.compact_offset(table, 0, i) for i in range(len(offsets))] == offsets


def test_compact_dex_in_a_vdex_is_converted(tmp_path: Path) -> None:
    from toolkit.acquisition.firmware.cdex import write_cdex

    rec = _recover(tmp_path, vdex.write_old_vdex([write_cdex(DEX), write_cdex(DEX2)], "021"), "x.vdex")
    assert [r.state for r in rec.records] == ["restored", "restored"]
    assert "CompactDex converted" in (rec.records[0].detail or "")
    bad = bytearray(write_cdex(DEX))
    struct.pack_into("<I", bad, 0x34, 0x7FFFFFF0)  # map list far outside the data section
    with pytest.raises(FirmwareError, match="CompactDex could not be converted"):
        _recover(tmp_path, vdex.write_old_vdex([bytes(bad)], "021"), "y.vdex")


def _dexdump_insns(path: Path) -> list[str]:
    """The instruction lines dexdump (ART's own reader, Debian `dexdump`) prints, without addresses."""
    out = subprocess.run(["dexdump", "-d", str(path)], capture_output=True, text=True, timeout=120)
    assert "Failure to" not in out.stderr and out.returncode == 0, out.stderr[-500:]
    return [ln.split("|", 1)[1] for ln in out.stdout.splitlines() if "|" in ln and "|[" not in ln]


@pytest.mark.parametrize("apk", ["imei_sms_binary", "location_listener", "adsdk_bundled", "android_id_okhttp"])
def test_cdex_writer_and_converter_agree_with_arts_dexdump(tmp_path: Path, apk: str) -> None:
    """ART's dexdump reads our CompactDex with the original's instructions, and verifies and reads the standard DEX
    we convert it back to, with the same instructions."""
    need("dexdump")
    from toolkit.acquisition.firmware.cdex import cdex_to_dex, write_cdex

    dex = zipfile.ZipFile(APKS / f"{apk}.apk").read("classes.dex")
    (tmp_path / "a.dex").write_bytes(dex)
    (tmp_path / "a.cdex").write_bytes(write_cdex(dex))
    (tmp_path / "b.dex").write_bytes(cdex_to_dex(write_cdex(dex)))
    want = _dexdump_insns(tmp_path / "a.dex")
    assert want
    assert _dexdump_insns(tmp_path / "a.cdex") == want
    assert _dexdump_insns(tmp_path / "b.dex") == want


def test_vdex_without_dex_section_says_so(tmp_path: Path) -> None:
    blob = b"vdex021\x00" + b"000\x00" + bytes(32)
    with pytest.raises(FirmwareError, match="no DEX section"):
        _recover(tmp_path, blob, "x.vdex")


# -- Dalvik odex ----------------------------------------------------------------------------------------------
def test_dalvik_odex_embedded_dex(tmp_path: Path) -> None:
    blob = odex.write_odex(DEX)
    assert odex.odex_dependencies(blob) == ["/system/framework/core.jar", "/system/framework/framework.jar"]
    rec = _recover(tmp_path, blob)
    assert rec.format == "dalvik odex 036" and rec.dexes == [DEX] and rec.records[0].state == "verbatim"


def test_dalvik_quickened_odex_is_approximated(tmp_path: Path) -> None:
    q, _ = writers.quicken_dex(DEX, dalvik=True)
    rec = _recover(tmp_path, odex.write_odex(q, version="035"))
    r = rec.records[0]
    assert r.state == "approximated" and "return-void-barrier" in (r.detail or "")
    # every quickened call is gone from the rewritten copy (walked with the Dalvik table)
    from array import array

    from toolkit.acquisition.firmware.quicken import DALVIK, _walk, code_items
    for item in code_items(rec.dexes[0]):
        u = array("H", rec.dexes[0][item.insns_off : item.insns_off + 2 * item.insns_size])
        assert not [q for _pc, _op, q in _walk(u, DALVIK) if q is not None and q.kind != "keep"]


# -- end to end: a firmware image with odexed apps of every generation ------------------------------------------
@pytest.fixture(scope="module")
def legacy_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("mke2fs")
    t = tmp_path_factory.mktemp("legacy")
    src = t / "src"
    app = src / "app"
    # Android 7: oat/arm64/X.odex, quickened, with quickening tables
    (app / "OatSms" / "oat" / "arm64").mkdir(parents=True)
    (d,) = writers.strip_dex(APKS / "imei_sms_binary.apk", app / "OatSms" / "OatSms.apk")
    q, tables = writers.quicken_dex(d)
    (app / "OatSms" / "oat" / "arm64" / "OatSms.odex").write_bytes(oat.write_oat_elf(
        oat.write_oat([("/system/app/OatSms/OatSms.apk", q)], "088", quickening=[tables], checksums=[zlib.crc32(d)])))
    # Android 8.1: oat/arm/X.vdex 010 with quickening info
    (app / "VdexSms" / "oat" / "arm").mkdir(parents=True)
    (d,) = writers.strip_dex(APKS / "imei_sms_binary.apk", app / "VdexSms" / "VdexSms.apk")
    q, tables = writers.quicken_dex(d)
    (app / "VdexSms" / "oat" / "arm" / "VdexSms.vdex").write_bytes(vdex.write_old_vdex([q], "010", [tables]))
    # Android 10: oat/arm64/X.vdex 021 holding CompactDex
    from toolkit.acquisition.firmware.cdex import write_cdex

    (app / "CdexSms" / "oat" / "arm64").mkdir(parents=True)
    (d,) = writers.strip_dex(APKS / "imei_sms_binary.apk", app / "CdexSms" / "CdexSms.apk")
    q, slots = writers.quicken_dex_slots(d, nop_slots=False)
    (app / "CdexSms" / "oat" / "arm64" / "CdexSms.vdex").write_bytes(
        vdex.write_old_vdex([write_cdex(q)], "021", slots=[slots]))
    # Android 9: oat/arm64/X.vdex 019, quickened (check-casts elided), with its quickening tables
    (app / "PieSms" / "oat" / "arm64").mkdir(parents=True)
    (d,) = writers.strip_dex(APKS / "imei_sms_binary.apk", app / "PieSms" / "PieSms.apk")
    q, slots = writers.quicken_dex_slots(d)
    (app / "PieSms" / "oat" / "arm64" / "PieSms.vdex").write_bytes(vdex.write_old_vdex([q], "019", slots=[slots]))
    # Android 4.4: X.odex beside X.apk, quickened: approximated
    (app / "DalvikSms").mkdir(parents=True)
    (d,) = writers.strip_dex(APKS / "imei_sms_binary.apk", app / "DalvikSms" / "DalvikSms.apk")
    (app / "DalvikSms" / "DalvikSms.odex").write_bytes(odex.write_odex(writers.quicken_dex(d, dalvik=True)[0]))
    # Framework jars: one with its DEX, one stripped with oat/arm64/X.odex, one boot jar with arm64/boot-X.oat,
    # one without any code (not a unit)
    fw = src / "framework"
    (fw / "oat" / "arm64").mkdir(parents=True)
    (fw / "arm64").mkdir()
    http = zipfile.ZipFile(APKS / "imei_http_post.apk").read("classes.dex")
    with zipfile.ZipFile(fw / "services.jar", "w") as z:
        z.writestr("classes.dex", http)
    for jar in ("oem-sync.jar", "framework.jar", "res-only.jar"):
        with zipfile.ZipFile(fw / jar, "w") as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    (fw / "oat" / "arm64" / "oem-sync.odex").write_bytes(
        oat.write_oat_elf(oat.write_oat([("/system/framework/oem-sync.jar", http)], "079")))
    (fw / "arm64" / "boot-framework.oat").write_bytes(
        oat.write_oat_elf(oat.write_oat([("/system/framework/framework.jar", DEX2)], "088")))
    (src / "build.prop").write_text("ro.product.system.brand=acme\nro.build.version.release=7.1.2\n")
    return writers.make_ext4(src, t / "system.img", size_mb=8)


def test_firmware_with_odexed_apps_of_every_generation(legacy_image: Path, tmp_path: Path) -> None:
    info = run(legacy_image, tmp_path / "out")
    apps = apk_by_device_path(info)
    assert not info.issues, issues_text(info)
    oat_app = apps["/system/app/OatSms/OatSms.apk"]
    assert oat_app.code == "recovered_oat" and oat_app.recovered is not None
    assert oat_app.recovered.path.endswith("app/OatSms/oat/arm64/OatSms.odex")
    assert oat_app.recovered.device_path == "/system/app/OatSms/oat/arm64/OatSms.odex"
    assert oat_app.recovered.format == "oat 088"
    odex_file = tmp_path / "out" / oat_app.recovered.path
    import hashlib

    assert oat_app.recovered.sha256 == hashlib.sha256(odex_file.read_bytes()).hexdigest()
    assert oat_app.recovered.dex[0].sha256 == hashlib.sha256(DEX).hexdigest()
    assert oat_app.recovered.dex[0].sha256 in (oat_app.code_note or "")
    with zipfile.ZipFile(tmp_path / "out" / oat_app.analysis_path) as z:
        assert z.read("classes.dex") == DEX
    assert apps["/system/app/VdexSms/VdexSms.apk"].code == "recovered_vdex"
    pie = apps["/system/app/PieSms/PieSms.apk"]
    assert pie.code == "recovered_vdex" and pie.recovered is not None and pie.recovered.format == "vdex 019"
    assert [r.state for r in pie.recovered.dex] == ["restored"] and not pie.code_approximated
    with zipfile.ZipFile(tmp_path / "out" / pie.analysis_path) as z:
        assert z.read("classes.dex") == DEX
    dalvik = apps["/system/app/DalvikSms/DalvikSms.apk"]
    assert dalvik.code == "recovered_odex" and "approximated" in (dalvik.code_approximated or "")
    # framework jars are units of their own, not apps of the phone
    units = {u.device_path: u for u in info.framework}
    assert sorted(units) == ["/system/framework/framework.jar", "/system/framework/oem-sync.jar",
                             "/system/framework/services.jar"]
    assert units["/system/framework/services.jar"].code == "present"
    assert units["/system/framework/oem-sync.jar"].code == "recovered_oat"
    boot = units["/system/framework/framework.jar"]
    assert boot.code == "recovered_oat" and boot.recovered is not None
    assert boot.recovered.device_path == "/system/framework/arm64/boot-framework.oat"
    with zipfile.ZipFile(tmp_path / "out" / boot.analysis_path) as z:
        assert z.read("classes.dex") == DEX2 and "AndroidManifest.xml" in z.namelist()
    assert not any(a.device_path and a.device_path.endswith(".jar") for a in info.apks)


def test_a_transient_unpack_keeps_only_the_rebuilt_copy_of_a_stripped_app(legacy_image: Path, tmp_path: Path) -> None:
    """firmware scan's temporary folder: the stripped APK and its optimized files go once the rebuilt copy is
    written (their SHA-256 are in the record first); framework files stay (they are the boot class path)."""
    import hashlib

    from toolkit.acquisition.firmware import unpack

    kept = run(legacy_image, tmp_path / "kept")
    info = unpack(legacy_image, tmp_path / "out", only_needed=True, transient=True)
    assert not info.issues, issues_text(info)
    before, after = apk_by_device_path(kept), apk_by_device_path(info)
    for name in ("OatSms", "VdexSms", "CdexSms", "PieSms"):
        a, b = after[f"/system/app/{name}/{name}.apk"], before[f"/system/app/{name}/{name}.apk"]
        assert a.recovered is not None and b.recovered is not None
        assert not (tmp_path / "out" / a.path).exists() and not (tmp_path / "out" / a.recovered.path).exists()
        assert (a.sha256, a.recovered.sha256) == (b.sha256, b.recovered.sha256)  # hashed before they went
        rebuilt = (tmp_path / "out" / a.analysis_path).read_bytes()
        assert hashlib.sha256(rebuilt).hexdigest() == hashlib.sha256(
            (tmp_path / "kept" / b.analysis_path).read_bytes()).hexdigest()
    assert (tmp_path / "out" / "files" / "framework" / "arm64" / "boot-framework.oat").is_file()


def test_scan_finds_the_flow_in_recovered_code(legacy_image: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    report = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["firmware", "scan", str(legacy_image), "--format", "json", "--output",
                                   str(report), "-j", "1"])
    r = json.loads(report.read_text())
    assert res.exit_code == 1, res.output
    apks = {a["provenance"]["device_path"]: a for a in r["apks"]}
    direct = analyse_inputs([ApkInput(path=str(APKS / "imei_sms_binary.apk"))], ScanOptions(workers=1, no_cache=True))
    want = sorted(f.rule_id for f in direct[0].findings)
    assert want  # the fixture's known flow (IMEI sent by SMS)
    for name in ("OatSms", "VdexSms", "CdexSms", "PieSms"):
        a = apks[f"/system/app/{name}/{name}.apk"]
        assert a["status"] == "analysed"
        assert sorted(f["rule_id"] for f in a["findings"]) == want
        assert "sha256" in a["provenance"]["chain"][-1]
    dalvik = apks["/system/app/DalvikSms/DalvikSms.apk"]
    assert dalvik["status"] == "partial" and "neutralised" in dalvik["reason"]


# -- real vendor files (skipped without ../shared) --------------------------------------------------------------
@pytest.mark.skipif(not REAL.is_dir(), reason="real firmware files (../shared/realfirmware) are not on this machine")
def test_real_android7_odex_files_give_the_original_dex() -> None:
    odexes = sorted(REAL.glob("system/*app/*/oat/arm64/*.odex"))
    assert odexes
    for p in odexes:
        rec = recover(p, p.name)
        assert all(r.crc_matches for r in rec.records), p.name


# -- cross-check of the writers with an independent reader: baksmali's dexlib2 (Debian libsmali-java) ------------
@pytest.mark.parametrize("version", ["064", "079", "088"])
def test_baksmali_reads_our_oat_files(tmp_path: Path, version: str) -> None:
    need("baksmali")
    p = tmp_path / "x.odex"
    p.write_bytes(oat.write_oat_elf(oat.write_oat([("/system/app/X/X.apk", DEX),
                                                   ("/system/app/X/X.apk:classes2.dex", DEX2)], version)))
    out = subprocess.run(["baksmali", "list", "dex", str(p)], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["/system/app/X/X.apk", "/system/app/X/X.apk:classes2.dex"], out.stderr


def test_baksmali_reads_our_dalvik_odex(tmp_path: Path) -> None:
    need("baksmali")
    p = tmp_path / "x.odex"
    p.write_bytes(odex.write_odex(DEX))
    deps = subprocess.run(["baksmali", "list", "deps", str(p)], capture_output=True, text=True, timeout=120)
    assert deps.stdout.split() == ["/system/framework/core.jar", "/system/framework/framework.jar"], deps.stderr
    classes = subprocess.run(["baksmali", "list", "classes", str(p)], capture_output=True, text=True, timeout=120)
    assert "Lcom/phonehome/fx/imei_sms_binary/MainActivity;" in classes.stdout.split()


# -- Dalvik: deodexed against the boot class path with baksmali ------------------------------------------------
@pytest.fixture(scope="module")
def dalvik_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Android 4.4-shaped system: framework/core.jar stripped + core.odex (a small boot class path), and an app
    whose odex was quickened against it (vtable indices computed by baksmali from that boot class path)."""
    need("mke2fs", "baksmali", "smali")
    from tests.acquisition.firmware import dalvik_boot

    t = tmp_path_factory.mktemp("dalvik")
    boot = dalvik_boot.build_boot_dex(t)
    src = t / "src"
    fw = src / "framework"
    fw.mkdir(parents=True)
    with zipfile.ZipFile(fw / "core.jar", "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    (fw / "core.odex").write_bytes(odex.write_odex(boot, deps=[]))
    (src / "app" / "DalvikSms").mkdir(parents=True)
    (d,) = writers.strip_dex(APKS / "imei_sms_binary.apk", src / "app" / "DalvikSms" / "DalvikSms.apk")
    quick, n = dalvik_boot.quicken_dalvik(d, dalvik_boot.vtables(t / "core.dex"))
    assert n >= 10  # the IMEI and SMS calls are among them
    (src / "app" / "DalvikSms" / "DalvikSms.odex").write_bytes(
        odex.write_odex(quick, deps=["/system/framework/core.jar"]))
    (src / "build.prop").write_text("ro.build.version.sdk=19\nro.build.version.release=4.4.4\n")
    return writers.make_ext4(src, t / "system.img", size_mb=6)


def _calls(dex: bytes, tmp: Path) -> list[str]:
    """The invoke lines of a DEX as baksmali prints them (registers and method references)."""
    p = tmp / f"d{len(list(tmp.iterdir()))}.dex"
    p.write_bytes(dex)
    out = tmp / (p.stem + "_smali")
    subprocess.run(["baksmali", "disassemble", str(p), "-o", str(out)], check=True, capture_output=True, timeout=300)
    lines = []
    for f in sorted(out.rglob("*.smali")):
        lines += [ln.strip() for ln in f.read_text().splitlines() if ln.strip().startswith(("invoke-", "return"))]
    return lines


def test_dalvik_odex_is_deodexed_against_the_boot_class_path(dalvik_image: Path, tmp_path: Path) -> None:
    info = run(dalvik_image, tmp_path / "out")
    app = apk_by_device_path(info)["/system/app/DalvikSms/DalvikSms.apk"]
    assert app.code == "recovered_odex" and app.recovered is not None, issues_text(info)
    r = app.recovered.dex[0]
    assert r.state == "restored" and "baksmali" in (r.detail or ""), r.detail
    assert app.code_approximated is None
    assert any(t.startswith("baksmali/smali") for t in info.external_tools)
    with zipfile.ZipFile(tmp_path / "out" / app.analysis_path) as z:
        recovered = z.read("classes.dex")
    (tmp_path / "cmp").mkdir()
    assert _calls(recovered, tmp_path / "cmp") == _calls(DEX, tmp_path / "cmp")  # instruction-equivalent calls
    # and the fixture's known flow is found in the deodexed code, as in the original APK
    got = analyse_inputs([ApkInput(path=str(tmp_path / "out" / app.analysis_path))], ScanOptions(workers=1, no_cache=True))
    want = analyse_inputs([ApkInput(path=str(APKS / "imei_sms_binary.apk"))], ScanOptions(workers=1, no_cache=True))
    assert sorted(f.rule_id for f in got[0].findings) == sorted(f.rule_id for f in want[0].findings) != []


def test_one_jvm_deodexes_many_apps_and_goes_on_after_a_failing_one(tmp_path: Path) -> None:
    """deodex.Session: baksmali and smali for every app in one JVM (DeodexServer.java); the result is the DEX the
    two commands give; a job the tools give up on (they exit the JVM) is one clear reason, and the next job runs."""
    need("baksmali", "smali", "java")
    from tests.acquisition.firmware import dalvik_boot
    from toolkit.acquisition.firmware import deodex

    boot = dalvik_boot.build_boot_dex(tmp_path)
    (tmp_path / "core.odex").write_bytes(odex.write_odex(boot, deps=[]))
    quick, _n = dalvik_boot.quicken_dalvik(DEX, dalvik_boot.vtables(tmp_path / "core.dex"))
    app_odex = tmp_path / "App.odex"
    app_odex.write_bytes(odex.write_odex(quick, deps=["/system/framework/core.jar"]))
    by_commands = deodex.deodex(str(app_odex), [tmp_path / "core.odex"], 19, "App.odex")
    with deodex.Session() as session:
        first = deodex.deodex(str(app_odex), [tmp_path / "core.odex"], 19, "App.odex", session)
        with pytest.raises(FirmwareError, match="baksmali deodex failed: .*class path"):
            deodex.deodex(str(app_odex), [tmp_path / "missing.odex"], 19, "App.odex", session)
        again = [deodex.deodex(str(app_odex), [tmp_path / "core.odex"], 19, "App.odex", session) for _ in range(2)]
    assert not session.broken and session.jobs == 4
    assert session.starts == 2  # the failing job ended the first JVM; the other jobs shared one
    assert first == by_commands and again == [by_commands, by_commands]


def test_dalvik_deodex_without_the_boot_class_path_is_approximated(dalvik_image: Path, tmp_path: Path) -> None:
    # the same image, its boot odex removed before discovery
    from toolkit.acquisition.firmware.discover import discover
    from toolkit.acquisition.firmware.extract import extract_firmware

    out = tmp_path / "out"
    info, roots = extract_firmware(dalvik_image, out)
    next(out.rglob("core.odex")).unlink()
    discover(info, out, roots)
    app = apk_by_device_path(info)["/system/app/DalvikSms/DalvikSms.apk"]
    assert app.recovered is not None and app.recovered.dex[0].state == "approximated"
    assert "boot class path not in the firmware: /system/framework/core.jar" in (app.code_approximated or "")


# -- hostile input: damaged optimized files are one clear reason, never a traceback ---------------------------
def test_damaged_optimized_files_never_raise_anything_else(tmp_path: Path) -> None:
    import random

    from toolkit.acquisition.firmware.cdex import write_cdex

    q, t = writers.quicken_dex(DEX)
    samples = [
        oat.write_oat_elf(oat.write_oat([("/a.apk", q)], "088", quickening=[t], checksums=[zlib.crc32(DEX)])),
        oat.write_oat_elf(oat.write_oat([("/a.apk", q), ("/a.apk:classes2.dex", DEX2)], "064"), False),
        vdex.write_old_vdex([q], "006", [t]), vdex.write_old_vdex([q, DEX2], "010", [t, {}]),
        vdex.write_old_vdex([DEX], "021"), odex.write_odex(writers.quicken_dex(DEX, dalvik=True)[0]),
        vdex.write_old_vdex([write_cdex(DEX2)], "021"),
    ]
    rng = random.Random(15)
    p = tmp_path / "x.bin"
    outcomes = {"ok": 0, "refused": 0}
    for blob in samples:
        for _ in range(60):
            b = bytearray(blob)
            if rng.random() < 0.3:
                b = b[: rng.randrange(len(b))]
            else:
                for _ in range(rng.randint(1, 8)):
                    i = rng.randrange(len(b) - 4)
                    b[i : i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\0\0\0\0", bytes([rng.randrange(256)]) * 4])
            p.write_bytes(bytes(b))
            try:
                recover(p, "x.bin")
                outcomes["ok"] += 1
            except FirmwareError as e:
                assert e.reason and "\n" not in e.reason
                outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["ok"] > 0  # both paths were exercised


def test_android6_oat_is_deodexed_against_its_boot_image(tmp_path: Path) -> None:
    """OAT 064 keeps no quickening tables: baksmali resolves the vtable indices with the boot image of the ISA."""
    need("mke2fs", "baksmali", "smali")
    from tests.acquisition.firmware import dalvik_boot

    boot = dalvik_boot.build_boot_dex(tmp_path)
    src = tmp_path / "src"
    (src / "framework" / "arm64").mkdir(parents=True)
    (src / "framework" / "arm64" / "boot.oat").write_bytes(
        oat.write_oat_elf(oat.write_oat([("/system/framework/core-libart.jar", boot)], "064")))
    app_dir = src / "app" / "OatSms"
    (app_dir / "oat" / "arm64").mkdir(parents=True)
    (d,) = writers.strip_dex(APKS / "imei_sms_binary.apk", app_dir / "OatSms.apk")
    quick, n = dalvik_boot.quicken_dalvik(d, dalvik_boot.vtables(tmp_path / "core.dex"), art=True)
    assert n >= 10
    (app_dir / "oat" / "arm64" / "OatSms.odex").write_bytes(oat.write_oat_elf(oat.write_oat(
        [("/system/app/OatSms/OatSms.apk", quick), ("/system/app/OatSms/OatSms.apk:classes2.dex", DEX2)], "064",
        checksums=[zlib.crc32(d), zlib.crc32(DEX2)])))  # two DEX: baksmali is given the entry by its location
    (src / "build.prop").write_text("ro.build.version.sdk=23\n")
    info = run(writers.make_ext4(src, tmp_path / "system.img", size_mb=6), tmp_path / "out")
    app = apk_by_device_path(info)["/system/app/OatSms/OatSms.apk"]
    assert app.recovered is not None, issues_text(info)
    r = app.recovered.dex[0]
    assert r.state == "restored" and "baksmali" in (r.detail or "") and app.code_approximated is None, r.detail
    assert app.recovered.dex[1].state == "verbatim" and app.recovered.dex[1].crc_matches
    got = analyse_inputs([ApkInput(path=str(tmp_path / "out" / app.analysis_path))], ScanOptions(workers=1, no_cache=True))
    want = analyse_inputs([ApkInput(path=str(APKS / "imei_sms_binary.apk"))], ScanOptions(workers=1, no_cache=True))
    assert {f.rule_id for f in want[0].findings} <= {f.rule_id for f in got[0].findings} != set()
