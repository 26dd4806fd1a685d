"""Hostile APKs built at test time (issue 12, items 1, 3, 4 and the parse-failure goal of issue 11).

Each case writes the hostile zip or manifest itself (zipfile, smali, tests/analysis/axml_writer.py) around the
real imei_http_post fixture, whose launcher activity sends the IMEI over HTTP, and checks that the leak is still
reported and that the report says what was odd or cut.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest

from tests.analysis.axml_writer import ANDROID, El, launcher_manifest, write_axml
from toolkit.analysis import analyse_apk, container
from toolkit.analysis.androguard_backend import open_apk
from toolkit.analysis.axml import max_depth, read_axml
from toolkit.analysis.container import ApkArchive, InflateLimit, check_container
from toolkit.models import Severity, Status

ROOT = Path(__file__).resolve().parents[2]
LEAKY = ROOT / "fixtures" / "apks" / "imei_http_post.apk"
PACKAGE = "com.phonehome.fx.imei_http_post"
CLEAN_SMALI = """
.class public Lcom/phonehome/fx/imei_http_post/MainActivity;
.super Landroid/app/Activity;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/app/Activity;-><init>()V
    return-void
.end method

.method protected onCreate(Landroid/os/Bundle;)V
    .registers 2
    invoke-super {p0, p1}, Landroid/app/Activity;->onCreate(Landroid/os/Bundle;)V
    return-void
.end method
"""


def _entries() -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(LEAKY) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def _write(path: Path, entries: list[tuple[str, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which some cases write on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def _imei_flows(report: object) -> list[object]:
    return [f for f in report.flows if f.source.kind == "imei" and f.sink.kind == "network"]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def clean_dex(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A classes.dex defining the same MainActivity as the fixture, without the leak (assembled with smali)."""
    if shutil.which("smali") is None:
        pytest.skip("smali not installed (apt-get install smali)")
    work = tmp_path_factory.mktemp("clean")
    (work / "MainActivity.smali").write_text(CLEAN_SMALI)
    subprocess.run(["smali", "assemble", "-o", str(work / "classes.dex"), str(work / "MainActivity.smali")],
                   check=True, capture_output=True)
    return (work / "classes.dex").read_bytes()


# --- item 1: duplicate entries -------------------------------------------------------------------------------


@pytest.mark.parametrize("leaky_first", [True, False], ids=["leaky-then-clean", "clean-then-leaky"])
def test_duplicate_dex_every_copy_analysed_and_reported(tmp_path: Path, clean_dex: bytes, leaky_first: bool) -> None:
    entries = _entries()
    leaky_dex = dict(entries)["classes.dex"]
    copies = [leaky_dex, clean_dex] if leaky_first else [clean_dex, leaky_dex]
    rest = [(n, d) for n, d in entries if n != "classes.dex"]
    apk = _write(tmp_path / "masterkey.apk", rest + [("classes.dex", copies[0]), ("classes.dex", copies[1])])

    report = analyse_apk(apk)

    assert _imei_flows(report), f"the leak in one copy was missed ({report.status}: {report.reason})"
    dup = [f for f in report.findings if f.rule_id == "duplicate-zip-entry"]
    assert len(dup) == 1 and dup[0].severity is Severity.high
    text = dup[0].message + " ".join(dup[0].evidence)
    assert "classes.dex" in text
    for data in copies:
        assert hashlib.sha256(data).hexdigest() in text
    assert report.metadata is not None and report.metadata.dex_files == ["classes.dex", "classes.dex#2"]


def test_duplicate_manifest_is_a_finding(tmp_path: Path) -> None:
    entries = _entries()
    other = write_axml(launcher_manifest("com.example.innocent", ".MainActivity", []))
    apk = _write(tmp_path / "twomanifests.apk", entries + [("AndroidManifest.xml", other)])
    report = analyse_apk(apk)
    dup = [f for f in report.findings if f.rule_id == "duplicate-zip-entry"]
    assert len(dup) == 1 and "AndroidManifest.xml" in dup[0].message
    assert hashlib.sha256(other).hexdigest() in " ".join(dup[0].evidence)


