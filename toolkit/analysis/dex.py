"""A small, lazy reader of DEX files: id tables, class data, code items and Dalvik instructions.

Why not androguard's `DEX` here: it parses every item of the file eagerly (about 4 s and 360 MB for the 10 MB
classes.dex of a real 18 MB APK), while the leak engine needs a handful of methods of most apps. This reader
parses the fixed-size id tables and the class data, and decodes a method's instructions only when asked. The
format is the public "Dalvik executable format" (source.android.com/docs/core/runtime/dex-format); instructions
follow "Dalvik bytecode" formats (10x, 12x, 22c, 35c ...). Offsets are in 16-bit code units, as dexdump prints.

Two ways in: `DexFile` (lazy: classes, code, instructions) for the data-flow engine, and `read_dex_tables` (every
id table at once, no bytecode) for the questions "which classes and constant strings does this DEX hold?" asked by
the store comparison and the endpoint scan, which take milliseconds.
"""

from __future__ import annotations

import bisect
import re
import struct
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

NO_INDEX = 0xFFFFFFFF


class DexError(Exception):
    """The DEX bytes are malformed; the message says where."""


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 35:
            raise DexError(f"bad uleb128 at 0x{pos:x}")


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos
        if shift > 35:
            raise DexError(f"bad sleb128 at 0x{pos:x}")


# --- instruction formats -------------------------------------------------------------------------------------
# Size in code units and format name of every opcode.
_FMT: list[str] = ["10x"] * 256
_FMT[0x01] = "12x"
_FMT[0x02] = "22x"
_FMT[0x03] = "32x"
_FMT[0x04] = "12x"
_FMT[0x05] = "22x"
_FMT[0x06] = "32x"
_FMT[0x07] = "12x"
_FMT[0x08] = "22x"
_FMT[0x09] = "32x"
for _op in range(0x0A, 0x0E):
    _FMT[_op] = "11x"
for _op in range(0x0F, 0x12):
    _FMT[_op] = "11x"
_FMT[0x12] = "11n"
_FMT[0x13] = "21s"
_FMT[0x14] = "31i"
_FMT[0x15] = "21h"
_FMT[0x16] = "21s"
_FMT[0x17] = "31i"
_FMT[0x18] = "51l"
_FMT[0x19] = "21h"
_FMT[0x1A] = "21c"
_FMT[0x1B] = "31c"
_FMT[0x1C] = "21c"
_FMT[0x1D] = "11x"
_FMT[0x1E] = "11x"
_FMT[0x1F] = "21c"
_FMT[0x20] = "22c"
_FMT[0x21] = "12x"
_FMT[0x22] = "21c"
_FMT[0x23] = "22c"
_FMT[0x24] = "35c"
_FMT[0x25] = "3rc"
_FMT[0x26] = "31t"
_FMT[0x27] = "11x"
_FMT[0x28] = "10t"
_FMT[0x29] = "20t"
_FMT[0x2A] = "30t"
_FMT[0x2B] = "31t"
_FMT[0x2C] = "31t"
for _op in range(0x2D, 0x32):
    _FMT[_op] = "23x"
for _op in range(0x32, 0x38):
    _FMT[_op] = "22t"
for _op in range(0x38, 0x3E):
    _FMT[_op] = "21t"
for _op in range(0x44, 0x52):
    _FMT[_op] = "23x"
for _op in range(0x52, 0x60):
    _FMT[_op] = "22c"
for _op in range(0x60, 0x6E):
    _FMT[_op] = "21c"
for _op in range(0x6E, 0x73):
    _FMT[_op] = "35c"
for _op in range(0x74, 0x79):
    _FMT[_op] = "3rc"
for _op in range(0x7B, 0x90):
    _FMT[_op] = "12x"
for _op in range(0x90, 0xB0):
    _FMT[_op] = "23x"
for _op in range(0xB0, 0xD0):
    _FMT[_op] = "12x"
for _op in range(0xD0, 0xD8):
    _FMT[_op] = "22s"
for _op in range(0xD8, 0xE3):
    _FMT[_op] = "22b"
