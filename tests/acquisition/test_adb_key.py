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
