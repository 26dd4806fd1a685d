"""Hostile and broken zips are refused or flagged before any parser sees them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from toolkit.analysis import analyse_apk
from toolkit.analysis.container import check_container
from toolkit.models import Status

REPO = Path(__file__).resolve().parents[2]
GOOD = REPO / "fixtures" / "apks" / "flashlight.apk"


def write_zip(path: Path, entries: list[tuple[str, bytes]]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    path.write_bytes(buffer.getvalue())
    return path


def test_good_apk_passes() -> None:
    check = check_container(GOOD)
    assert check.fatal is None
    assert check.has_manifest and check.dex_entries == ["classes.dex"]


def test_compression_ratio_alone_is_not_fatal(tmp_path: Path) -> None:
    # Real apps ship highly compressible entries; what is inflated is bounded instead (tests/analysis/
    # test_hostile_apk.py), so the container check neither refuses nor inflates them.
    bomb = write_zip(tmp_path / "bomb.apk", [("AndroidManifest.xml", b"x"), ("classes.dex", b"\0" * (64 << 20))])
    assert bomb.stat().st_size < 1 << 20
    check = check_container(bomb)
    assert check.fatal is None and check.dex_entries == ["classes.dex"]


def test_duplicate_and_traversal_names_are_recorded(tmp_path: Path) -> None:
    with zipfile.ZipFile(GOOD) as src:
        entries = [(i.filename, src.read(i.filename)) for i in src.infolist()]
    entries += [("classes.dex", entries[0][1]), ("../../evil.so", b"x"), ("/abs/path", b"y")]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we write on purpose
        hostile = write_zip(tmp_path / "hostile.apk", entries)
    check = check_container(hostile)
    assert check.fatal is None
    joined = " | ".join(check.problems)
    assert "duplicate zip entry 'classes.dex'" in joined
    assert "'../../evil.so'" in joined and "'/abs/path'" in joined


def test_zip_without_manifest_is_not_an_apk(tmp_path: Path) -> None:
    plain = write_zip(tmp_path / "plain.apk", [("hello.txt", b"hi")])
    report = analyse_apk(plain)
    assert report.status is Status.not_analysed
    assert report.reason == "not an APK: the zip has no AndroidManifest.xml"
    assert report.sha256 is not None


def test_odexed_apk_without_dex_is_partial_with_manifest(tmp_path: Path) -> None:
    with zipfile.ZipFile(GOOD) as src:
        entries = [(i.filename, src.read(i.filename)) for i in src.infolist() if i.filename != "classes.dex"]
    stripped = write_zip(tmp_path / "stripped.apk", entries)
    report = analyse_apk(stripped)
    assert report.status is Status.partial
    assert report.package == "com.brightlight.flashlight"
    assert report.reason and "no classes.dex" in report.reason