def test_duplicate_manifest_every_copy_gives_entry_points(tmp_path: Path) -> None:
    # The leaky manifest (declaring the launcher activity) first, an innocent one last: the last is the one
    # androguard and Python's zipfile read, yet the leak reachable from the first copy's activity is reported.
    innocent = write_axml(El("manifest", {"package": PACKAGE}, [El("application", {"android:label": "x"})]))
    report = analyse_apk(_write(tmp_path / "twomanifests.apk", _entries() + [("AndroidManifest.xml", innocent)]))
    assert report.metadata is not None and report.metadata.components == []
    assert _imei_flows(report)
    assert [f.rule_id for f in report.findings if f.rule_id == "duplicate-zip-entry"]


def test_identical_duplicate_is_a_problem_not_a_finding(tmp_path: Path) -> None:
    entries = _entries()
    apk = _write(tmp_path / "same.apk", entries + [("classes.dex", dict(entries)["classes.dex"])])
    check = check_container(apk)
    assert check.duplicates and not check.duplicates[0].differs
    assert any("identical" in p for p in check.problems)
    assert not [f for f in analyse_apk(apk).findings if f.rule_id == "duplicate-zip-entry"]


# --- item 3: compression bombs bound what is inflated, assets never stop the code analysis ------------------------


def test_compressible_asset_does_not_block_analysis(tmp_path: Path) -> None:
    apk = _write(tmp_path / "zeros.apk", _entries() + [("assets/zeros.bin", b"\0" * (2 << 20))])  # 1023:1
    report = analyse_apk(apk)
    assert report.status is Status.analysed, report.reason
    assert _imei_flows(report)


def test_asset_over_the_pool_is_cut_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "MAX_AUX_BYTES", 1 << 20)
    apk = _write(tmp_path / "bomb.apk", _entries() + [("assets/bomb.bin", b"\0" * (64 << 20))])
    report = analyse_apk(apk)
    assert _imei_flows(report)
    assert report.status is Status.partial
    assert report.reason and "assets/bomb.bin" in report.reason and "cap" in report.reason
    assert [(lim.name, lim.where) for lim in report.stats.limits] == [("inflate_aux_bytes", "assets/bomb.bin")]


def test_dex_over_the_entry_cap_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "MAX_ENTRY_BYTES", 4 << 20)
    monkeypatch.setattr("toolkit.analysis.androguard_backend.MAX_ENTRY_BYTES", 4 << 20)
    entries = [(n, d) for n, d in _entries() if n != "classes.dex"] + [("classes.dex", b"dex\n035\0" + bytes(64 << 20))]
    report = analyse_apk(_write(tmp_path / "dexbomb.apk", entries))
    assert report.status is Status.partial
    assert report.reason and "classes.dex" in report.reason and "per-entry cap" in report.reason
    assert ("inflate_entry_bytes", "classes.dex") in [(lim.name, lim.where) for lim in report.stats.limits]
    assert report.package == PACKAGE


def test_archive_streams_and_stops_at_the_cap(tmp_path: Path) -> None:
    apk = _write(tmp_path / "z.apk", [("AndroidManifest.xml", b"x"), ("big", bytes(32 << 20))])
    with ApkArchive(apk) as archive:
        info = archive.copies("big")[0]
        with pytest.raises(InflateLimit) as hit:
            archive.read(info, limit=1 << 20)
        assert hit.value.cap == "per-entry cap" and hit.value.limit == 1 << 20
        assert archive.inflated == 1 << 20  # stopped at the cap: nothing more was inflated
        assert len(archive.read(info, limit=1 << 20, truncate=True)) == 1 << 20


# --- item 4 and issue 11: manifests androguard cannot take --------------------------------------------------------


def _with_manifest(tmp_path: Path, name: str, manifest: bytes) -> Path:
    entries = [(n, manifest if n == "AndroidManifest.xml" else d) for n, d in _entries()]
    return _write(tmp_path / name, entries)


def _leaky_manifest() -> object:
    return launcher_manifest(PACKAGE, ".MainActivity",
                             ["android.permission.READ_PHONE_STATE", "android.permission.INTERNET"])


