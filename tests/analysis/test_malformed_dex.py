"""Malformed DEX (issue 12 item 5): a string offset past the end of the file, or a code item whose tries count
runs past it, gives one line naming the file and the reason and a `partial` report; never a traceback."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from toolkit.analysis import analyse_apk
from toolkit.analysis.dex import DexFile
from toolkit.models import Status

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "apks" / "imei_http_post.apk"


def _with_dex(tmp_path: Path, patch) -> Path:  # noqa: ANN001 - (bytearray, DexFile) -> None
    out = tmp_path / "hostile.apk"
    with zipfile.ZipFile(FIXTURE) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "classes.dex":
                blob = bytearray(data)
                patch(blob, DexFile(data))
                data = bytes(blob)
            dst.writestr(info.filename, data)
    return out


def _leaky_method_code_off(dex: DexFile) -> int:
    for m in dex.methods:
        code = dex.code(m) if m.code_off else None
        if code is not None and any(dex.method_ref(i.idx)[1] == "getDeviceId" for i in code.insns if 0x6E <= i.op <= 0x78):
            return m.code_off
    raise AssertionError("no method reads the IMEI in the fixture")


def _check(apk: Path, capfd: pytest.CaptureFixture[str]) -> None:
    report = analyse_apk(apk)
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert report.status is Status.partial, (report.status, report.reason)
    assert report.reason and ("malformed" in report.reason or "failed" in report.reason or "unreadable" in report.reason)
    assert report.metadata is not None  # the manifest and certificates are still evidence


def test_a_tries_count_past_the_end_is_one_problem(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    def patch(blob: bytearray, dex: DexFile) -> None:
        off = _leaky_method_code_off(dex)
        struct.pack_into("<H", blob, off + 6, 0xFFFF)  # tries_size

    _check(_with_dex(tmp_path, patch), capfd)


def test_a_string_offset_past_the_end_is_one_problem(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    def patch(blob: bytearray, dex: DexFile) -> None:
        idx = dex.strings_with_prefix("http")[0]  # a constant only code uses: the class tables still read
        struct.pack_into("<I", blob, dex.string_ids_off + 4 * idx, len(blob) + 4096)

    _check(_with_dex(tmp_path, patch), capfd)
