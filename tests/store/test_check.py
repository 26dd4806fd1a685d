"""run_store_check on damaged input: what could not be checked is said for the APK concerned, the rest goes on."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.store.support import copy_apks
from toolkit.pipeline import ScanOptions
from toolkit.store import StoreCheckOptions, run_store_check


def test_unlistable_classes_are_a_warning_on_that_apk(tmp_path: Path, fixture_apks: Path,
                                                      scan_options: ScanOptions) -> None:
    store = copy_apks(tmp_path / "store", fixture_apks / "flashlight.apk")
    with zipfile.ZipFile(fixture_apks / "flashlight.apk") as zi, zipfile.ZipFile(store / "baddex.apk", "w") as zo:
        for item in zi.infolist():  # the manifest stays readable, the DEX does not
            zo.writestr(item, b"dex\n035\x00" + b"\xff" * 200 if item.filename == "classes.dex" else zi.read(item))
    (store / "truncated.apk").write_bytes((fixture_apks / "cloudmsg.apk").read_bytes()[:3000])
    result = run_store_check([store], StoreCheckOptions(scan=scan_options))
    by_name = {Path(a.path).name: a for a in result.apks}
    assert by_name["flashlight.apk"].status.value == "analysed"
    assert by_name["truncated.apk"].status.value == "not_analysed" and by_name["truncated.apk"].reason
    warnings = [e for e in result.input_errors if Path(e.path).name == "baddex.apk"]
    assert [e.level for e in warnings] == ["warning"]
    assert warnings[0].reason.startswith("class list incomplete (SDK detection may miss code): classes.dex: ")
    assert result.store is not None
    verdicts = {Path(c.apk_path).name: c.verdict.verdict for c in result.store.signer_checks}
    assert verdicts["truncated.apk"] == "unreadable" and verdicts["flashlight.apk"] in ("genuine", "unverified")
