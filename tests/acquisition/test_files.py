"""APK inputs from files and folders: every path given either becomes inputs or an error that names it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import FIXTURE_APKS
from toolkit.acquisition.files import collect_apk_inputs


def test_folders_are_walked_sorted_and_problems_named(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "b").mkdir(parents=True)
    shutil.copy(FIXTURE_APKS / "flashlight.apk", store / "b" / "Flash.APK")
    shutil.copy(FIXTURE_APKS / "cloudmsg.apk", store / "a.apk")
    (store / "notes.txt").write_text("not an app")
    (tmp_path / "empty").mkdir()
    inputs, errors = collect_apk_inputs([store, store / "a.apk", tmp_path / "empty", tmp_path / "missing.apk"])
    assert [i.provenance.chain for i in inputs] == [["a.apk"], ["b/Flash.APK"]]  # a.apk given twice: once
    assert [(Path(e.path).name, e.reason) for e in errors] == [
        ("empty", "folder contains no .apk files"), ("missing.apk", "no such file or directory")]


def test_a_folder_that_cannot_be_listed_is_an_error_not_a_silent_gap(tmp_path: Path) -> None:
    """A sub-folder whose path is longer than PATH_MAX cannot be listed (ENAMETOOLONG, even for root): the APKs
    beside it are still found, and the unlisted folder is named."""
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(FIXTURE_APKS / "flashlight.apk", store / "ok.apk")
    fd = os.open(store, os.O_RDONLY)
    try:
        for _ in range(22):  # 22 x 200 characters > 4096
            os.mkdir("d" * 200, dir_fd=fd)
            child = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    inputs, errors = collect_apk_inputs([store])
    assert [Path(i.path).name for i in inputs] == ["ok.apk"]
    assert len(errors) == 1 and errors[0].reason.startswith("folder not readable: ")
    assert errors[0].path.startswith(str(store / ("d" * 200)))