def test_deep_manifest_is_bounded_and_code_analysed(tmp_path: Path) -> None:
    manifest = write_axml(_leaky_manifest(), deep_chain=100_000)  # type: ignore[arg-type]
    assert max_depth(manifest) > 256
    report = analyse_apk(_with_manifest(tmp_path, "deep.apk", manifest))
    assert report.package == PACKAGE
    assert _imei_flows(report)
    assert report.status is Status.partial
    assert report.reason and "nested more than 256 deep" in report.reason
    assert [lim.name for lim in report.stats.limits] == ["manifest_depth"]


def test_unterminated_strings_manifest_parsed_by_fallback(tmp_path: Path) -> None:
    manifest = write_axml(_leaky_manifest(), terminate=False)  # type: ignore[arg-type]
    report = analyse_apk(_with_manifest(tmp_path, "unterminated.apk", manifest))
    assert report.status is not Status.not_analysed, report.reason
    assert report.metadata is not None and report.metadata.package == PACKAGE
    assert "android.permission.READ_PHONE_STATE" in report.metadata.permissions
    assert [c.name for c in report.metadata.components] == [f"{PACKAGE}.MainActivity"]
    assert _imei_flows(report)
    assert report.reason and "AndroidManifest.xml" in report.reason and "tolerant reader" in report.reason


def test_tolerant_reader_at_its_own_level() -> None:
    manifest = write_axml(_leaky_manifest(), terminate=False, deep_chain=300)  # type: ignore[arg-type]
    result = read_axml(manifest)
    assert result.root is not None and result.root.get("package") == PACKAGE
    activity = result.root.find("application/activity")
    assert activity is not None and activity.get(f"{{{ANDROID}}}name") == ".MainActivity"
    assert result.max_depth == 301 and result.dropped_deep == 300 - 255
    # a string offset past the pool gives an empty string, not an exception
    broken = bytearray(manifest)
    broken[8 + 28 : 8 + 32] = (0xFFFF).to_bytes(4, "little")
    assert read_axml(bytes(broken)).bad_strings == 1


def test_open_apk_reports_what_it_could_not_read(tmp_path: Path) -> None:
    manifest = write_axml(_leaky_manifest(), terminate=False)  # type: ignore[arg-type]
    loaded = open_apk(_with_manifest(tmp_path, "u.apk", manifest))
    assert any("androguard rejected it" in line for line in loaded.incomplete())


def test_tolerant_reader_agrees_with_androguard_on_every_fixture() -> None:
    """The fallback must say what androguard says wherever androguard can read the manifest."""
    import toolkit.analysis.androguard_backend as backend

    fields = ("package", "version_code", "version_name", "min_sdk", "target_sdk", "permissions", "components",
              "application_class", "shared_user_id", "persistent", "debuggable")
    apks = sorted((ROOT / "fixtures" / "apks").glob("*.apk"))
    assert apks
    for apk in apks:
        loaded = open_apk(apk)
        with zipfile.ZipFile(apk) as zf:
            root = read_axml(zf.read("AndroidManifest.xml")).root
        tolerant = backend._tolerant_metadata(loaded._apk, root, loaded.dex_names(), loaded.file_names())
        reference = loaded.metadata()
        for name in fields:
            assert getattr(tolerant, name) == getattr(reference, name), f"{apk.name}: {name}"


def test_manifest_over_its_cap_is_read_up_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("toolkit.analysis.androguard_backend.MAX_MANIFEST_BYTES", 1 << 20)
    manifest = write_axml(_leaky_manifest()) + bytes(8 << 20)  # type: ignore[arg-type]
    report = analyse_apk(_with_manifest(tmp_path, "bigmanifest.apk", manifest))
    assert report.package == PACKAGE and _imei_flows(report)
    assert report.status is Status.partial
    assert ("inflate_entry_bytes", "AndroidManifest.xml") in [(lim.name, lim.where) for lim in report.stats.limits]


def test_many_large_assets_give_one_line_per_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "MAX_AUX_BYTES", 1 << 20)
    assets = [(f"assets/a{i}.bin", bytes(512 << 10)) for i in range(40)]
    report = analyse_apk(_write(tmp_path / "many.apk", _entries() + assets))
    assert _imei_flows(report) and report.status is Status.partial
    assert report.reason and report.reason.count("inflation stopped") == 1
    assert "more entries cut or not read" in report.reason
    [limit] = report.stats.limits
    assert limit.name == "inflate_aux_bytes" and limit.count > 30