_FMT[0xFA] = "45cc"
_FMT[0xFB] = "4rcc"
_FMT[0xFC] = "35c"
_FMT[0xFD] = "3rc"
_FMT[0xFE] = "21c"
_FMT[0xFF] = "21c"
_SIZE = {
    "10x": 1, "12x": 1, "11n": 1, "11x": 1, "10t": 1, "20t": 2, "22x": 2, "21t": 2, "21s": 2, "21h": 2,
    "21c": 2, "23x": 2, "22b": 2, "22t": 2, "22s": 2, "22c": 2, "30t": 3, "32x": 3, "31i": 3, "31t": 3,
    "31c": 3, "35c": 3, "3rc": 3, "45cc": 4, "4rcc": 4, "51l": 5,
}
_UNIT_SIZE = [_SIZE[f] for f in _FMT]

INVOKE_OPS = frozenset(range(0x6E, 0x73)) | frozenset(range(0x74, 0x79))
IGET_OPS = frozenset(range(0x52, 0x59))
IPUT_OPS = frozenset(range(0x59, 0x60))
SGET_OPS = frozenset(range(0x60, 0x67))
SPUT_OPS = frozenset(range(0x67, 0x6E))
RETURN_OPS = frozenset((0x0E, 0x0F, 0x10, 0x11))
CONST32_OPS = frozenset(range(0x12, 0x16))  # const/4, const/16, const, const/high16: a 32-bit literal into vA
# instructions that may write a register pair vA, vA+1 (move-wide, move-result-wide, const-wide, aget/iget/sget-wide,
# and every arithmetic instruction, some of which give a long or a double)
MAY_WRITE_WIDE_OPS = frozenset([0x04, 0x05, 0x06, 0x0B, 0x16, 0x17, 0x18, 0x19, 0x45, 0x53, 0x61, *range(0x7B, 0xE3)])
INVOKE_KIND = {0x6E: "virtual", 0x6F: "super", 0x70: "direct", 0x71: "static", 0x72: "interface",
               0x74: "virtual", 0x75: "super", 0x76: "direct", 0x77: "static", 0x78: "interface"}


_REF_GROUPS: dict[str, tuple[frozenset[int], bool]] = {
    "invoke": (INVOKE_OPS, False),
    "field": (IGET_OPS | IPUT_OPS | SGET_OPS | SPUT_OPS, False),
    "type": (frozenset((0x22, 0x1C, 0x1F, 0x20, 0x23)), False),
    "string": (frozenset((0x1A,)), False),
    "string_jumbo": (frozenset((0x1B,)), True),
}


def _group_of(ops: frozenset[int], wide: bool) -> str:
    for name, (group_ops, group_wide) in _REF_GROUPS.items():
        if ops <= group_ops and wide == group_wide:
            return name
    raise ValueError(f"no reference group for opcodes {sorted(ops)}")


def _s16(v: int) -> int:
    return v - 0x10000 if v & 0x8000 else v


def _s32(v: int) -> int:
    return v - 0x100000000 if v & 0x80000000 else v


@dataclass(slots=True)
class Insn:
    """One decoded instruction. Meaning of a/b/c depends on the format (see `decode`).

    - moves, unops, 12x/22x/32x: a=dest, b=src; 11x: a=reg
    - const*: a=dest, lit=value; const-string/class, new-instance, check-cast, sget/sput: a=reg, idx=pool index
    - iget/iput/instance-of/new-array: a, b regs, idx=pool index
    - 23x (binop, aget/aput, cmp): a, b, c regs; 22b/22s: a, b regs, lit
    - branches: a (and b) regs, targets = absolute code-unit offsets
    - invoke*/filled-new-array: regs = argument registers, idx = method (or type) index
    """

    off: int
    op: int
    a: int = 0
    b: int = 0
    c: int = 0
    idx: int = 0
    lit: int = 0
    regs: tuple[int, ...] = ()
    targets: tuple[int, ...] = ()
    keys: tuple[int, ...] = ()  # packed/sparse-switch: the case value of each target, in order


