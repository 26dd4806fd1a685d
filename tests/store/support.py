"""Helpers of the store tests: paths, digests, and APKs with damaged signatures made from the fixtures."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STORE_DATA = HERE / "data"
REPO = HERE.parent.parent
DEV_SHA256 = "7b40f335d0b11ba8839df473af5c943c5c1762f7864448ffc293730e33ebe9ff"  # fixtures/keys/dev.cert.pem
OTHER_SHA256 = "033c05113250db2011d11054eb558c819da20ca483599393a1f8d671cb211a0e"  # fixtures/keys/other.cert.pem
AOSP_PLATFORM_SHA256 = "c8a2e9bccf597c2fb6dc66bee293fc13f2fc47ec77bc6b2b0d52c11f51192ab8"


def copy_apks(folder: Path, *sources: Path, names: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, source in enumerate(sources):
        shutil.copy(source, folder / (names[index] if names else source.name))
    return folder


def _der(cert_pem: Path) -> bytes:
    return subprocess.run(["openssl", "x509", "-in", str(cert_pem), "-outform", "DER"], capture_output=True,
                          check=True).stdout


def corrupt_v1_certificate(source: Path, target: Path) -> Path:
    """Rewrite the APK with 40 bytes of the certificate inside META-INF/*.RSA overwritten (the rewrite also drops
    the v2 block, so no readable signer is left)."""
    der = _der(REPO / "fixtures" / "keys" / "dev.cert.pem")
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith(".RSA"):
                pos = data.find(der)
                assert pos >= 0, "certificate not found in the v1 block"
                data = data[: pos + 60] + b"\xff" * 40 + data[pos + 100 :]
            zout.writestr(info, data)
    return target


def corrupt_v2_certificate(source: Path, target: Path) -> Path:
    """Overwrite 40 bytes of the certificate inside the APK Signing Block, in place (v1 stays intact)."""
    der = _der(REPO / "fixtures" / "keys" / "dev.cert.pem")
    raw = bytearray(source.read_bytes())
    pos = raw.find(der)
    assert pos >= 0 and raw.count(der) == 1, "certificate not found once in the signing block"
    raw[pos + 60 : pos + 100] = b"\xff" * 40
    target.write_bytes(bytes(raw))
    return target


def corrupt_v2_block_size(source: Path, target: Path) -> Path:
    """Make the APK Signing Block's leading size disagree with its trailing size."""
    raw = bytearray(source.read_bytes())
    magic = raw.find(b"APK Sig Block 42")
    assert magic > 0
    raw[magic - 8 : magic] = struct.pack("<Q", 10**12)
    target.write_bytes(bytes(raw))
    return target


def _eocd(raw: bytes) -> int:
    pos = raw.rfind(b"PK\x05\x06")
    assert pos >= 0
    return pos


def _block_span(raw: bytes) -> tuple[int, int] | None:
    cd = struct.unpack_from("<I", raw, _eocd(raw) + 16)[0]
    if raw[cd - 16 : cd] != b"APK Sig Block 42":
        return None
    size = struct.unpack_from("<Q", raw, cd - 24)[0]
    return cd - size - 8, cd


def _block(raw: bytes) -> bytes:
    span = _block_span(raw)
    assert span is not None, "donor has no APK Signing Block"
    return raw[span[0] : span[1]]


def _without_block(raw: bytes) -> bytes:
    span = _block_span(raw)
    if span is None:
        return raw
    out = bytearray(raw[: span[0]] + raw[span[1] :])
    struct.pack_into("<I", out, _eocd(bytes(out)) + 16, span[0])
    return bytes(out)


def splice_v2_block(v1_apk: Path, donor: Path, target: Path) -> Path:
    """An APK with v1_apk's entries and v1 signature, its own signing block (if any) replaced by `donor`'s: the
    shape of an APK that shows one signer to v1-only verifiers and another to v2+ verifiers."""
    base = _without_block(v1_apk.read_bytes())
    block = _block(donor.read_bytes())
    cd = struct.unpack_from("<I", base, _eocd(base) + 16)[0]
    out = bytearray(base[:cd] + block + base[cd:])
    struct.pack_into("<I", out, _eocd(bytes(out)) + 16, cd + len(block))
    target.write_bytes(bytes(out))
    return target
