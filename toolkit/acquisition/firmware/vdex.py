"""Recovering DEX code of stripped (odexed) apps from vdex files.

Android 12+ (vdex version 027) stores the app's DEX files verbatim in the vdex "dex file section". Older vdex
(006-021, below) hold quickened DEX (or, 019/021, CompactDex: cdex.py), undone with the vdex's own quickening
info. recover.py chooses the reader.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.quicken import CodeItem, QuickenInfo, SlotInfo, class_code_offsets, uleb, uleb_bytes

VDEX_MAGIC = b"vdex"
SECTION_CHECKSUM, SECTION_DEX, SECTION_VERIFIER_DEPS, SECTION_TYPE_LOOKUP = 0, 1, 2, 3


def vdex_version(head: bytes) -> str | None:
    """'027' for a vdex header, None if head is not a vdex file."""
    if head[:4] != VDEX_MAGIC or len(head) < 8:
        return None
    return head[4:8].rstrip(b"\0").decode("ascii", "replace")


def dex_from_vdex(data: bytes, name: str) -> list[bytes]:
    """The DEX files stored in a vdex 027 file. Raises FirmwareError for other versions or damage."""
    version = vdex_version(data)
    if version is None:
        raise FirmwareError(name, "not a vdex file")
    if version != "027":
        raise FirmwareError(name, f"vdex version {version} (only vdex 027, Android 12+, stores DEX verbatim)")
    if len(data) < 12:
        raise FirmwareError(name, "vdex header is truncated")
    (nsections,) = struct.unpack_from("<I", data, 8)
    if nsections > 64 or 12 + nsections * 12 > len(data):
        raise FirmwareError(name, f"vdex claims {nsections} sections")
    sections = {}
    for i in range(nsections):
        kind, off, size = struct.unpack_from("<III", data, 12 + i * 12)
        if off + size > len(data):
            raise FirmwareError(name, f"vdex section {kind} lies past the end of the file")
        sections[kind] = (off, size)
    if SECTION_CHECKSUM not in sections or SECTION_DEX not in sections:
        raise FirmwareError(name, "vdex has no checksum or dex section")
    count = sections[SECTION_CHECKSUM][1] // 4
    off, size = sections[SECTION_DEX]
    if size == 0:
        raise FirmwareError(name, "vdex holds no DEX (the app keeps its code elsewhere): code not recoverable offline")
    out = []
    pos = off
    for i in range(count):
        pos = (pos + 3) & ~3
        if pos + 0x70 > off + size:
            raise FirmwareError(name, f"vdex dex file {i} header lies past the dex section")
        if data[pos : pos + 4] != b"dex\n":
            raise FirmwareError(name, f"vdex dex file {i} has no DEX magic (compact or damaged DEX)")
        (dsize,) = struct.unpack_from("<I", data, pos + 32)
        if dsize < 0x70 or pos + dsize > off + size:
            raise FirmwareError(name, f"vdex dex file {i} claims {dsize} bytes past the dex section")
        out.append(data[pos : pos + dsize])
        pos += dsize
    return out


def rebuild_apk(apk: Path, dexes: list[bytes], out: Path) -> None:
    """Write a copy of apk with the recovered classes*.dex added (original entries kept byte for byte)."""
    try:
        with zipfile.ZipFile(apk) as src, zipfile.ZipFile(out, "w") as dst:
            names = set(src.namelist())
            for info in src.infolist():
                dst.writestr(info, src.read(info.filename))
            for i, dex in enumerate(dexes):
                dname = "classes.dex" if i == 0 else f"classes{i + 1}.dex"
                if dname in names:
                    continue
                dst.writestr(zipfile.ZipInfo(dname, date_time=(2008, 1, 1, 0, 0, 0)), dex, zipfile.ZIP_DEFLATED)
    except (zipfile.BadZipFile, OSError) as e:
        raise FirmwareError(str(apk), f"could not rebuild the APK with recovered DEX: {e}") from e


def write_vdex027(dexes: list[bytes]) -> bytes:
    """A minimal vdex 027 file holding dexes (used by tests and the bench to build fixtures)."""
    checksums = b"".join(struct.pack("<I", struct.unpack_from("<I", d, 8)[0]) for d in dexes)
    nsec = 4
    header_len = 12 + nsec * 12
    cs_off = header_len
    dex_off = (cs_off + len(checksums) + 3) & ~3
    body = bytearray()
    for d in dexes:
        while len(body) % 4:
            body.append(0)
        body += d
    deps_off = dex_off + len(body)
    out = bytearray(b"vdex027\0" + struct.pack("<I", nsec))
    out += struct.pack("<III", SECTION_CHECKSUM, cs_off, len(checksums))
    out += struct.pack("<III", SECTION_DEX, dex_off, len(body))
    out += struct.pack("<III", SECTION_VERIFIER_DEPS, deps_off, 0)
    out += struct.pack("<III", SECTION_TYPE_LOOKUP, deps_off, 0)
    out += checksums
    while len(out) < dex_off:
        out.append(0)
    out += body
    return bytes(out)


# -- vdex 006/010 (Android 8.x) and 019/021 (Android 9-11) ------------------------------------------------------
# Layouts from art/runtime/vdex_file.h of oreo-release (006), oreo-mr1-release (010), pie-release (019) and
# android10/11-release (021):
#   006/010: "vdex" version[4] number_of_dex_files dex_size verifier_deps_size quickening_info_size (24 bytes),
#            the DEX checksums (uint32 each), the DEX files (4-aligned), the verifier deps, the quickening info.
#   019:     "vdex" "019\0" dex_section_version[4] number_of_dex_files verifier_deps_size (20 bytes),
#   021:     ... + bootclasspath_checksums_size class_loader_context_size (28 bytes),
#            then the checksums, and with a dex section ("002"): dex_size dex_shared_data_size
#            quickening_info_size, then per DEX a uint32 quickening table offset before the (4-aligned) DEX or
#            CompactDex ("cdex001") file.
# The reader finds each DEX by its magic within a few words of where the layout puts it, so a field it reads
# wrongly shows up as "no DEX where expected" rather than as wrong code.
OLD_HEADERS = {"006": 24, "010": 24, "019": 20, "021": 28}


def _find_dex(data: bytes, pos: int, window: int = 32) -> int | None:
    for p in range((pos + 3) & ~3, min(len(data) - 0x70, pos + window) + 1, 4):
        if data[p : p + 4] in (b"dex\n", b"cdex") and data[p + 7] == 0:
            return p
    return None


def shared_data(data: bytes) -> bytes | None:
    """The dex_shared_data section of a vdex 019/021 (the data section of its CompactDex files), if any."""
    version = vdex_version(data) or "?"
    if version not in ("019", "021"):
        return None
    (n,) = struct.unpack_from("<I", data, 12)
    pos = OLD_HEADERS[version] + 4 * n
    dex_size, shared_size, _quick = struct.unpack_from("<III", data, pos)
    start = pos + 12 + dex_size
    if not shared_size or start + shared_size > len(data):
        return None
    return data[start : start + shared_size]


def dex_from_old_vdex(data: bytes, name: str) -> list[tuple[bytes, QuickenInfo | None, SlotInfo | None]]:
    """(DEX or CompactDex bytes, quickening table lookup (006/010), index-slot table lookup (019/021)) of each DEX
    file in a vdex 006-021."""
    version = vdex_version(data) or "?"
    if version not in OLD_HEADERS:
        raise FirmwareError(name, f"vdex version {version} is not one phonehome reads")
    if version in ("019", "021") and data[8:12].rstrip(b"\0") == b"000":
        raise FirmwareError(name, f"vdex {version} has no DEX section (the app keeps its code in the APK, "
                                  "or it was stripped): code not recoverable offline")
    (n,) = struct.unpack_from("<I", data, 12 if version in ("019", "021") else 8)
    if not 0 < n <= 256:
        raise FirmwareError(name, f"vdex {version} claims {n} DEX files")
    pos = OLD_HEADERS[version] + 4 * n
    quick: bytes | None = None
    if version in ("006", "010"):
        _n, dex_size, deps_size, quick_size = struct.unpack_from("<IIII", data, 8)
        qstart = pos + dex_size + deps_size
        if qstart + quick_size <= len(data):
            quick = data[qstart : qstart + quick_size]
    else:
        pos += 12  # DexSectionHeader
    out: list[tuple[bytes, QuickenInfo | None, SlotInfo | None]] = []
    dexes: list[bytes] = []
    starts: list[int] = []
    for i in range(n):
        p = _find_dex(data, pos)
        if p is None:
            raise FirmwareError(name, f"vdex {version} DEX file {i} not found where the header puts it")
        (dsize,) = struct.unpack_from("<I", data, p + 32)
        if dsize < 0x70 or p + dsize > len(data):
            raise FirmwareError(name, f"vdex {version} DEX file {i} claims {dsize} bytes past the end of the file")
        dexes.append(data[p : p + dsize])
        starts.append(p)
        pos = p + dsize
    quick19 = _quickening_section_019(data, version, n) if version in ("019", "021") else None
    for i, d in enumerate(dexes):
        info = None
        if quick is not None and d[:4] == b"dex\n":
            info = _quickening_010(quick, i, n, d) if version == "010" else None
            if info is None:
                info = _quickening_006(quick, dexes, i)
        slots = _quickening_019(quick19, data, starts[i]) if quick19 else None
        out.append((d, info, slots))
    return out


def _methods_with_code(dex: bytes) -> list[int]:
    """code_off of every method with code, in class_def then class_data order (duplicates kept)."""
    out: list[int] = []
    for methods in class_code_offsets(dex):
        if methods is None:
            raise ValueError("bad uleb128")
        out.extend(code_off for code_off in methods if code_off)
    return out


def _pairs(blob: bytes) -> list[tuple[int, int]]:
    out, pos = [], 0
    while pos < len(blob):
        pc, pos = uleb(blob, pos)
        idx, pos = uleb(blob, pos)
        out.append((pc, idx))
    return out


def _quickening_006(quick: bytes, dexes: list[bytes], which: int) -> QuickenInfo | None:
    """Android 8.0: for every method with code, of every DEX in order, a uint32 size and that many bytes of
    (dex pc, index) ULEB128 pairs (VdexFile::Unquicken of oreo-release)."""
    pos = 0
    tables: dict[int, list[tuple[int, int]]] = {}
    try:
        for i, d in enumerate(dexes):
            for code_off in _methods_with_code(d) if d[:4] == b"dex\n" else []:
                (size,) = struct.unpack_from("<I", quick, pos)
                blob = quick[pos + 4 : pos + 4 + size]
                if len(blob) != size:
                    return None
                if i == which and size:
                    tables.setdefault(code_off, _pairs(blob))
                pos += 4 + size
    except (struct.error, ValueError):
        return None
    if pos != len(quick):
        return None  # not this layout
    return lambda item: tables.get(item.off)


def _quickening_010(quick: bytes, which: int, n: int, dex: bytes) -> QuickenInfo | None:
    """Android 8.1: quickening blobs (uint32 size + pairs), then per DEX a table of (code item offset, blob
    offset) entries; the section ends with n uint32 offsets of those tables (QuickeningInfoIterator)."""
    try:
        ends = struct.unpack_from(f"<{n}I", quick, len(quick) - 4 * n)
        start = ends[which]
        stop = ends[which + 1] if which + 1 < n else len(quick) - 4 * n
        if not 0 <= start <= stop <= len(quick) or (stop - start) % 8:
            return None
        tables: dict[int, list[tuple[int, int]]] = {}
        for e in range(start, stop, 8):
            code_off, blob_off = struct.unpack_from("<II", quick, e)
            (size,) = struct.unpack_from("<I", quick, blob_off)
            if code_off + 16 > len(dex) or blob_off + 4 + size > start:
                return None
            tables[code_off] = _pairs(quick[blob_off + 4 : blob_off + 4 + size])
    except (struct.error, ValueError):
        return None
    return lambda item: tables.get(item.off)


# -- vdex 019/021 quickening info (art/runtime/vdex_file.{h,cc} of pie and android10, quicken_info.h,
# libdexfile/dex/compact_offset_table.{h,cc}) --------------------------------------------------------------------
#   QuickeningInfo section: after the verifier deps (the DEX section header's quickening_info_size bytes).
#   Before each DEX in the DEX section: a uint32 "quicken_table_off", the offset in that section of the DEX's
#   CompactOffsetTable: uint32 minimum_offset, uint32 table_offset, then (data_begin) blocks of 16 method indices,
#   each a big-endian uint16 bit mask of the indices that have an offset and one ULEB128 delta per set bit (from
#   minimum_offset, then from the previous offset), and at data_begin + table_offset a uint32 per block: its
#   offset from data_begin. A method's value, when not 0, is 1 + the offset in the section of its QuickenInfoTable:
#   ULEB128 count, then count little-endian uint16 indices (see quicken.SlotInfo).
ELEMENTS_PER_INDEX = 16


def _quickening_section_019(data: bytes, version: str, n: int) -> bytes | None:
    try:
        sec = OLD_HEADERS[version] + 4 * n
        dex_size, shared_size, quick_size = struct.unpack_from("<III", data, sec)
        (deps_size,) = struct.unpack_from("<I", data, 16)
    except struct.error:
        return None
    start = sec + 12 + dex_size + shared_size + deps_size
    if not quick_size or start + quick_size > len(data):
        return None
    return data[start : start + quick_size]


def compact_offset(quick: bytes, table_off: int, index: int) -> int:
    """CompactOffsetTable::Accessor(quick + table_off).GetOffset(index). Raises ValueError/struct.error on damage."""
    minimum, table_offset = struct.unpack_from("<II", quick, table_off)
    begin = table_off + 8
    (block,) = struct.unpack_from("<I", quick, begin + table_offset + 4 * (index // ELEMENTS_PER_INDEX))
    pos = begin + block
    if pos + 2 > len(quick):
        raise ValueError("offset table block past the quickening info")
    mask = quick[pos] << 8 | quick[pos + 1]
    bit = index % ELEMENTS_PER_INDEX
    if not mask >> bit & 1:
        return 0
    pos += 2
    value = minimum
    for _ in range(bin(mask & ((2 << bit) - 1)).count("1")):
        delta, pos = uleb(quick, pos)
        value = (value + delta) & 0xFFFFFFFF  # uint32 arithmetic, as in ART (deltas may wrap)
    return value


def _quickening_019(quick: bytes, data: bytes, dex_start: int) -> SlotInfo | None:
    """The index slots of each method (by method index) of the DEX at dex_start, or None if its table is not
    there. A table entry that does not decode gives None for that method (its code is then neutralised)."""
    (table_off,) = struct.unpack_from("<I", data, dex_start - 4)
    if table_off + 8 > len(quick):
        return None

    def slots(item: CodeItem) -> list[int] | None:
        try:
            off = compact_offset(quick, table_off, item.method_idx)
            if off == 0 or off - 1 >= len(quick):
                return None
            count, pos = uleb(quick, off - 1)
            if pos + 2 * count > len(quick):
                return None
            return list(struct.unpack_from(f"<{count}H", quick, pos))
        except (ValueError, struct.error):
            return None

    return slots


def build_compact_offsets(offsets: list[int]) -> bytes:
    """CompactOffsetTable::Build(offsets, out) with the minimum and table offsets in front (writer side)."""
    minimum = min((o for o in offsets if o), default=0xFFFFFFFF)
    data, table = bytearray(), []
    for start in range(0, len(offsets), ELEMENTS_PER_INDEX):
        table.append(len(data))
        block = offsets[start : start + ELEMENTS_PER_INDEX]
        mask = sum(1 << i for i, o in enumerate(block) if o)
        data += bytes([mask >> 8, mask & 0xFF])
        prev = minimum
        for o in block:
            if o:
                data += uleb_bytes((o - prev) & 0xFFFFFFFF)  # uint32 delta from the previous offset
                prev = o
    while len(data) % 4:
        data.append(0)
    table_offset = len(data)
    data += b"".join(struct.pack("<I", t) for t in table)
    return struct.pack("<II", minimum, table_offset) + bytes(data)


def write_old_vdex(dexes: list[bytes], version: str, quickening: list[dict[int, list[tuple[int, int]]]] | None = None,
                   slots: list[dict[int, list[int]]] | None = None) -> bytes:
    """A vdex 006/010/019/021 holding dexes (tests and bench). quickening (006/010): per DEX, code_off -> (pc, index)
    pairs, written in the version's layout (006: per method with code; 010: blobs + offset tables). slots (019/021):
    per DEX, method index -> QuickenInfoTable indices, written as dex2oat lays them out (all tables, then one
    CompactOffsetTable per DEX, each DEX preceded by its table's offset)."""
    n = len(dexes)
    checksums = b"".join(d[8:12] for d in dexes)
    quick = bytearray()
    table_offs = [0] * n
    if version in ("019", "021") and slots:
        per_dex: list[list[int]] = []
        for d, methods in zip(dexes, slots, strict=True):
            (method_ids,) = struct.unpack_from("<I", d, 0x58)
            offsets = [0] * method_ids
            for idx, indices in sorted(methods.items()):
                offsets[idx] = len(quick) + 1  # 0 means "not quickened", so offsets are stored plus one
                quick += uleb_bytes(len(indices)) + b"".join(struct.pack("<H", v) for v in indices)
            per_dex.append(offsets)
        for i, offsets in enumerate(per_dex):
            while len(quick) % 4:
                quick.append(0)
            table_offs[i] = len(quick)
            quick += build_compact_offsets(offsets)
    body = bytearray()
    for i, d in enumerate(dexes):
        if version in ("019", "021"):
            while len(body) % 4:
                body.append(0)
            body += struct.pack("<I", table_offs[i])  # quickening table offset, read as the word before the DEX
        while len(body) % 4:
            body.append(0)
        body += d
    deps = b""
    tables = quickening or [{} for _ in dexes]

    def enc(pairs: list[tuple[int, int]]) -> bytes:
        return b"".join(uleb_bytes(pc) + uleb_bytes(idx) for pc, idx in pairs)

    if version == "006":
        for d, t in zip(dexes, tables, strict=True):
            for code_off in _methods_with_code(d):
                blob = enc(t.get(code_off, []))
                quick += struct.pack("<I", len(blob)) + blob
    elif version == "010":
        entries = []
        for t in tables:
            per = []
            for code_off, pairs in sorted(t.items()):
                blob = enc(pairs)
                per.append((code_off, len(quick)))
                quick += struct.pack("<I", len(blob)) + blob
            entries.append(per)
        starts = []
        for per in entries:
            starts.append(len(quick))
            for code_off, off in per:
                quick += struct.pack("<II", code_off, off)
        quick += b"".join(struct.pack("<I", s) for s in starts)
    if version in ("006", "010"):
        head = b"vdex" + version.encode() + b"\0" + struct.pack("<IIII", n, len(body), len(deps), len(quick))
        return head + checksums + bytes(body) + deps + bytes(quick)
    head = b"vdex" + version.encode() + b"\0" + b"002\0" + struct.pack("<II", n, len(deps))
    if version == "021":
        head += struct.pack("<II", 0, 0)  # boot class path checksums, class loader context: none
    return head + checksums + struct.pack("<III", len(body), 0, len(quick)) + bytes(body) + deps + bytes(quick)
