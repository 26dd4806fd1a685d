"""toolkit.usecases on a fixed result: paths relative to the scanned root, nothing-scanned detection."""

from __future__ import annotations

from pathlib import Path

from toolkit.models import InputError, ScanResult
from toolkit.usecases import nothing_scanned, relative_to_root

SCAN = Path(__file__).parent / "report" / "data" / "scan_result.json"


def test_relative_to_root_rewrites_paths_and_keeps_the_root_in_the_target(tmp_path: Path) -> None:
    result = ScanResult.model_validate_json(SCAN.read_text(encoding="utf-8"))
    root = tmp_path / "evidence"
    result.target.inputs = [str(root)]
    result.apks[0].path = str(root / "apks" / "system" / "app" / "A.apk")
    finding = result.apks[0].findings[0]
    finding.evidence = [f"found in dex of {root}/apks/system/app/A.apk (sha256 x)", "/elsewhere/b.apk"]
    relative = relative_to_root(result, root)
    assert relative.apks[0].path == "apks/system/app/A.apk"
    assert relative.apks[0].findings[0].evidence == ["found in dex of apks/system/app/A.apk (sha256 x)",
                                                     "/elsewhere/b.apk"]
    assert relative.target.inputs == [str(root)]
    assert relative_to_root(result, tmp_path / "unrelated") is result


def test_nothing_scanned_only_when_no_apk_and_an_error() -> None:
    result = ScanResult.model_validate_json(SCAN.read_text(encoding="utf-8"))
    assert not nothing_scanned(result)
    empty = result.model_copy(update={"apks": [], "inventory": None,
                                      "input_errors": [InputError(path="/x", reason="no such file or directory")]})
    assert nothing_scanned(empty)
    assert not nothing_scanned(empty.model_copy(update={"input_errors": []}))
