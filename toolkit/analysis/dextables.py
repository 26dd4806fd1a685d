"""Fast reader of a DEX file's id tables (strings, types, protos, fields, methods), no bytecode.

androguard parses every class and code item of a DEX up front; for the questions "does this APK reference any
source API at all?" and "which constant strings does it carry?" only the id tables are needed, which take
milliseconds to read. Format: https://source.android.com/docs/core/runtime/dex-format
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

DEX_MAGIC_PREFIX = b"dex\n"
HEADER_SIZE = 0x70


class DexFormatError(ValueError):
    """The bytes are not a readable DEX file."""


@dataclass
class DexTables:
    """The id tables of one DEX file. Method refs are Dalvik signatures: Lpkg/Cls;->name(Args)Ret."""

    version: str
    strings: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    method_refs: list[str] = field(default_factory=list)
    field_refs: list[str] = field(default_factory=list)
    class_defs: list[str] = field(default_factory=list)


def _uleb128(data: bytes, offset: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if offset >= len(data):
            raise DexFormatError("truncated uleb128")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, offset
        shift += 7
        if shift > 35:
            raise DexFormatError("uleb128 too long")


def decode_mutf8(raw: bytes) -> str:
    """Decode Modified UTF-8 (DEX strings): like UTF-8 but NUL as C0 80 and surrogate pairs as two 3-byte runs."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        b = raw[i]
        if b < 0x80:
            out.append(chr(b))
            i += 1
        elif b & 0xE0 == 0xC0 and i + 1 < n:
            out.append(chr(((b & 0x1F) << 6) | (raw[i + 1] & 0x3F)))
            i += 2
        elif b & 0xF0 == 0xE0 and i + 2 < n:
            out.append(chr(((b & 0x0F) << 12) | ((raw[i + 1] & 0x3F) << 6) | (raw[i + 2] & 0x3F)))
            i += 3
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def read_dex_tables(data: bytes) -> DexTables:
    """Read the id tables of a DEX file. Raises DexFormatError with a one-line reason on malformed input."""
    if len(data) < HEADER_SIZE or not data.startswith(DEX_MAGIC_PREFIX):
        raise DexFormatError("not a DEX file (bad magic or shorter than the header)")
    version = data[4:7].decode("ascii", "replace")
    (
        string_ids_size, string_ids_off, type_ids_size, type_ids_off, proto_ids_size, proto_ids_off,
        field_ids_size, field_ids_off, method_ids_size, method_ids_off, class_defs_size, class_defs_off,
    ) = struct.unpack_from("<12I", data, 0x38)
    size = len(data)
    for name, count, off, width in (
        ("string_ids", string_ids_size, string_ids_off, 4),
        ("type_ids", type_ids_size, type_ids_off, 4),
        ("proto_ids", proto_ids_size, proto_ids_off, 12),
        ("field_ids", field_ids_size, field_ids_off, 8),
        ("method_ids", method_ids_size, method_ids_off, 8),
        ("class_defs", class_defs_size, class_defs_off, 32),
    ):
        if count and (off + count * width > size or off < HEADER_SIZE):
            raise DexFormatError(f"{name} table ({count} entries at {off:#x}) lies outside the file")
    tables = DexTables(version=version)
    strings = tables.strings
    for (string_off,) in struct.iter_unpack("<I", data[string_ids_off : string_ids_off + 4 * string_ids_size]):
        if string_off >= size:
            raise DexFormatError(f"string data offset {string_off:#x} outside the file")
        _, start = _uleb128(data, string_off)
        end = data.find(b"\x00", start)
        if end < 0:
            raise DexFormatError("unterminated string data")
        strings.append(decode_mutf8(data[start:end]))

    def string(index: int) -> str:
        if index >= len(strings):
            raise DexFormatError(f"string index {index} out of range")
        return strings[index]

    types = tables.types
    for (descriptor_idx,) in struct.iter_unpack("<I", data[type_ids_off : type_ids_off + 4 * type_ids_size]):
        types.append(string(descriptor_idx))

    def type_name(index: int) -> str:
        if index >= len(types):
            raise DexFormatError(f"type index {index} out of range")
        return types[index]

    protos: list[str] = []
    for _shorty, return_idx, params_off in struct.iter_unpack(
        "<III", data[proto_ids_off : proto_ids_off + 12 * proto_ids_size]
    ):
        params = ""
        if params_off:
            if params_off + 4 > size:
                raise DexFormatError("proto parameter list outside the file")
            (count,) = struct.unpack_from("<I", data, params_off)
            if params_off + 4 + 2 * count > size:
                raise DexFormatError("proto parameter list outside the file")
            params = "".join(type_name(t) for t in struct.unpack_from(f"<{count}H", data, params_off + 4))
        protos.append(f"({params}){type_name(return_idx)}")

    for class_idx, type_idx, name_idx in struct.iter_unpack(
        "<HHI", data[field_ids_off : field_ids_off + 8 * field_ids_size]
    ):
        tables.field_refs.append(f"{type_name(class_idx)}->{string(name_idx)}:{type_name(type_idx)}")
    for class_idx, proto_idx, name_idx in struct.iter_unpack(
        "<HHI", data[method_ids_off : method_ids_off + 8 * method_ids_size]
    ):
        if proto_idx >= len(protos):
            raise DexFormatError(f"proto index {proto_idx} out of range")
        tables.method_refs.append(f"{type_name(class_idx)}->{string(name_idx)}{protos[proto_idx]}")
    for index in range(class_defs_size):
        (class_idx,) = struct.unpack_from("<I", data, class_defs_off + 32 * index)
        tables.class_defs.append(type_name(class_idx))
    return tables
