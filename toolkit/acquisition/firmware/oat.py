"""ART OAT files (Android 5-7: `oat/<isa>/*.odex`, `boot*.oat`): the DEX files they carry.

An OAT file is an ELF shared object whose dynamic symbol `oatdata` marks the OAT data (the `.rodata` section):
an OAT header (art/runtime/oat.h), its key-value store, then one OatDexFile record per DEX file
(art/runtime/oat_file.cc, OatFile::Setup), each giving the DEX file's location, the CRC32 of the original
`classes*.dex` and the offset of a full copy of that DEX inside the OAT data.

Layouts by OAT version (Android 5.0 = 039, 5.1 = 045, 6.0 = 064, 7.0 = 079, 7.1 = 088):
- the header has three more "portable" trampoline offsets before 064 (84 bytes instead of 72 before the store);
- after dex_file_offset, a record holds the class offsets inline (one uint32 per class def) up to 064, a type
  lookup table offset before them in 079, and two offsets (class offsets, lookup table) from 088.
The record walk does not trust that table alone: it tries each known tail and keeps the one after which the next
record is valid (a printable location, and an offset that points at a DEX header). The last record needs no tail.

dex2oat copies the DEX verbatim, but up to Android 7 it may also "quicken" the instructions of methods it did not
compile (dex-to-dex): the copy then differs from the APK's classes.dex, which the record's CRC32 shows.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.quicken import CodeItem, QuickenInfo, class_code_offsets, uleb, uleb_bytes

OAT_MAGIC = b"oat\n"
ELF_MAGIC = b"\x7fELF"
MAX_DEX_FILES = 4096
MAX_LOCATION = 4096


@dataclass
class OatDex:
    """One DEX file found in an OAT file."""

    location: str
    location_checksum: int  # CRC32 of the original classes*.dex, as recorded by dex2oat
    data: bytes
    offset: int  # from the start of the OAT data
    class_offsets: int = 0  # where its OatClass offsets array lies (0: unknown)

    @property
    def crc_matches(self) -> bool:
        """True when the copy is byte-identical to the DEX dex2oat was given (its CRC32 is the recorded one)."""
        return zlib.crc32(self.data) == self.location_checksum


@dataclass
class OatContents:
    version: str
    isa: int
    dexes: list[OatDex] = field(default_factory=list)
    key_values: dict[str, str] = field(default_factory=dict)


def oatdata_range(data: bytes, name: str) -> tuple[int, int]:
    """(file offset, size) of the OAT data in an OAT ELF file (or (0, len) for a bare OAT blob)."""
    if data[:4] == OAT_MAGIC:
        return 0, len(data)
    if data[:4] != ELF_MAGIC or len(data) < 52:
        raise FirmwareError(name, "not an ELF or OAT file")
    ei_class, ei_data = data[4], data[5]
    if ei_data != 1:
        raise FirmwareError(name, "not a little-endian ELF: not an Android OAT file")
    if ei_class == 2:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        fmt_sh, sym_fmt, sym_size = "<IIQQQQIIQQ", "<IBBHQQ", 24
    elif ei_class == 1:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
        fmt_sh, sym_fmt, sym_size = "<IIIIIIIIII", "<IIIBBH", 16
    else:
        raise FirmwareError(name, "ELF class is neither 32 nor 64 bit")
    if shnum > 256 or shentsize < struct.calcsize(fmt_sh) or shoff + shnum * shentsize > len(data):
        raise FirmwareError(name, "ELF section table lies past the end of the file")
    sections = []
    for i in range(shnum):
        s = struct.unpack_from(fmt_sh, data, shoff + i * shentsize)
        # (name, type, flags, addr, offset, size, link, info, align, entsize)
        sections.append(s)

    def sec_bytes(s: tuple) -> bytes:
        off, size = s[4], s[5]
        if s[1] == 8 or off + size > len(data):  # SHT_NOBITS, or damaged
            return b""
        return data[off : off + size]

    def addr_to_off(addr: int) -> int | None:
        for s in sections:
            if s[1] != 8 and s[3] <= addr < s[3] + s[5] and s[3]:
                return s[4] + (addr - s[3])
        return None

    shstr = sec_bytes(sections[shstrndx]) if shstrndx < len(sections) else b""

    def sec_name(s: tuple) -> str:
        end = shstr.find(b"\0", s[0])
        return shstr[s[0] : end].decode("ascii", "replace") if 0 <= s[0] < len(shstr) and end >= 0 else ""

    for s in sections:
        if s[1] != 11:  # SHT_DYNSYM
            continue
        syms = sec_bytes(s)
        strtab = sec_bytes(sections[s[6]]) if s[6] < len(sections) else b""
        for pos in range(0, len(syms) - sym_size + 1, sym_size):
            if ei_class == 2:
                st_name, _info, _other, _shndx, value, size = struct.unpack_from(sym_fmt, syms, pos)
            else:
                st_name, value, size, _info, _other, _shndx = struct.unpack_from(sym_fmt, syms, pos)
            if strtab[st_name : st_name + 8] == b"oatdata\0":
                off = addr_to_off(value)
                if off is None or off + size > len(data) or size < 8:
                    raise FirmwareError(name, "the ELF symbol oatdata points outside the file")
                return off, size
    for s in sections:  # no dynamic symbols (stripped tools): the OAT data is the .rodata section
        if sec_name(s) == ".rodata" and data[s[4] : s[4] + 4] == OAT_MAGIC:
            return s[4], s[5]
    raise FirmwareError(name, "ELF file has no oatdata symbol: not an OAT file")


def _key_values(store: bytes) -> dict[str, str] | None:
    """The header's key-value store (NUL-terminated key, value pairs), None if it does not parse as one."""
    parts = store.split(b"\0")
    if not store or store[-1:] != b"\0" or len(parts) % 2 == 0:
        return None if store else {}
    out = {}
    for k, v in zip(parts[0:-1:2], parts[1:-1:2], strict=True):
        if not k or not k.isascii():
            return None
        out[k.decode("ascii")] = v.decode("utf-8", "replace")
    return out


