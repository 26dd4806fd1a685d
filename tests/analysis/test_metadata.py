"""Manifest and signing facts through phonehome's androguard wrapper, checked against the fixture ground truth."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest
import yaml

from toolkit.analysis.androguard_backend import ApkParseError, open_apk
from toolkit.models import ApkMetadata

REPO = Path(__file__).resolve().parents[2]


def key_digest(name: str) -> str:
    pem = (REPO / "fixtures" / "keys" / f"{name}.cert.pem").read_text()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


@pytest.fixture(scope="module")
def cloudmsg() -> ApkMetadata:
    return open_apk(REPO / "fixtures" / "apks" / "cloudmsg.apk").metadata()


def test_system_app_facts(cloudmsg: ApkMetadata) -> None:
    truth = yaml.safe_load((REPO / "fixtures" / "apps" / "cloudmsg" / "truth.yml").read_text())
    assert cloudmsg.package == truth["package"]
    assert cloudmsg.shared_user_id == "android.uid.system"
    assert cloudmsg.persistent is True
    assert set(truth["facts"]["permissions"]) <= set(cloudmsg.permissions)
    boot = cloudmsg.component("com.vendor.cloudmsg.BootReceiver")
    assert boot is not None and boot.kind == "receiver"
    assert "android.intent.action.BOOT_COMPLETED" in boot.actions
    # targetSdk 19 and an intent filter: implicitly exported, as Android < 12 treats it.
    assert boot.exported is True
    service = cloudmsg.component("com.vendor.cloudmsg.PushService")
    assert service is not None and service.exported is False
    sms = cloudmsg.component("com.vendor.cloudmsg.SmsReceiver")
    assert sms is not None and sms.intent_filters[0].priority == 1000
    assert cloudmsg.dex_files == ["classes.dex"]


def test_signers_match_the_fixture_keys() -> None:
    genuine = open_apk(REPO / "fixtures" / "apks" / "flashlight.apk").metadata()
    tampered = open_apk(REPO / "fixtures" / "apks" / "flashlight_tampered.apk").metadata()
    assert genuine.package == tampered.package
    assert [c.sha256 for c in genuine.certificates] == [key_digest("dev")]
    assert [c.sha256 for c in tampered.certificates] == [key_digest("other")]
    for meta in (genuine, tampered):
        assert {"v1", "v2"} <= set(meta.signature_schemes)
        assert set(meta.certificates[0].schemes) >= {"v1", "v2"}
        assert meta.signature_problems == []


def test_not_an_apk_raises_parse_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.apk"
    bogus.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ApkParseError):
        open_apk(bogus)


def test_android_process_is_read_and_qualified() -> None:
    meta = open_apk(REPO / "fixtures" / "apks" / "bench_android_15.apk").metadata()
    by_name = {c.name.rsplit(".", 1)[1]: c.process for c in meta.components}
    # android:process=":remote" is private to the app: the system names it package:remote
    assert by_name == {"MainActivity": None, "LocalSyncService": None,
                       "RemoteSyncService": "com.phonehome.fx.bench_android_15:remote"}
