"""The ADB wire protocol, device side: packet framing, checksums and the RSA auth check.

References: AOSP packages/modules/adb/protocol.txt (packet layout, CNXN/AUTH/OPEN/OKAY/WRTE/CLSE),
SYNC.TXT and file_sync_protocol.h (sync service), shell_protocol.h (shell v2 packets),
libcrypto_utils/android_pubkey.cpp (the host public key format).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_AUTH = 0x48545541
A_STLS = 0x534C5453

NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE", A_WRTE: "WRTE",
         A_AUTH: "AUTH", A_STLS: "STLS"}

A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001  # peers at this version may send 0 as the data checksum
MAX_PAYLOAD = 256 * 1024  # what this device offers; the connection uses min(host, device)

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3
TOKEN_SIZE = 20

HEADER = struct.Struct("<6I")

# Shell protocol v2 packet ids (shell_protocol.h)
SHELL_STDIN = 0
SHELL_STDOUT = 1
SHELL_STDERR = 2
SHELL_EXIT = 3
SHELL_CLOSE_STDIN = 4
SHELL_WINDOW_SIZE = 5


def checksum(data: bytes) -> int:
    """The legacy ADB data checksum: the byte sum modulo 2**32."""
    return sum(data) & 0xFFFFFFFF


@dataclass
class Packet:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, f"0x{self.command:08x}")

    def pack(self) -> bytes:
        # Always send a real checksum: adb-shell verifies every one, even at version 0x01000001.
        header = HEADER.pack(self.command, self.arg0, self.arg1, len(self.data), checksum(self.data),
                             self.command ^ 0xFFFFFFFF)
        return header + self.data


class ProtocolError(Exception):
    """The peer sent something that is not an ADB packet."""


def parse_header(raw: bytes) -> tuple[int, int, int, int, int]:
    command, arg0, arg1, length, check, magic = HEADER.unpack(raw)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic 0x{magic:08x} for command 0x{command:08x}")
    return command, arg0, arg1, length, check


def verify_checksum(data: bytes, expected: int) -> bool:
    """Accept 0 (newer hosts skip the checksum after CNXN) or the real byte sum."""
    return expected == 0 or checksum(data) == expected


# --- Android RSA public key format (android_pubkey.cpp) -----------------------------------------------

_PUBKEY_WORDS = 2048 // 32
_PUBKEY_STRUCT = struct.Struct(f"<II{2048 // 8}s{2048 // 8}sI")


def decode_android_pubkey(text: bytes | str) -> rsa.RSAPublicKey:
    """Decode '<base64 of RSAPublicKey struct> user@host' (the adbkey.pub format) into an RSA key."""
    if isinstance(text, str):
        text = text.encode()
    blob = text.strip(b"\0").strip().split(b" ", 1)[0]
    raw = base64.b64decode(blob)
    if len(raw) != _PUBKEY_STRUCT.size:
        raise ValueError(f"android public key has {len(raw)} bytes, expected {_PUBKEY_STRUCT.size}")
    words, _n0inv, modulus_le, _rr, exponent = _PUBKEY_STRUCT.unpack(raw)
    if words != _PUBKEY_WORDS:
        raise ValueError(f"android public key modulus has {words} words, expected {_PUBKEY_WORDS}")
    n = int.from_bytes(modulus_le, "little")
    return rsa.RSAPublicNumbers(exponent, n).public_key()


def encode_android_pubkey(key: rsa.RSAPublicKey, comment: str = "phonehome@simulator") -> bytes:
    """Encode an RSA public key in the adbkey.pub format."""
    numbers = key.public_numbers()
    r32 = 1 << 32
    n0inv = r32 - pow(numbers.n % r32, -1, r32)
    rr = pow(1 << 2048, 2, numbers.n)
    raw = _PUBKEY_STRUCT.pack(_PUBKEY_WORDS, n0inv, numbers.n.to_bytes(256, "little"), rr.to_bytes(256, "little"),
                              numbers.e)
    return base64.b64encode(raw) + b" " + comment.encode()


def verify_token_signature(key: rsa.RSAPublicKey, token: bytes, signature: bytes) -> bool:
    """adbd's check: RSA PKCS#1 v1.5 where the 20-byte token stands in for a SHA-1 digest."""
    try:
        key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
    except (InvalidSignature, ValueError):
        return False
    return True


def shell_packet(kind: int, data: bytes) -> bytes:
    return struct.pack("<BI", kind, len(data)) + data
