"""Bad input never crashes analyse_apk, gets a clear reason, and the rest of a batch goes on."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from toolkit.analysis import analyse_apk
from toolkit.models import ApkInput, Status
from toolkit.pipeline import ScanOptions, analyse_inputs

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "fixtures" / "apks" / "imei_http_post.apk"


def _entries() -> dict[str, bytes]:
    with zipfile.ZipFile(GOOD) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write(path: Path, entries: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return path


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "notes.apk"
    path.write_text("hello, I am not an APK")
    report = analyse_apk(path)
    assert report.status == Status.not_analysed
    assert report.reason and "no zip signature" in report.reason
    assert report.sha256 and len(report.sha256) == 64


def test_truncated_zip(tmp_path: Path) -> None:
    path = tmp_path / "truncated.apk"
    path.write_bytes(GOOD.read_bytes()[: GOOD.stat().st_size // 2])
    report = analyse_apk(path)
    assert report.status == Status.not_analysed
    assert report.reason and ("truncated" in report.reason or "zip" in report.reason)


def test_compression_bomb(tmp_path: Path) -> None:
    # 64 MiB of zeros (1000:1) in an asset: bounded by what is inflated, never refused for its ratio (issue 12)
    entries = list(_entries().items()) + [("assets/bomb.bin", b"\0" * (64 << 20))]
    report = analyse_apk(_write(tmp_path / "bomb.apk", entries))
    assert report.status == Status.analysed, report.reason
    assert report.flows and report.findings


def test_duplicate_and_absolute_entries_still_analysed(tmp_path: Path) -> None:
    entries = list(_entries().items())
    dex = dict(entries)["classes.dex"]
    entries += [("classes.dex", dex), ("/etc/evil", b"x"), ("../../escape", b"y")]
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name it is asked to write
        path = _write(tmp_path / "hostile.apk", entries)
    report = analyse_apk(path)
    # Android would refuse to install it, but the code is still evidence: analysed, problems logged
    assert report.status in (Status.analysed, Status.partial), report.reason
    assert report.package == "com.phonehome.fx.imei_http_post"


def test_malformed_dex(tmp_path: Path) -> None:
    entries = [(n, (b"dex\n035\0" + b"\xff" * 200) if n == "classes.dex" else d) for n, d in _entries().items()]
    report = analyse_apk(_write(tmp_path / "baddex.apk", entries))
    assert report.status == Status.partial
    assert report.reason and "classes.dex" in report.reason
    assert report.metadata is not None and report.metadata.package == "com.phonehome.fx.imei_http_post"


def test_no_dex_odexed(tmp_path: Path) -> None:
    entries = [(n, d) for n, d in _entries().items() if n != "classes.dex"]
    report = analyse_apk(_write(tmp_path / "odexed.apk", entries))
    assert report.status == Status.partial
    assert report.reason and "no classes.dex" in report.reason
    assert report.metadata is not None and report.metadata.permissions


def test_garbage_manifest(tmp_path: Path) -> None:
    entries = [(n, b"\x03\x00\x08\x00garbage" if n == "AndroidManifest.xml" else d) for n, d in _entries().items()]
    report = analyse_apk(_write(tmp_path / "badmanifest.apk", entries))
    assert report.status in (Status.not_analysed, Status.partial)
    assert report.reason


def test_missing_file(tmp_path: Path) -> None:
    report = analyse_apk(tmp_path / "nope.apk")
    assert report.status == Status.not_analysed and report.reason and "cannot read" in report.reason


def test_batch_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.apk"
    bad.write_bytes(b"PK\x03\x04 broken")
    inputs = [ApkInput(path=str(bad)), ApkInput(path=str(GOOD))]
    reports = analyse_inputs(inputs, ScanOptions(workers=1))
    assert [r.status for r in reports] == [Status.not_analysed, Status.analysed]
    assert reports[1].flows and reports[1].findings


def test_time_budget_gives_partial() -> None:
    from toolkit.analysis import AnalysisOptions

    report = analyse_apk(ROOT / "fixtures" / "apks" / "cloudmsg.apk", AnalysisOptions(time_budget_seconds=0.0))
    assert report.status == Status.partial
    assert report.reason and "time budget" in report.reason
    assert report.stats.budget_exhausted
