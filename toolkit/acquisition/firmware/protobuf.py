"""A minimal protobuf wire-format decoder (enough for update_engine's DeltaArchiveManifest).

Our own instead of the protobuf package plus a generated update_metadata_pb2: the manifest needs a handful
of fields, and decoding the wire format is 40 lines with no generated code to keep in sync.
"""

from __future__ import annotations

from collections import defaultdict

Fields = dict[int, list[int | bytes]]


class ProtobufError(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def decode(buf: bytes) -> Fields:
    """Field number -> values (ints for varint/fixed, bytes for length-delimited), in order."""
    out: Fields = defaultdict(list)
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wtype = key >> 3, key & 7
        if wtype == 0:
            v, pos = _varint(buf, pos)
            out[field].append(v)
        elif wtype == 1:
            if pos + 8 > len(buf):
                raise ProtobufError("truncated fixed64")
            out[field].append(int.from_bytes(buf[pos : pos + 8], "little"))
            pos += 8
        elif wtype == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ProtobufError("length-delimited field runs past the end")
            out[field].append(buf[pos : pos + n])
            pos += n
        elif wtype == 5:
            if pos + 4 > len(buf):
                raise ProtobufError("truncated fixed32")
            out[field].append(int.from_bytes(buf[pos : pos + 4], "little"))
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wtype}")
    return out


def first_int(f: Fields, n: int, default: int = 0) -> int:
    v = f.get(n)
    return int(v[0]) if v and isinstance(v[0], int) else default


def first_bytes(f: Fields, n: int, default: bytes = b"") -> bytes:
    v = f.get(n)
    return v[0] if v and isinstance(v[0], bytes) else default


def all_bytes(f: Fields, n: int) -> list[bytes]:
    return [v for v in f.get(n, []) if isinstance(v, bytes)]


# -- encoder, used by the test writers and the bench -----------------------------------------
def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_int(field: int, v: int) -> bytes:
    return _enc_varint(field << 3) + _enc_varint(v)


def enc_bytes(field: int, v: bytes) -> bytes:
    return _enc_varint((field << 3) | 2) + _enc_varint(len(v)) + v