@dataclass(slots=True)
class TryBlock:
    start: int
    end: int  # exclusive, code units
    handlers: tuple[tuple[int, int], ...]  # (type_idx or -1 for catch-all, handler address)


@dataclass(slots=True)
class Code:
    registers: int
    ins: int
    insns: list[Insn]
    tries: list[TryBlock]


@dataclass(slots=True, eq=False)
class MethodDef:
    """A method defined (with or without code) by a class of this DEX."""

    dex: DexFile
    idx: int
    class_desc: str
    name: str
    proto: str  # (params)ret
    access: int
    code_off: int
    sig: str = field(init=False)  # "Lcls;->name(params)ret": asked millions of times in a big app, built once

    def __post_init__(self) -> None:
        self.sig = f"{self.class_desc}->{self.name}{self.proto}"

    @property
    def is_static(self) -> bool:
        return bool(self.access & 0x8)

    @property
    def is_abstract(self) -> bool:
        return bool(self.access & 0x400) or bool(self.access & 0x100)


@dataclass(slots=True, eq=False)
class ClassDef:
    dex: DexFile
    desc: str
    access: int
    superclass: str | None
    interfaces: tuple[str, ...]
    methods: dict[str, MethodDef] = field(default_factory=dict)  # key: name + proto
    field_idxs: list[int] = field(default_factory=list)
    _field_names: set[str] | None = None

    def field_type(self, name: str) -> str | None:
        """The type descriptor of the field `name` this class declares (None: it declares none)."""
        for i in self.field_idxs:
            _cls, fname, ftype = self.dex.field_ref(i)
            if fname == name:
                return ftype
        return None

    def declares_field(self, name: str) -> bool:
        if self._field_names is None:
            self._field_names = {self.dex.field_ref(i)[1] for i in self.field_idxs}
        return name in self._field_names


