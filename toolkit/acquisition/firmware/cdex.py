"""CompactDex (`cdex001`, Android 9-11 vdex files) converted to a standard DEX.

Layout from art/libdexfile/dex/compact_dex_file.h (android10/11-release):
- the header is the standard one (0x70 bytes) followed by feature_flags, debug_info_offsets_pos,
  debug_info_offsets_table_offset, debug_info_base, owned_data_begin, owned_data_end (0x88 bytes);
- every offset into the data section (string data, type lists, annotations, class data, code items, map list) is
  relative to the data section's start, which is `begin + data_off` for a standalone file, or the vdex's shared
  data section (dex_shared_data) for DEX files in a vdex;
- a code item is compact: `fields` (registers-ins, ins, outs, tries: 4 bits each), `insns_count_and_flags`
  (count << 5 | pre-header flags), the instructions, then try items and handlers as in a standard code item;
  values too large for the 4/11 bits are in 16-bit words stored *before* the code item (the pre-header);
- debug info offsets are in a separate compact offset table (not converted: the DEX gets no debug info).

The converter keeps the ids, copies the data section, relocates every data offset, rewrites each code item in the
standard form (16-byte header) and re-encodes the class data with the new code offsets, then writes a new map list
and the header's checksum and signature.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
import zlib
from collections.abc import Callable

from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.quicken import uleb, uleb_bytes

CDEX_MAGIC = b"cdex"
CDEX_HEADER = 0x88
# map item types (dex_file.h)
T_HEADER, T_STRING_ID, T_TYPE_ID, T_PROTO_ID, T_FIELD_ID, T_METHOD_ID, T_CLASS_DEF = 0, 1, 2, 3, 4, 5, 6
T_CALL_SITE_ID, T_METHOD_HANDLE = 7, 8
T_MAP_LIST, T_TYPE_LIST, T_ANN_SET_REF_LIST, T_ANN_SET = 0x1000, 0x1001, 0x1002, 0x1003
T_CLASS_DATA, T_CODE, T_STRING_DATA, T_DEBUG_INFO, T_ANNOTATION, T_ENCODED_ARRAY, T_ANN_DIR = (
    0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006)
_ID_SIZES = {T_STRING_ID: 4, T_TYPE_ID: 4, T_PROTO_ID: 12, T_FIELD_ID: 8, T_METHOD_ID: 8, T_CLASS_DEF: 32}


def _header_ids(h: bytes) -> dict[int, tuple[int, int]]:
    """type -> (count, offset) of the id sections, from a (compact or standard) header."""
    (s_n, s_o, t_n, t_o, p_n, p_o, f_n, f_o, m_n, m_o, c_n, c_o) = struct.unpack_from("<12I", h, 0x38)
    return {T_STRING_ID: (s_n, s_o), T_TYPE_ID: (t_n, t_o), T_PROTO_ID: (p_n, p_o), T_FIELD_ID: (f_n, f_o),
            T_METHOD_ID: (m_n, m_o), T_CLASS_DEF: (c_n, c_o)}


def _compact_code(data: bytes, off: int) -> tuple[int, int, int, int, bytes, bytes]:
    """(registers, ins, outs, tries_size, insns bytes, tries+handlers bytes) of a compact code item at off."""
    fields, count_flags = struct.unpack_from("<HH", data, off)
    insns = count_flags >> 5
    regs, ins, outs, tries = (fields >> 12) & 0xF, (fields >> 8) & 0xF, (fields >> 4) & 0xF, fields & 0xF
    pre = off
    if count_flags & 0x10:
        pre -= 2
        insns += struct.unpack_from("<H", data, pre)[0]
        pre -= 2
        insns += struct.unpack_from("<H", data, pre)[0] << 16
    for flag in (0x1, 0x2, 0x4, 0x8):
        if count_flags & flag:
            pre -= 2
            (extra,) = struct.unpack_from("<H", data, pre)
            if flag == 0x1:
                regs += extra
            elif flag == 0x2:
                ins += extra
            elif flag == 0x4:
                outs += extra
            else:
                tries += extra
    regs += ins
    start = off + 4
    end = start + 2 * insns
    if end > len(data):
        raise FirmwareError("cdex", f"compact code item at 0x{off:x} runs past the data section")
    tail = b""
    if tries:
        tpos = (end + 3) & ~3
        tail = data[tpos : _handlers_end(data, tpos + 8 * tries)]
    return regs, ins, outs, tries, data[start:end], tail


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos
        if shift > 35:
            raise ValueError("bad sleb128")


def cdex_to_dex(cdex: bytes, data: bytes | None = None, name: str = "cdex") -> bytes:
    """A standard DEX with the code of cdex. data: the data section the offsets are relative to (the vdex's shared
    data); default: the file's own, from the header's data_off. Raises FirmwareError."""
    try:
        return _convert(cdex, data, name)
    except (struct.error, ValueError, IndexError) as e:
        raise FirmwareError(name, f"damaged CompactDex: {e}") from e


def _convert(cdex: bytes, data: bytes | None, name: str) -> bytes:
    if cdex[:4] != CDEX_MAGIC or len(cdex) < CDEX_HEADER:
        raise FirmwareError(name, "not a CompactDex file")
    (header_size,) = struct.unpack_from("<I", cdex, 0x24)
    map_off, = struct.unpack_from("<I", cdex, 0x34)
    data_size, data_off = struct.unpack_from("<II", cdex, 0x68)
    if data is None:
        data = cdex[data_off : data_off + data_size] if data_off + data_size <= len(cdex) else cdex[data_off:]
    ids = _header_ids(cdex)
    ids_end = max([header_size] + [o + n * _ID_SIZES[t] for t, (n, o) in ids.items() if n])
    # new layout: [header 0x70][ids, moved by shift][data sections kept, in order][code items][class data][map]
    shift = header_size - 0x70
    out = bytearray(cdex[:0x70]) + bytearray(cdex[header_size:ids_end])
    cmap = []
    (count,) = struct.unpack_from("<I", data, map_off)
    if count > 64:
        raise FirmwareError(name, f"CompactDex map list claims {count} sections")
    for i in range(count):
        t, _u, c, off = struct.unpack_from("<HHII", data, map_off + 4 + 12 * i)
        cmap.append((t, c, off))
    if any(t in (T_CALL_SITE_ID, T_METHOD_HANDLE) for t, _c, _o in cmap):
        raise FirmwareError(name, "CompactDex with call sites or method handles (invoke-custom) is not converted")
    # Sections copied as they are (their extent: up to the next section of the data map); code items, class data,
    # debug info and the map are rebuilt, id sections are in the file itself.
    kept_types = (T_TYPE_LIST, T_ANN_SET_REF_LIST, T_ANN_SET, T_STRING_DATA, T_ANNOTATION, T_ENCODED_ARRAY, T_ANN_DIR)
    data_starts = sorted({off for t, _c, off in cmap if t >= T_MAP_LIST} | {len(data)})
    moved: list[tuple[int, int, int]] = []  # (old start, old end, new start), data-relative -> file offsets
    for off in sorted(o for t, _c, o in cmap if t in kept_types):
        if off >= len(data):
            raise FirmwareError(name, f"CompactDex section at 0x{off:x} lies past its data section")
        end = next(x for x in data_starts if x > off)
        while len(out) % 4:
            out.append(0)
        moved.append((off, end, len(out)))
        out += data[off:end]
    while len(out) % 4:
        out.append(0)
    starts = [m[0] for m in moved]

    def rel(v: int, none_is_zero: bool = True) -> int:
        if v == 0 and none_is_zero:
            return 0
        i = bisect.bisect_right(starts, v) - 1
        if i < 0 or v >= moved[i][1]:
            raise FirmwareError(name, f"CompactDex data offset 0x{v:x} lies in no known section")
        return moved[i][2] + v - moved[i][0]

    new_ids = {t: (n, o - shift if n else 0) for t, (n, o) in ids.items()}
    # string ids, proto parameters, class defs
    n, o = new_ids[T_STRING_ID]
    for i in range(n):  # string data at data offset 0 is possible: never "none"
        struct.pack_into("<I", out, o + 4 * i, rel(struct.unpack_from("<I", out, o + 4 * i)[0], False))
    n, o = new_ids[T_PROTO_ID]
    for i in range(n):
        struct.pack_into("<I", out, o + 12 * i + 8, rel(struct.unpack_from("<I", out, o + 12 * i + 8)[0]))
    n_cls, o_cls = new_ids[T_CLASS_DEF]
    ann_sets = [(c, off) for t, c, off in cmap if t == T_ANN_SET]
    ref_lists = [(c, off) for t, c, off in cmap if t == T_ANN_SET_REF_LIST]
    dirs = [(c, off) for t, c, off in cmap if t == T_ANN_DIR]
    if any(t in (T_CALL_SITE_ID, T_METHOD_HANDLE) for t, _c, _o in cmap):
        raise FirmwareError(name, "CompactDex with call sites or method handles (invoke-custom) is not converted")

    def fix_u32(pos: int) -> None:
        struct.pack_into("<I", out, pos, rel(struct.unpack_from("<I", out, pos)[0]))

    # annotation_set_item and annotation_set_ref_list: size, then that many offsets (of annotation items, of sets)
    for c, off in [*ann_sets, *ref_lists]:
        pos = rel(off)
        for _ in range(c):
            (size,) = struct.unpack_from("<I", out, pos)
            for k in range(size):
                fix_u32(pos + 4 + 4 * k)
            pos = (pos + 4 + 4 * size + 3) & ~3
    for c, off in dirs:
        pos = rel(off)
        for _ in range(c):
            fix_u32(pos)
            nf, nm, np_ = struct.unpack_from("<III", out, pos + 4)
            q = pos + 16
            for _k in range(nf + nm + np_):
                fix_u32(q + 4)
                q += 8
            pos = q
    # code items and class data, rewritten
    code_out = bytearray()
    code_base = len(out)
    new_code: dict[int, int] = {}
    class_out = bytearray()
    class_offsets: list[int] = []
    with_data: list[int] = []

    def standard(code: int) -> int:  # the compact code item at `code`, written once in standard form
        if code not in new_code:
            regs, ins, outs, tries, insns, tail = _compact_code(data, code)
            while len(code_out) % 4:
                code_out.append(0)
            new_code[code] = code_base + len(code_out)
            code_out.extend(struct.pack("<HHHHII", regs, ins, outs, tries, 0, len(insns) // 2) + insns)
            if tries:
                while len(code_out) % 4:
                    code_out.append(0)
                code_out.extend(tail)
        return new_code[code]

    for c in range(n_cls):
        base = o_cls + 32 * c
        for f in (12, 20, 28):  # interfaces, annotations, static values
            fix_u32(base + f)
        (cdo,) = struct.unpack_from("<I", out, base + 24)
        if not cdo:
            class_offsets.append(-1)
            continue
        with_data.append(c)
        item = _class_data(data, cdo, standard)
        class_offsets.append(len(class_out))
        class_out += item
    out += code_out
    while len(out) % 4:
        out.append(0)
    class_base = len(out)
    out += class_out
    for c, cl in enumerate(class_offsets):
        if cl >= 0:
            struct.pack_into("<I", out, o_cls + 32 * c + 24, class_base + cl)
    while len(out) % 4:
        out.append(0)
    # map list
    items = [(T_HEADER, 1, 0)]
    items += [(t, n, o) for t, (n, o) in sorted(new_ids.items()) if n]
    items += [(t, c, rel(off, False)) for t, c, off in cmap if t in kept_types]
    if new_code:
        items.append((T_CODE, len(new_code), code_base + 0))
    if with_data:
        items.append((T_CLASS_DATA, len(with_data), class_base))
    new_map = len(out)
    items.append((T_MAP_LIST, 1, new_map))
    items.sort(key=lambda x: x[2])
    out += struct.pack("<I", len(items)) + b"".join(struct.pack("<HHII", t, 0, c, o) for t, c, o in items)
    # header
    out[0:8] = b"dex\n035\0"
    struct.pack_into("<III", out, 0x20, len(out), 0x70, 0x12345678)
    struct.pack_into("<III", out, 0x2C, 0, 0, new_map)  # link size/off, map off
    vals = []
    for t in (T_STRING_ID, T_TYPE_ID, T_PROTO_ID, T_FIELD_ID, T_METHOD_ID, T_CLASS_DEF):
        vals += list(new_ids[t])
    struct.pack_into("<12I", out, 0x38, *vals)
    first_data = min((o for t, _c, o in items if t >= T_MAP_LIST), default=new_map)
    struct.pack_into("<II", out, 0x68, len(out) - first_data, first_data)
    out[12:32] = hashlib.sha1(bytes(out[32:])).digest()
    out[8:12] = struct.pack("<I", zlib.adler32(bytes(out[12:])))
    return bytes(out)


# -- writer (tests) ----------------------------------------------------------------------------------------------
def write_cdex(dex: bytes) -> bytes:
    """A standalone CompactDex of a standard DEX: the whole DEX is its data section (so the DEX's own offsets are
    the data-relative ones), code items are written compact after it, class data re-encoded, no debug info."""
    ids = _header_ids(dex)
    ids_end = max([0x70] + [o + n * _ID_SIZES[t] for t, (n, o) in ids.items() if n])
    head = bytearray(dex[:0x70]) + bytes(CDEX_HEADER - 0x70) + bytearray(dex[0x70:ids_end])
    while len(head) % 4:
        head.append(0)
    D = len(head)
    blob = bytearray(dex)
    shift = CDEX_HEADER - 0x70
    # compact code items and new class data, appended to the data section
    n_cls, o_cls = ids[T_CLASS_DEF]
    new_code: dict[int, int] = {}

    def compact(code: int) -> int:  # the standard code item at `code`, written once in compact form
        if code not in new_code:
            regs, ins, outs, tries, _dbg, n = struct.unpack_from("<4HII", dex, code)
            insns = dex[code + 16 : code + 16 + 2 * n]
            pre = []
            flags = 0
            fields = 0
            for shift_bits, v, flag in ((12, regs - ins, 0x1), (8, ins, 0x2), (4, outs, 0x4), (0, tries, 0x8)):
                if v > 0xF:
                    flags |= flag
                    pre.append(v - 0)  # whole value in the pre-header, 0 in the field
                else:
                    fields |= v << shift_bits
            count = n
            if n >= 1 << 11:
                flags |= 0x10
                count = 0
            pre_words = b""
            # stored before the item, read backwards: insns low, insns high, then registers, ins, outs, tries
            words = []
            if flags & 0x10:
                words += [n & 0xFFFF, n >> 16]
            words += pre
            pre_words = b"".join(struct.pack("<H", w) for w in reversed(words))
            while (len(blob) + len(pre_words)) % 4:
                blob.append(0)
            blob.extend(pre_words)
            new_code[code] = len(blob)
            blob.extend(struct.pack("<HH", fields, (count << 5) | flags) + insns)
            if tries:
                tstart = (code + 16 + 2 * n + 3) & ~3
                while len(blob) % 4:
                    blob.append(0)
                tail_end = _handlers_end(dex, tstart + 8 * tries)
                blob.extend(dex[tstart:tail_end])
        return new_code[code]

    for c in range(n_cls):
        (cdo,) = struct.unpack_from("<I", dex, o_cls + 32 * c + 24)
        if not cdo:
            continue
        item = _class_data(dex, cdo, compact)
        coff = len(blob)
        blob.extend(item)
        struct.pack_into("<I", head, o_cls + shift + 32 * c + 24, coff)
    while len(blob) % 4:
        blob.append(0)
    # empty debug info offset table: one block (bit mask 0) and one table entry per 16 methods
    n_methods = ids[T_METHOD_ID][0]
    dbg_pos = len(blob)
    blob += b"\0\0\0\0" + struct.pack("<I", 0) * ((n_methods + 15) // 16 + 1)
    out = bytearray(head) + blob
    out[0:8] = b"cdex001\0"
    struct.pack_into("<II", out, 0x20, len(out), CDEX_HEADER)
    vals = []
    for t in (T_STRING_ID, T_TYPE_ID, T_PROTO_ID, T_FIELD_ID, T_METHOD_ID, T_CLASS_DEF):
        n, o = ids[t]
        vals += [n, o + shift if n else 0]
    struct.pack_into("<12I", out, 0x38, *vals)
    struct.pack_into("<II", out, 0x68, len(blob), D)
    struct.pack_into("<6I", out, 0x70, 0, dbg_pos, 4, 0, 0, len(blob))
    out[12:32] = hashlib.sha1(bytes(out[32:])).digest()
    out[8:12] = struct.pack("<I", zlib.adler32(bytes(out[12:])))
    return bytes(out)


def _class_data(data: bytes, pos: int, code_to: Callable[[int], int]) -> bytes:
    """The class_data_item at pos re-encoded, each method's code offset (when not 0) mapped by code_to, which
    writes the code item in the other form the first time it sees it."""
    sf, pos = uleb(data, pos)
    inf, pos = uleb(data, pos)
    dm, pos = uleb(data, pos)
    vm, pos = uleb(data, pos)
    item = bytearray(uleb_bytes(sf) + uleb_bytes(inf) + uleb_bytes(dm) + uleb_bytes(vm))
    for _ in range(sf + inf):
        a, pos = uleb(data, pos)
        b, pos = uleb(data, pos)
        item += uleb_bytes(a) + uleb_bytes(b)
    for _ in range(dm + vm):
        a, pos = uleb(data, pos)
        b, pos = uleb(data, pos)
        code, pos = uleb(data, pos)
        item += uleb_bytes(a) + uleb_bytes(b) + uleb_bytes(code_to(code) if code else 0)
    return bytes(item)


def _handlers_end(dex: bytes, pos: int) -> int:
    nlists, pos = uleb(dex, pos)
    for _ in range(nlists):
        size, pos = _sleb(dex, pos)
        for _ in range(abs(size)):
            _, pos = uleb(dex, pos)
            _, pos = uleb(dex, pos)
        if size <= 0:
            _, pos = uleb(dex, pos)
    return pos
