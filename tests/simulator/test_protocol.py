"""The device-side protocol pieces: Android public key format, token signatures, packets."""

from __future__ import annotations

from pathlib import Path

from tests.simulator.support import make_host_key
from toolkit.acquisition.adb import _signer
from toolkit.simulator import protocol as P


def test_android_pubkey_roundtrip_and_adb_shell_signature(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    pub = P.decode_android_pubkey(Path(str(key) + ".pub").read_bytes())
    # Re-encoding gives the same struct adb-shell wrote (modulus, n0inv, rr, exponent).
    assert P.encode_android_pubkey(pub).split(b" ")[0] == Path(str(key) + ".pub").read_bytes().split(b" ")[0]
    token = bytes(range(20))
    signature = _signer(key).Sign(token)  # adb-shell's real signer
    assert P.verify_token_signature(pub, token, signature)
    assert not P.verify_token_signature(pub, bytes(20), signature)
    other = P.decode_android_pubkey(Path(str(make_host_key(tmp_path / "other")) + ".pub").read_bytes())
    assert not P.verify_token_signature(other, token, signature)


def test_packet_checksum_and_magic() -> None:
    pkt = P.Packet(P.A_WRTE, 1, 2, b"\x01\xff")
    raw = pkt.pack()
    command, arg0, arg1, length, check = P.parse_header(raw[:24])
    assert (command, arg0, arg1, length, check) == (P.A_WRTE, 1, 2, 2, 0x100)
    assert P.verify_checksum(b"\x01\xff", 0)  # hosts at version 0x01000001 may send 0
    assert not P.verify_checksum(b"\x01\xff", 7)


def test_bad_public_key_is_refused() -> None:
    try:
        P.decode_android_pubkey(b"QUJD user@host")
    except ValueError as e:
        assert "expected" in str(e)
    else:  # pragma: no cover
        raise AssertionError("a 3-byte key was accepted")