class DexFile:
    """One classes*.dex: id tables parsed at once, code decoded on demand."""

    def __init__(self, data: bytes, name: str = "classes.dex") -> None:
        self.name = name
        self.data = data
        if len(data) < 0x70 or not data.startswith(b"dex\n"):
            raise DexError(f"{name}: not a DEX file (bad magic)")
        (
            self.string_ids_size, self.string_ids_off, self.type_ids_size, self.type_ids_off,
            self.proto_ids_size, self.proto_ids_off, self.field_ids_size, self.field_ids_off,
            self.method_ids_size, self.method_ids_off, self.class_defs_size, self.class_defs_off,
        ) = struct.unpack_from("<12I", data, 0x38)
        size = len(data)
        for what, off, count, width in (
            ("string_ids", self.string_ids_off, self.string_ids_size, 4),
            ("type_ids", self.type_ids_off, self.type_ids_size, 4),
            ("proto_ids", self.proto_ids_off, self.proto_ids_size, 12),
            ("field_ids", self.field_ids_off, self.field_ids_size, 8),
            ("method_ids", self.method_ids_off, self.method_ids_size, 8),
            ("class_defs", self.class_defs_off, self.class_defs_size, 32),
        ):
            if count and (off + count * width > size):
                raise DexError(f"{name}: {what} table runs past the end of the file (truncated or malformed)")
        self._string_offs = array("I", data[self.string_ids_off : self.string_ids_off + 4 * self.string_ids_size])
        self._type_strs = array("I", data[self.type_ids_off : self.type_ids_off + 4 * self.type_ids_size])
        self._strings: dict[int, str] = {}
        self._types: dict[int, str] = {}
        self._protos: dict[int, str] = {}
        self._methods: dict[int, tuple[str, str, str]] = {}
        self._fields: dict[int, tuple[str, str, str]] = {}
        self._code_cache: dict[int, Code] = {}
        self._code_ranges: list[int] | None = None
        self._code_owner: list[MethodDef] = []
        self.classes: dict[str, ClassDef] = {}
        self.methods: list[MethodDef] = []
        self._name_index: dict[str, list[int]] | None = None
        self._field_keys: list[tuple[int, int]] | None = None
        self._ref_indexes: dict[str, dict[int, list[int]]] = {}
        self._load_classes()

    # --- pools ---------------------------------------------------------------------------------------------
    def string(self, idx: int) -> str:
        s = self._strings.get(idx)
        if s is None:
            if idx >= self.string_ids_size:
                raise DexError(f"{self.name}: string index {idx} out of range")
            off = self._string_offs[idx]
            _, pos = _uleb(self.data, off)
            end = self.data.index(b"\x00", pos)
            s = decode_mutf8(self.data[pos:end])
            self._strings[idx] = s
        return s

    def type(self, idx: int) -> str:
        t = self._types.get(idx)
        if t is None:
            if idx >= self.type_ids_size:
                raise DexError(f"{self.name}: type index {idx} out of range")
            t = self.string(self._type_strs[idx])
            self._types[idx] = t
        return t

    def _type_list(self, off: int) -> list[str]:
        if not off:
            return []
        (count,) = struct.unpack_from("<I", self.data, off)
        idxs = struct.unpack_from(f"<{count}H", self.data, off + 4)
        return [self.type(i) for i in idxs]

    def proto(self, idx: int) -> str:
        p = self._protos.get(idx)
        if p is None:
            if idx >= self.proto_ids_size:
                raise DexError(f"{self.name}: proto index {idx} out of range")
            _shorty, ret, params_off = struct.unpack_from("<3I", self.data, self.proto_ids_off + 12 * idx)
            p = "(" + "".join(self._type_list(params_off)) + ")" + self.type(ret)
            self._protos[idx] = p
        return p

    def method_ref(self, idx: int) -> tuple[str, str, str]:
        """(class descriptor, name, proto) of a method id."""
        m = self._methods.get(idx)
        if m is None:
            if idx >= self.method_ids_size:
                raise DexError(f"{self.name}: method index {idx} out of range")
            cls, proto, name = struct.unpack_from("<HHI", self.data, self.method_ids_off + 8 * idx)
            m = (self.type(cls), self.string(name), self.proto(proto))
            self._methods[idx] = m
        return m

    def field_ref(self, idx: int) -> tuple[str, str, str]:
        """(class descriptor, name, type) of a field id."""
        f = self._fields.get(idx)
        if f is None:
            if idx >= self.field_ids_size:
                raise DexError(f"{self.name}: field index {idx} out of range")
            cls, typ, name = struct.unpack_from("<HHI", self.data, self.field_ids_off + 8 * idx)
            f = (self.type(cls), self.string(name), self.type(typ))
            self._fields[idx] = f
        return f

    def find_string(self, value: str) -> int | None:
        """Index of a string in the (sorted) string table, by binary search."""
        lo, hi = 0, self.string_ids_size
        key = value.encode("utf-16-be", "surrogatepass")
        while lo < hi:
            mid = (lo + hi) // 2
            cur = self.string(mid).encode("utf-16-be", "surrogatepass")
            if cur < key:
                lo = mid + 1
            elif cur > key:
                hi = mid
            else:
                return mid
        return None

    def strings_with_prefix(self, prefix: str) -> list[int]:
        """Indexes of every string starting with prefix (the table is sorted)."""
        key = prefix.encode("utf-16-be", "surrogatepass")
        lo, hi = 0, self.string_ids_size
        while lo < hi:
            mid = (lo + hi) // 2
            if self.string(mid).encode("utf-16-be", "surrogatepass") < key:
                lo = mid + 1
            else:
                hi = mid
        out = []
        while lo < self.string_ids_size and self.string(lo).startswith(prefix):
            out.append(lo)
            lo += 1
        return out

    def find_type(self, desc: str) -> int | None:
        sidx = self.find_string(desc)
        if sidx is None:
            return None
        i = bisect.bisect_left(self._type_strs, sidx)
        return i if i < len(self._type_strs) and self._type_strs[i] == sidx else None

    def method_ids_named(self, name: str) -> list[int]:
        """Every method id (of any class) with this name."""
        if self._name_index is None:
            index: dict[int, list[int]] = {}
            for i, (_c, _p, n) in enumerate(struct.iter_unpack("<HHI", self.data[self.method_ids_off : self.method_ids_off + 8 * self.method_ids_size])):
                index.setdefault(n, []).append(i)
            self._name_index = {}  # filled lazily below
            self._name_by_sidx = index
        sidx = self.find_string(name)
        return list(self._name_by_sidx.get(sidx, [])) if sidx is not None else []

    def method_class_idx(self, idx: int) -> int:
        return int(struct.unpack_from("<H", self.data, self.method_ids_off + 8 * idx)[0])

    def find_methods(self, class_desc: str, name: str) -> list[int]:
        """Method ids of `class_desc`->`name` (any proto)."""
        t = self.find_type(class_desc)
        if t is None:
            return []
        return [i for i in self.method_ids_named(name) if struct.unpack_from("<H", self.data, self.method_ids_off + 8 * i)[0] == t]

    def find_fields(self, class_desc: str, name: str) -> list[int]:
        t = self.find_type(class_desc)
        n = self.find_string(name)
        if t is None or n is None:
            return []
        if self._field_keys is None:
            self._field_keys = [
                (c, nm) for c, _typ, nm in struct.iter_unpack("<HHI", self.data[self.field_ids_off : self.field_ids_off + 8 * self.field_ids_size])
            ]
        keys = self._field_keys
        i = bisect.bisect_left(keys, (t, n))  # field ids are sorted by (class, name, type)
        out = []
        while i < len(keys) and keys[i] == (t, n):
            out.append(i)
            i += 1
        return out

    # --- classes -------------------------------------------------------------------------------------------
    def _load_classes(self) -> None:
        data = self.data
        # bulk-unpacked method ids and the pools' caches as locals: this loop runs for every method of the APK
        ids = list(struct.iter_unpack("<HHI", data[self.method_ids_off : self.method_ids_off + 8 * self.method_ids_size]))
        strings = self._strings
        protos = self._protos
        for i in range(self.class_defs_size):
            cls_idx, access, super_idx, ifaces_off, _src, _ann, data_off, _static = struct.unpack_from(
                "<8I", data, self.class_defs_off + 32 * i
            )
            desc = self.type(cls_idx)
            if desc in self.classes:
                continue
            cdef = ClassDef(
                dex=self, desc=desc, access=access,
                superclass=self.type(super_idx) if super_idx != NO_INDEX else None,
                interfaces=tuple(self._type_list(ifaces_off)),
            )
            self.classes[desc] = cdef
            if not data_off:
                continue
            pos = data_off
            sf, pos = _uleb(data, pos)
            inf, pos = _uleb(data, pos)
            dm, pos = _uleb(data, pos)
            vm, pos = _uleb(data, pos)
            fidx = 0
            for k in range(sf + inf):
                if k == sf:
                    fidx = 0
                diff, pos = _uleb(data, pos)
                _acc, pos = _uleb(data, pos)
                fidx += diff
                cdef.field_idxs.append(fidx)
            midx = 0
            for k in range(dm + vm):
                if k == dm:
                    midx = 0
                diff, pos = _uleb(data, pos)
                macc, pos = _uleb(data, pos)
                code_off, pos = _uleb(data, pos)
                midx += diff
                if midx >= self.method_ids_size:
                    raise DexError(f"{self.name}: method index {midx} out of range in class data of {desc}")
                _c, proto_i, name_i = ids[midx]
                mname = strings.get(name_i)
                if mname is None:
                    mname = self.string(name_i)
                mproto = protos.get(proto_i)
                if mproto is None:
                    mproto = self.proto(proto_i)
                mdef = MethodDef(self, midx, desc, mname, mproto, macc, code_off)
                cdef.methods[mname + mproto] = mdef
                self.methods.append(mdef)

    def _ranges(self) -> list[int]:
        if self._code_ranges is None:
            owners = sorted((m for m in self.methods if m.code_off), key=lambda m: m.code_off)
            self._code_owner = owners
            self._code_ranges = [m.code_off for m in owners]
        return self._code_ranges

    def method_at(self, file_off: int) -> MethodDef | None:
        """The method whose code item contains this file offset."""
        ranges = self._ranges()
        i = bisect.bisect_right(ranges, file_off) - 1
        if i < 0:
            return None
        m = self._code_owner[i]
        (insns_size,) = struct.unpack_from("<I", self.data, m.code_off + 12)
        return m if file_off < m.code_off + 16 + 2 * insns_size else None

    def _ref_index(self, group: str) -> dict[int, list[int]]:
        """pool index -> file offsets of candidate instructions of one group, built once per DEX with one regex
        pass over the code area (a candidate may be a false match inside another instruction: decode to check)."""
        index = self._ref_indexes.get(group)
        if index is not None:
            return index
        ops, wide = _REF_GROUPS[group]
        ranges = self._ranges()
        index = {}
        if ranges:
            lo = ranges[0]
            last = self._code_owner[-1]
            hi = last.code_off + 16 + 2 * self.insns_size(last)
            cls = b"[" + b"".join(re.escape(bytes([o])) for o in sorted(ops)) + b"]"
            fmt_len = 4 if wide else 2
            pattern = re.compile(cls + b"." + b"." * fmt_len, re.DOTALL)
            data = self.data
            unpack = struct.unpack_from
            fmt = "<I" if wide else "<H"
            pos = lo
            while True:
                match = pattern.search(data, pos, hi)
                if match is None:
                    break
                start = match.start()
                if start & 1:
                    pos = start + 1  # instructions start at even offsets
                    continue
                index.setdefault(unpack(fmt, data, start + 2)[0], []).append(start)
                pos = start + 2
        self._ref_indexes[group] = index
        return index

    def classes_used_elsewhere(self) -> set[str]:
        """Classes that code of another class names: a static field or method, an instruction naming the type
        (new-instance, const-class, check-cast, instance-of, arrays), or any field or method of it. A superset of
        the classes such code can initialise (a byte pattern inside another instruction only adds a class)."""
        out: set[str] = set()
        for group, owner_of in (("field", lambda i: self.field_ref(i)[0]), ("invoke", lambda i: self.method_ref(i)[0]),
                                ("type", self.type)):
            for idx, starts in self._ref_index(group).items():
                try:
                    cls = owner_of(idx)
                except DexError:
                    continue  # a false match naming no pool entry
                if cls in out:
                    continue
                for start in starts:
                    m = self.method_at(start)
                    if m is not None and m.class_desc != cls:
                        out.add(cls)
                        break
        return out

    def methods_referencing(self, ops: Iterable[int], idxs: Iterable[int], wide: bool = False, verify: bool = True) -> set[MethodDef]:
        """Methods whose code holds an instruction `op` with pool index in `idxs` (confirmed by decoding the
        candidate methods unless verify=False)."""
        ops = list(ops)
        idx_list = sorted(set(idxs))
        if not idx_list:
            return set()
        op_set = frozenset(ops)
        group = _group_of(op_set, wide)
        data = self.data
        if group in self._ref_indexes or len(idx_list) > 12:
            index = self._ref_index(group)
            positions = [start for i in idx_list for start in index.get(i, ())]
        else:
            # a few indexes: searching their byte patterns directly is cheaper than indexing the whole file
            fmt = "<I" if wide else "<H"
            positions = []
            for i in idx_list:
                pat = struct.pack(fmt, i)
                pos = data.find(pat, 2)
                while pos != -1:
                    positions.append(pos - 2)
                    pos = data.find(pat, pos + 1)
        candidates: set[MethodDef] = set()
        for start in positions:
            if data[start] in op_set:
                m = self.method_at(start)
                if m is not None and (start - m.code_off - 16) % 2 == 0:
                    candidates.add(m)
        if not verify:
            return candidates
        # the byte pattern may sit inside another instruction or a payload: confirm on the decoded code
        wanted_ops = frozenset(ops)
        wanted = frozenset(idx_list)
        found: set[MethodDef] = set()
        for m in candidates:
            try:
                code = self.code(m)
            except DexError:
                continue
            if code is not None and any(i.op in wanted_ops and i.idx in wanted for i in code.insns):
                found.add(m)
        return found

    # --- code ----------------------------------------------------------------------------------------------
    def insns_size(self, m: MethodDef) -> int:
        """Code size of a method in 16-bit units (0 without code), without decoding it."""
        if not m.code_off:
            return 0
        return int(struct.unpack_from("<I", self.data, m.code_off + 12)[0])

    def code(self, m: MethodDef) -> Code | None:
        """Decoded code of a method (cached), None for abstract/native methods."""
        if not m.code_off:
            return None
        cached = self._code_cache.get(m.code_off)
        if cached is None:
            cached = self._decode(m.code_off)
            self._code_cache[m.code_off] = cached
        return cached

    def _decode(self, off: int) -> Code:
        data = self.data
        try:
            regs, ins, _outs, tries_size, _dbg, insns_size = struct.unpack_from("<4HII", data, off)
        except struct.error as exc:
            raise DexError(f"{self.name}: code item at 0x{off:x} truncated") from exc
        start = off + 16
        if start + 2 * insns_size > len(data):
            raise DexError(f"{self.name}: code item at 0x{off:x} runs past the end of the file")
        u = array("H", data[start : start + 2 * insns_size])
        insns = decode_units(u)
        tries: list[TryBlock] = []
        if tries_size:
            tpos = start + 2 * insns_size + (2 if insns_size % 2 else 0)
            hbase = tpos + 8 * tries_size
            for t in range(tries_size):
                saddr, count, hoff = struct.unpack_from("<IHH", data, tpos + 8 * t)
                pos = hbase + hoff
                size, pos = _sleb(data, pos)
                handlers: list[tuple[int, int]] = []
                for _ in range(abs(size)):
                    tidx, pos = _uleb(data, pos)
                    addr, pos = _uleb(data, pos)
                    handlers.append((tidx, addr))
                if size <= 0:
                    addr, pos = _uleb(data, pos)
                    handlers.append((-1, addr))
                tries.append(TryBlock(saddr, saddr + count, tuple(handlers)))
        return Code(regs, ins, insns, tries)


