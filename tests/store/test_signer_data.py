"""The signer and tracker data files: schema, traceable values, and digests recomputed from the committed PEMs."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest

from toolkit.store.data import (
    SIGNERS_DIR,
    StoreDataError,
    load_check_rules,
    load_pins,
    load_test_keys,
    load_trackers,
)

KEYS_DIR = Path(__file__).resolve().parent / "keys"


def der_sha256(pem: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.read_text(encoding="ascii"))).hexdigest()


def test_test_key_digests_match_committed_certificates() -> None:
    keys = load_test_keys()
    names = {k.name for k in keys.keys}
    assert {"platform", "testkey", "shared", "media", "networkstack"} <= names
    checked = 0
    for key in keys.keys:
        if key.pem:
            assert der_sha256(SIGNERS_DIR / key.pem) == key.sha256, key.name
            checked += 1
    assert checked >= 4


def test_platform_private_key_belongs_to_the_aosp_platform_certificate() -> None:
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    x509 = pytest.importorskip("cryptography.x509")
    private = serialization.load_der_private_key((KEYS_DIR / "aosp_platform.pk8").read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((SIGNERS_DIR / "aosp" / "platform.x509.pem").read_bytes())
    assert private.public_key().public_numbers() == cert.public_key().public_numbers()


def test_every_pin_has_a_source_and_valid_digests() -> None:
    pins = load_pins()
    assert pins, "the shipped pin file must not be empty"
    for pin in pins:
        assert pin.source.strip()
        assert all(len(d) == 64 for d in pin.sha256)
    assert any(p.package == "org.thoughtcrime.securesms" for p in pins)


def test_check_rules_cover_every_signer_finding() -> None:
    rules = load_check_rules()
    for rule_id in ("signer-test-key", "signer-pinning-mismatch", "signer-debug-cert", "signer-scheme-mismatch",
                    "platform-key-mismatch", "signer-malformed", "store-copy-modified"):
        assert rules[rule_id].why and rules[rule_id].description
    assert rules["signer-pinning-mismatch"].severity.value == "high"


def test_trackers_load_with_version_and_unique_ids() -> None:
    signatures, version = load_trackers()
    assert "trackers@" in version
    ids = [s.id for s in signatures]
    assert len(ids) == len(set(ids)) and len(ids) > 20
    assert all(s.website.startswith("https://") for s in signatures)


def test_bad_user_files_name_the_file_and_reason(tmp_path: Path) -> None:
    bad_pin = tmp_path / "pins.yml"
    bad_pin.write_text("version: 1\npins:\n  - package: x.y\n    sha256: [abc]\n    source: me\n", encoding="utf-8")
    with pytest.raises(StoreDataError, match=r"pins\.yml.*SHA-256"):
        load_pins([bad_pin])
    no_source = tmp_path / "nosource.yml"
    no_source.write_text("version: 1\npins:\n  - package: x.y\n    sha256: [" + "a" * 64 + "]\n", encoding="utf-8")
    with pytest.raises(StoreDataError, match=r"nosource\.yml.*source"):
        load_pins([no_source])
    bad_tracker = tmp_path / "t.yml"
    bad_tracker.write_text("version: '1'\ntrackers:\n  - id: Bad Id\n    name: x\n    categories: [a]\n    website: w\n",
                           encoding="utf-8")
    with pytest.raises(StoreDataError, match=r"t\.yml"):
        load_trackers([bad_tracker])
    dup = tmp_path / "dup.yml"
    dup.write_text("version: '1'\ntrackers:\n  - id: okhttp\n    name: x\n    categories: [library]\n    website: w\n",
                   encoding="utf-8")
    with pytest.raises(StoreDataError, match="already defined"):
        load_trackers([dup])


@pytest.mark.parametrize(("content", "expected"), [
    (b"pins: [unclosed\n", "not valid YAML: line 2 column 1: expected ',' or ']'"),
    (b"\xff\xfe\x00binary", "not a UTF-8 text file"),
])
def test_unreadable_user_data_file_is_one_line_naming_it(tmp_path: Path, content: bytes, expected: str) -> None:
    bad = tmp_path / "mine.yml"
    bad.write_bytes(content)
    for load in (lambda: load_pins([bad]), lambda: load_trackers([bad])):
        with pytest.raises(StoreDataError) as info:
            load()
        message = str(info.value)
        assert message.startswith(f"{bad}: ") and expected in message and "\n" not in message