def _is_dex_at(oat: bytes, off: int) -> bool:
    return 0 < off <= len(oat) - 0x70 and oat[off : off + 4] == b"dex\n" and oat[off + 7] == 0


def _record_head(oat: bytes, pos: int) -> tuple[str, int, int, int] | None:
    """(location, location checksum, dex offset, position after them) of an OatDexFile record, if valid there."""
    if pos + 4 > len(oat):
        return None
    (lsize,) = struct.unpack_from("<I", oat, pos)
    if not 0 < lsize <= MAX_LOCATION or pos + 4 + lsize + 8 > len(oat):
        return None
    raw = oat[pos + 4 : pos + 4 + lsize]
    if not all(0x20 <= b < 0x7F for b in raw):
        return None
    checksum, dex_off = struct.unpack_from("<II", oat, pos + 4 + lsize)
    if not _is_dex_at(oat, dex_off):
        return None
    return raw.decode("ascii"), checksum, dex_off, pos + 4 + lsize + 8


def parse_oat(oat: bytes, name: str) -> OatContents:
    """The DEX files of the OAT data `oat` (starting with the OAT header). Raises FirmwareError."""
    if oat[:4] != OAT_MAGIC or len(oat) < 72:
        raise FirmwareError(name, "no OAT header at oatdata")
    version = oat[4:7].decode("ascii", "replace")
    if not version.isdigit():
        raise FirmwareError(name, f"OAT version {version!r} is not a number")
    isa, _features, dex_count = struct.unpack_from("<III", oat, 12)
    if dex_count > MAX_DEX_FILES:
        raise FirmwareError(name, f"OAT header claims {dex_count} DEX files")
    # Header size before the key-value store: 84 with the portable trampolines (before 064), else 72.
    sizes = (84, 72) if int(version) < 64 else (72, 84)
    for hsize in sizes:
        (kv_size,) = struct.unpack_from("<I", oat, hsize - 4)
        if hsize + kv_size > len(oat):
            continue
        kv = _key_values(oat[hsize : hsize + kv_size])
        if kv is None:
            continue
        pos = hsize + kv_size
        if dex_count and _record_head(oat, pos) is None:
            continue
        break
    else:
        raise FirmwareError(name, f"OAT {version} header does not parse (unknown layout or damaged)")
    out = OatContents(version=version, isa=isa, key_values=kv)
    for i in range(dex_count):
        head = _record_head(oat, pos)
        if head is None:
            raise FirmwareError(name, f"OAT {version} DEX record {i} at 0x{pos:x} is damaged")
        location, checksum, dex_off, after = head
        (dsize,) = struct.unpack_from("<I", oat, dex_off + 32)
        if dsize < 0x70 or dex_off + dsize > len(oat):
            raise FirmwareError(name, f"OAT DEX file {i} ({location}) claims {dsize} bytes past the OAT data")
        (class_defs,) = struct.unpack_from("<I", oat, dex_off + 96)
        if int(version) >= 88:
            cls = struct.unpack_from("<I", oat, after)[0] if after + 4 <= len(oat) else 0
        else:
            cls = after + (4 if int(version) >= 79 else 0)
        if cls + 4 * class_defs > len(oat):
            cls = 0
        out.dexes.append(OatDex(location, checksum, oat[dex_off : dex_off + dsize], dex_off, cls))
        if i + 1 == dex_count:
            break
        # Known record tails (in uint32s): 088: class offsets offset + lookup table offset; 079: lookup table
        # offset + inline class offsets; 039-064: inline class offsets; and the plain neighbours of these.
        tails = (2, class_defs + 1, class_defs, 1, 3, class_defs + 2)
        for t in tails:
            if _record_head(oat, after + 4 * t) is not None:
                pos = after + 4 * t
                break
        else:
            raise FirmwareError(name, f"OAT {version}: cannot find DEX record {i + 1} after {location}")
    return out