def decode_units(u: array) -> list[Insn]:
    """Decode a method's code units into instructions (payload pseudo-instructions are skipped)."""
    out: list[Insn] = []
    n = len(u)
    pc = 0
    payloads: dict[int, tuple[int, ...]] = {}
    case_keys: dict[int, tuple[int, ...]] = {}
    switches: list[tuple[Insn, int, int]] = []
    while pc < n:
        w = u[pc]
        op = w & 0xFF
        hi = w >> 8
        if op == 0 and hi:
            if hi == 1 and pc + 1 < n:  # packed-switch-payload
                size = u[pc + 1]
                tg = [u[pc + 4 + 2 * k] | (u[pc + 5 + 2 * k] << 16) for k in range(size) if pc + 5 + 2 * k < n]
                payloads[pc] = tuple(_s32(t) for t in tg)
                if pc + 3 < n:
                    first = _s32(u[pc + 2] | (u[pc + 3] << 16))
                    case_keys[pc] = tuple(first + k for k in range(len(tg)))
                pc += 4 + 2 * size
                continue
            if hi == 2 and pc + 1 < n:  # sparse-switch-payload
                size = u[pc + 1]
                base = pc + 2 + 2 * size
                tg = [u[base + 2 * k] | (u[base + 1 + 2 * k] << 16) for k in range(size) if base + 1 + 2 * k < n]
                payloads[pc] = tuple(_s32(t) for t in tg)
                case_keys[pc] = tuple(_s32(u[pc + 2 + 2 * k] | (u[pc + 3 + 2 * k] << 16)) for k in range(len(tg)))
                pc += 2 + 4 * size
                continue
            if hi == 3 and pc + 3 < n:  # fill-array-data-payload
                width = u[pc + 1]
                size = u[pc + 2] | (u[pc + 3] << 16)
                pc += 4 + (size * width + 1) // 2
                continue
        fmt = _FMT[op]
        size = _UNIT_SIZE[op]
        if pc + size > n:
            break
        ins = Insn(pc, op)
        if fmt == "12x":
            ins.a = hi & 0xF
            ins.b = hi >> 4
        elif fmt == "11x":
            ins.a = hi
        elif fmt == "11n":
            ins.a = hi & 0xF
            lit = hi >> 4
            ins.lit = lit - 16 if lit & 0x8 else lit
        elif fmt == "10t":
            t = hi - 256 if hi & 0x80 else hi
            ins.targets = (pc + t,)
        elif fmt == "20t":
            ins.targets = (pc + _s16(u[pc + 1]),)
        elif fmt == "30t":
            ins.targets = (pc + _s32(u[pc + 1] | (u[pc + 2] << 16)),)
        elif fmt == "22x":
            ins.a = hi
            ins.b = u[pc + 1]
        elif fmt == "32x":
            ins.a = u[pc + 1]
            ins.b = u[pc + 2]
        elif fmt == "21t":
            ins.a = hi
            ins.targets = (pc + _s16(u[pc + 1]),)
        elif fmt == "21s":
            ins.a = hi
            ins.lit = _s16(u[pc + 1])
        elif fmt == "21h":
            ins.a = hi
            ins.lit = _s16(u[pc + 1]) << (48 if op == 0x19 else 16)
        elif fmt == "21c":
            ins.a = hi
            ins.idx = u[pc + 1]
        elif fmt == "31c":
            ins.a = hi
            ins.idx = u[pc + 1] | (u[pc + 2] << 16)
        elif fmt == "23x":
            ins.a = hi
            ins.b = u[pc + 1] & 0xFF
            ins.c = u[pc + 1] >> 8
        elif fmt == "22b":
            ins.a = hi
            ins.b = u[pc + 1] & 0xFF
            c = u[pc + 1] >> 8
            ins.lit = c - 256 if c & 0x80 else c
        elif fmt in ("22t", "22s", "22c"):
            ins.a = hi & 0xF
            ins.b = hi >> 4
            if fmt == "22t":
                ins.targets = (pc + _s16(u[pc + 1]),)
            elif fmt == "22s":
                ins.lit = _s16(u[pc + 1])
            else:
                ins.idx = u[pc + 1]
        elif fmt == "31i":
            ins.a = hi
            ins.lit = _s32(u[pc + 1] | (u[pc + 2] << 16))
        elif fmt == "31t":
            ins.a = hi
            rel = _s32(u[pc + 1] | (u[pc + 2] << 16))
            if op in (0x2B, 0x2C):
                switches.append((ins, pc + rel, pc))
        elif fmt in ("35c", "45cc"):
            count = hi >> 4
            g = hi & 0xF
            w3 = u[pc + 2]
            ins.idx = u[pc + 1]
            ins.regs = (w3 & 0xF, (w3 >> 4) & 0xF, (w3 >> 8) & 0xF, w3 >> 12, g)[:count]
        elif fmt in ("3rc", "4rcc"):
            ins.idx = u[pc + 1]
            first = u[pc + 2]
            ins.regs = tuple(range(first, first + hi))
        elif fmt == "51l":
            ins.a = hi
            v = u[pc + 1] | (u[pc + 2] << 16) | (u[pc + 3] << 32) | (u[pc + 4] << 48)
            ins.lit = v - (1 << 64) if v & (1 << 63) else v
        out.append(ins)
        pc += size
    for ins, payload_at, at in switches:
        offsets = payloads.get(payload_at, ())
        ins.targets = tuple(at + r for r in offsets)
        keys = case_keys.get(payload_at, ())
        ins.keys = keys if len(keys) == len(offsets) else ()  # a payload that lies about its size: no keys
    return out


# --- id tables only ------------------------------------------------------------------------------------------
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
    """The lazy reader's uleb128, with its errors as DexFormatError (one reason line for the callers)."""
    try:
        return _uleb(data, offset)
    except IndexError as exc:
        raise DexFormatError("truncated uleb128") from exc
    except DexError as exc:
        raise DexFormatError("uleb128 too long") from exc


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
