"""The host key: ~/.android/adbkey reused, created 0600 with its .pub when missing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from toolkit.acquisition import adb
from toolkit.simulator import protocol as P


def test_host_key_is_created_private_and_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ANDROID_USER_HOME", raising=False)
    assert adb.default_key_path() == tmp_path / ".android" / "adbkey"
    key = adb.ensure_host_key()
    assert key == tmp_path / ".android" / "adbkey"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    pub = Path(str(key) + ".pub").read_bytes()
    P.decode_android_pubkey(pub)  # the adbkey.pub format Android expects
    before = key.read_bytes()
    assert adb.ensure_host_key() == key and key.read_bytes() == before  # reused, never regenerated
    # A key without its .pub (copied from another machine) gets the .pub rebuilt from it.
    Path(str(key) + ".pub").unlink()
    adb.ensure_host_key()
    assert Path(str(key) + ".pub").read_bytes().split(b" ")[0] == pub.split(b" ")[0]


def test_android_user_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDROID_USER_HOME", str(tmp_path / "alt"))
    assert adb.default_key_path() == tmp_path / "alt" / "adbkey"


def test_a_key_file_that_is_not_a_key_is_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "adbkey"
    bad.write_text("not a PEM key\n")
    with pytest.raises(adb.AdbError) as info:
        adb.ensure_host_key(bad)
    assert info.value.kind == "failed"
    assert info.value.message.startswith(f"{bad}: not an adb private key") and "\n" not in info.value.message
    assert not (tmp_path / "adbkey.pub").exists()  # nothing derived from a bad key


def test_a_key_that_cannot_be_created_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the key's folder should be")
    with pytest.raises(adb.AdbError, match=r"cannot create or read the adb host key"):
        adb.ensure_host_key(blocker / "adbkey")