def dex_from_oat(data: bytes, name: str) -> OatContents:
    """The DEX files of an OAT ELF file (an Android 5-7 .odex or boot*.oat)."""
    off, size = oatdata_range(data, name)
    return parse_oat(data[off : off + size] if size else data[off:], name)


def quickening_info(data: bytes, contents: OatContents, dex: OatDex) -> QuickenInfo | None:
    """Android 7 (OAT 079+) keeps, for each method dex2oat quickened instead of compiling, the original indices:
    the method's "vmap table" (OatQuickMethodHeader, 20 bytes before its code) is a list of (dex pc, field or
    method index) ULEB128 pairs, one per quickened field access or call, in code order
    (art/compiler/dex/dex_to_dex_compiler.cc). Earlier versions keep none: None."""
    if int(contents.version) < 79 or not dex.class_offsets:
        return None
    off, _size = oatdata_range(data, "oat")
    oat = memoryview(data)[off:]
    where = _method_positions(dex.data)
    thumb = contents.isa in (1, 3)  # ARM/Thumb2 code offsets carry the Thumb bit

    def info(item: CodeItem) -> list[tuple[int, int]] | None:
        pos = where.get(item.off)
        if pos is None:
            return None
        class_idx, method_pos = pos
        try:
            (cls_off,) = struct.unpack_from("<I", oat, dex.class_offsets + 4 * class_idx)
            _status, kind = struct.unpack_from("<hH", oat, cls_off)
            q = cls_off + 4
            slot = method_pos
            if kind == 1:  # some compiled: a bitmap says which methods have an entry
                (bsize,) = struct.unpack_from("<I", oat, q)
                bitmap = bytes(oat[q + 4 : q + 4 + bsize])
                if not bitmap[method_pos // 8] >> (method_pos % 8) & 1:
                    return None
                slot = sum(bin(b).count("1") for b in bitmap[: method_pos // 8])
                slot += bin(bitmap[method_pos // 8] & ((1 << (method_pos % 8)) - 1)).count("1")
                q += 4 + bsize
            elif kind != 0:
                return None
            (code_off,) = struct.unpack_from("<I", oat, q + 4 * slot)
            if thumb:
                code_off &= ~1
            if code_off < 20:
                return None
            vmap_off, _f, _c, _p, code_size = struct.unpack_from("<5I", oat, code_off - 20)
            if code_size != 0 or not vmap_off or vmap_off > code_off:
                return None  # compiled to machine code: the DEX copy was not quickened there
            table = bytes(oat[code_off - vmap_off : code_off - vmap_off + 10 * item.insns_size + 10])
        except (struct.error, IndexError):
            return None
        return _pairs(table)

    return info


def _pairs(table: bytes) -> list[tuple[int, int]]:
    """Read (pc, index) ULEB128 pairs while pcs increase (the table's length is the quickened count)."""
    out: list[tuple[int, int]] = []
    pos, last = 0, -1
    while pos < len(table):
        try:
            pc, pos2 = uleb(table, pos)
            idx, pos2 = uleb(table, pos2)
        except ValueError:
            break
        if pc <= last:
            break
        out.append((pc, idx))
        pos, last = pos2, pc
    return out


def _method_positions(dex: bytes) -> dict[int, tuple[int, int]]:
    """code_off -> (class def index, position of the method in its class_data: direct then virtual)."""
    out: dict[int, tuple[int, int]] = {}
    for c, methods in enumerate(class_code_offsets(dex)):
        for m, code_off in enumerate(methods or []):
            if code_off:
                out.setdefault(code_off, (c, m))
    return out


# -- writer (tests and bench) --------------------------------------------------------------------------------
def _class_methods(dex: bytes) -> list[list[int]]:
    """Per class def, the code_off (0 without code) of each method in class_data order."""
    out: list[list[int]] = []
    for methods in class_code_offsets(dex):
        if methods is None:
            raise ValueError("bad uleb128")  # the writer is given well-formed DEX only
        out.append(methods)
    return out


def write_oat(dexes: list[tuple[str, bytes]], version: str = "088", isa: int = 2,
              key_values: dict[str, str] | None = None,
              quickening: list[dict[int, list[tuple[int, int]]]] | None = None,
              checksums: list[int] | None = None) -> bytes:
    """The OAT data (header, key-value store, DEX records, DEX files, OatClass tables) as dex2oat lays it out for
    `version`. With `quickening` (per DEX: code_off -> (dex pc, index) pairs; OAT 088 only), each such method gets
    an OatQuickMethodHeader without code whose vmap table is its quickening table, as Android 7's dex-to-dex.
    `checksums`: the CRC32 of the original DEX files (default: of the DEX given)."""
    kv = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in (key_values or {
        "compiler-filter": "speed", "dex2oat-host": "X86_64", "pic": "true"}).items())
    v = int(version)
    fixed = struct.pack("<III", isa, 0, len(dexes)) + struct.pack("<I", 0)  # isa, features, count, exec offset
    trampolines = 7 + (3 if v < 64 else 0)  # i2i, i2c, jni dlsym, [3 portable], generic jni, imt, resolution, q2i
    header = OAT_MAGIC + version.encode() + b"\0" + struct.pack("<I", 0) + fixed
    header += bytes(4 * trampolines) + struct.pack("<iII", 0, 0, 0) + struct.pack("<I", len(kv)) + kv

    def tail(dex: bytes, class_offsets_off: int) -> bytes:
        (class_defs,) = struct.unpack_from("<I", dex, 96)
        inline = bytes(4 * class_defs)  # class offsets of no compiled class
        if v >= 88:
            return struct.pack("<II", class_offsets_off, 0)
        if v >= 79:
            return struct.pack("<I", 0) + inline
        return inline

    records_len = sum(4 + len(loc.encode()) + 8 + len(tail(d, 0)) for loc, d in dexes)
    pos = len(header) + records_len
    offsets = []
    for _loc, d in dexes:
        pos = (pos + 3) & ~3
        offsets.append(pos)
        pos += len(d)
    # After the DEX files (088): per DEX its class offsets array and OatClass tables, then the method headers.
    tables = bytearray()
    base = (pos + 3) & ~3
    class_arrays: list[int] = []
    fixups: list[tuple[int, list[tuple[int, int]]]] = []  # (position of a code_offset slot, quickening pairs)
    for di, (_loc, d) in enumerate(dexes):
        per_class = _class_methods(d) if v >= 88 else []
        quick = (quickening or [{}] * len(dexes))[di]
        class_arrays.append(base + len(tables))
        arr_pos = len(tables)
        tables += bytes(4 * len(per_class))
        for c, methods in enumerate(per_class):
            struct.pack_into("<I", tables, arr_pos + 4 * c, base + len(tables))
            tables += struct.pack("<hH", 9, 0)  # status initialized, kOatClassAllCompiled
            for code_off in methods:
                if code_off in quick:
                    fixups.append((len(tables), quick[code_off]))
                tables += struct.pack("<I", 0)
    for slot, pairs in fixups:  # vmap table, then the 20-byte header (vmap offset, frame info, code size 0)
        blob = b"".join(uleb_bytes(pc) + uleb_bytes(idx) for pc, idx in pairs)
        while len(tables) % 4:
            tables.append(0)
        vmap_at = base + len(tables)
        tables += blob
        while len(tables) % 4:
            tables.append(0)
        code_at = base + len(tables) + 20
        tables += struct.pack("<5I", code_at - vmap_at, 0, 0, 0, 0)
        struct.pack_into("<I", tables, slot, code_at)
    records = b""
    crcs = checksums or [zlib.crc32(d) for _loc, d in dexes]
    for (loc, dex), off, cls, crc in zip(dexes, offsets, class_arrays, crcs, strict=True):
        records += struct.pack("<I", len(loc.encode())) + loc.encode() + struct.pack("<II", crc, off)
        records += tail(dex, cls)
    out = bytearray(header + records)
    for (_loc, d), off in zip(dexes, offsets, strict=True):
        out += bytes(off - len(out)) + d
    out += bytes(base - len(out)) + tables
    return bytes(out)


def write_oat_elf(oat: bytes, elf64: bool = True) -> bytes:
    """A minimal ELF shared object as dex2oat writes it: .rodata (the OAT data) at 0x1000, .dynstr, .dynsym with
    oatdata/oatlastword, .shstrtab. Enough for readelf and for oatdata_range."""
    rodata_off = 0x1000
    dynstr = b"\0oatdata\0oatlastword\0"
    shstr = b"\0.rodata\0.dynstr\0.dynsym\0.shstrtab\0"
    dynstr_off = rodata_off + ((len(oat) + 0xFFF) & ~0xFFF)
    if elf64:
        sym = lambda n, val, size, ndx: struct.pack("<IBBHQQ", n, 0x11, 0, ndx, val, size)  # noqa: E731
    else:
        sym = lambda n, val, size, ndx: struct.pack("<IIIBBH", n, val, size, 0x11, 0, ndx)  # noqa: E731
    dynsym = sym(0, 0, 0, 0) + sym(1, rodata_off, len(oat), 1) + sym(9, rodata_off + len(oat) - 4, 4, 1)
    dynsym_off = (dynstr_off + len(dynstr) + 7) & ~7
    shstr_off = dynsym_off + len(dynsym)
    shoff = (shstr_off + len(shstr) + 7) & ~7
    # (name, type, flags, addr, offset, size, link, info, align, entsize)
    secs = [(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            (1, 1, 2, rodata_off, rodata_off, len(oat), 0, 0, 4096, 0),
            (9, 3, 2, dynstr_off, dynstr_off, len(dynstr), 0, 0, 1, 0),
            (17, 11, 2, dynsym_off, dynsym_off, len(dynsym), 2, 1, 8, len(dynsym) // 3),
            (25, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)]
    if elf64:
        ehdr = (ELF_MAGIC + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack("<HHIQQQIHHHHHH", 3, 183, 1, 0, 0, shoff, 0,
                                                                        64, 56, 0, 64, len(secs), 4))
        sh = b"".join(struct.pack("<IIQQQQIIQQ", *s) for s in secs)
    else:
        ehdr = (ELF_MAGIC + bytes([1, 1, 1, 0]) + bytes(8) + struct.pack("<HHIIIIIHHHHHH", 3, 40, 1, 0, 0, shoff, 0,
                                                                        52, 32, 0, 40, len(secs), 4))
        sh = b"".join(struct.pack("<IIIIIIIIII", *s) for s in secs)
    out = bytearray(ehdr)
    for off, blob in ((rodata_off, oat), (dynstr_off, dynstr), (dynsym_off, dynsym), (shstr_off, shstr), (shoff, sh)):
        out += bytes(off - len(out)) + blob
    return bytes(out)
