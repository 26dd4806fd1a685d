"""Quickened DEX code (Dalvik dexopt, ART dex-to-dex): find it, undo what can be undone exactly, neutralise the rest.

Quickening replaces symbolic references by runtime facts: a field reference by the field's byte offset in the
object (`iget-quick`), a method reference by a vtable index (`invoke-virtual-quick`), an inline table index
(`execute-inline`). Going back needs either the quickening info the compiler kept (vdex 006-019, which maps each
quickened instruction to its original index: exact) or the boot class path's class layouts (baksmali's deodexer).

What this module does, per instruction, in a copy of the DEX:
- `return-void-barrier` / `return-void-no-barrier` -> `return-void` (exact);
- with a quickening table (dex pc -> field or method index): the original `iget`/`iput`/`invoke-virtual` (exact);
- otherwise the instruction is *neutralised*: same size, no reference (a `const` for a get, `nop`s for a put or a
  call), so a DEX reader stays aligned and never sees a wrong reference. The method is then "approximated": flows
  through that field or call are lost (never invented), and the count is recorded so the result is partial.
The DEX checksum and signature are recomputed only for an approximated copy; the verbatim copy's SHA-256 is
recorded too.

Opcode tables: Dalvik (libdex/DexOpcodes.h, Android 2.2-4.4), ART 5.x (art/runtime/dex_instruction_list.h of
lollipop), ART 6-8 (marshmallow..oreo: quick ops at 0xe3-0xf2, return-void-no-barrier 0x73).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# Units per opcode for the standard set (ART/Dalvik formats); quick ops are filled per table.
_SIZES = [1] * 256
for _op, _n in {0x02: 2, 0x03: 3, 0x05: 2, 0x06: 3, 0x08: 2, 0x09: 3, 0x13: 2, 0x14: 3, 0x15: 2, 0x16: 2, 0x17: 3,
                0x18: 5, 0x19: 2, 0x1A: 2, 0x1B: 3, 0x1C: 2, 0x1F: 2, 0x20: 2, 0x22: 2, 0x23: 2, 0x24: 3, 0x25: 3,
                0x26: 3, 0x29: 2, 0x2A: 3, 0x2B: 3, 0x2C: 3, 0xFA: 4, 0xFB: 4, 0xFC: 3, 0xFD: 3, 0xFE: 2,
                0xFF: 2}.items():
    _SIZES[_op] = _n
for _rng, _n in ((range(0x2D, 0x32), 2), (range(0x32, 0x3E), 2), (range(0x44, 0x6E), 2), (range(0x6E, 0x73), 3),
                 (range(0x74, 0x79), 3), (range(0x90, 0xB0), 2), (range(0xD0, 0xE3), 2)):
    for _op in _rng:
        _SIZES[_op] = _n

# kind: "get"/"put" field by offset (wide?, object?), "invoke"/"invoke_range" by vtable index, "return_void",
# "inline"/"inline_range" (execute-inline), "volatile" (a field op with a real field index: kept), "super" ...
@dataclass(frozen=True)
class QuickOp:
    name: str
    size: int
    kind: str
    original: int  # the opcode it stands for (iget, iput-wide, invoke-virtual ...); 0x0e for return-void


def _table(entries: dict[int, QuickOp]) -> dict[int, QuickOp]:
    return entries


_IGET, _IGET_WIDE, _IGET_OBJECT, _IPUT, _IPUT_WIDE, _IPUT_OBJECT = 0x52, 0x53, 0x54, 0x59, 0x5A, 0x5B
_IGET_BOOL, _IGET_BYTE, _IGET_CHAR, _IGET_SHORT = 0x55, 0x56, 0x57, 0x58
_IPUT_BOOL, _IPUT_BYTE, _IPUT_CHAR, _IPUT_SHORT = 0x5C, 0x5D, 0x5E, 0x5F
_INVOKE_VIRTUAL, _INVOKE_VIRTUAL_RANGE, _INVOKE_SUPER, _INVOKE_SUPER_RANGE = 0x6E, 0x74, 0x6F, 0x75
_INVOKE_DIRECT, _INVOKE_DIRECT_RANGE, _INVOKE_STATIC, _INVOKE_STATIC_RANGE = 0x70, 0x76, 0x71, 0x77

DALVIK = _table({
    0xE3: QuickOp("iget-volatile", 2, "keep", _IGET), 0xE4: QuickOp("iput-volatile", 2, "keep", _IPUT),
    0xE5: QuickOp("sget-volatile", 2, "keep", 0x60), 0xE6: QuickOp("sput-volatile", 2, "keep", 0x67),
    0xE7: QuickOp("iget-object-volatile", 2, "keep", _IGET_OBJECT),
    0xE8: QuickOp("iget-wide-volatile", 2, "keep", _IGET_WIDE),
    0xE9: QuickOp("iput-wide-volatile", 2, "keep", _IPUT_WIDE),
    0xEA: QuickOp("sget-wide-volatile", 2, "keep", 0x61), 0xEB: QuickOp("sput-wide-volatile", 2, "keep", 0x68),
    0xED: QuickOp("throw-verification-error", 2, "neutral_nop", 0x00),
    0xEE: QuickOp("execute-inline", 3, "inline", _INVOKE_STATIC),
    0xEF: QuickOp("execute-inline/range", 3, "inline_range", _INVOKE_STATIC_RANGE),
    0xF0: QuickOp("invoke-object-init/range", 3, "keep", _INVOKE_DIRECT_RANGE),
    0xF1: QuickOp("return-void-barrier", 1, "return_void", 0x0E),
    0xF2: QuickOp("iget-quick", 2, "get", _IGET), 0xF3: QuickOp("iget-wide-quick", 2, "get_wide", _IGET_WIDE),
    0xF4: QuickOp("iget-object-quick", 2, "get", _IGET_OBJECT), 0xF5: QuickOp("iput-quick", 2, "put", _IPUT),
    0xF6: QuickOp("iput-wide-quick", 2, "put", _IPUT_WIDE), 0xF7: QuickOp("iput-object-quick", 2, "put", _IPUT_OBJECT),
    0xF8: QuickOp("invoke-virtual-quick", 3, "invoke", _INVOKE_VIRTUAL),
    0xF9: QuickOp("invoke-virtual-quick/range", 3, "invoke", _INVOKE_VIRTUAL_RANGE),
    0xFA: QuickOp("invoke-super-quick", 3, "invoke", _INVOKE_SUPER),
    0xFB: QuickOp("invoke-super-quick/range", 3, "invoke", _INVOKE_SUPER_RANGE),
    0xFC: QuickOp("iput-object-volatile", 2, "keep", _IPUT_OBJECT),
    0xFD: QuickOp("sget-object-volatile", 2, "keep", 0x62), 0xFE: QuickOp("sput-object-volatile", 2, "keep", 0x69),
})
ART_L = _table({  # Android 5.x (OAT 039-045)
    0xF1: QuickOp("return-void-barrier", 1, "return_void", 0x0E),
    0xF2: QuickOp("iget-quick", 2, "get", _IGET), 0xF3: QuickOp("iget-wide-quick", 2, "get_wide", _IGET_WIDE),
    0xF4: QuickOp("iget-object-quick", 2, "get", _IGET_OBJECT), 0xF5: QuickOp("iput-quick", 2, "put", _IPUT),
    0xF6: QuickOp("iput-wide-quick", 2, "put", _IPUT_WIDE), 0xF7: QuickOp("iput-object-quick", 2, "put", _IPUT_OBJECT),
    0xF8: QuickOp("invoke-virtual-quick", 3, "invoke", _INVOKE_VIRTUAL),
    0xF9: QuickOp("invoke-virtual/range-quick", 3, "invoke", _INVOKE_VIRTUAL_RANGE),
})
ART_M = _table({  # Android 6-8 (OAT 064-131, vdex 006-010), and vdex 019 (Android 9)
    0x73: QuickOp("return-void-no-barrier", 1, "return_void", 0x0E),
    0xE3: QuickOp("iget-quick", 2, "get", _IGET), 0xE4: QuickOp("iget-wide-quick", 2, "get_wide", _IGET_WIDE),
    0xE5: QuickOp("iget-object-quick", 2, "get", _IGET_OBJECT), 0xE6: QuickOp("iput-quick", 2, "put", _IPUT),
    0xE7: QuickOp("iput-wide-quick", 2, "put", _IPUT_WIDE), 0xE8: QuickOp("iput-object-quick", 2, "put", _IPUT_OBJECT),
    0xE9: QuickOp("invoke-virtual-quick", 3, "invoke", _INVOKE_VIRTUAL),
    0xEA: QuickOp("invoke-virtual/range-quick", 3, "invoke", _INVOKE_VIRTUAL_RANGE),
    0xEB: QuickOp("iput-boolean-quick", 2, "put", _IPUT_BOOL), 0xEC: QuickOp("iput-byte-quick", 2, "put", _IPUT_BYTE),
    0xED: QuickOp("iput-char-quick", 2, "put", _IPUT_CHAR), 0xEE: QuickOp("iput-short-quick", 2, "put", _IPUT_SHORT),
    0xEF: QuickOp("iget-boolean-quick", 2, "get", _IGET_BOOL), 0xF0: QuickOp("iget-byte-quick", 2, "get", _IGET_BYTE),
    0xF1: QuickOp("iget-char-quick", 2, "get", _IGET_CHAR), 0xF2: QuickOp("iget-short-quick", 2, "get", _IGET_SHORT),
})


def table_for_oat(version: int) -> dict[int, QuickOp]:
    return ART_L if version < 64 else ART_M


@dataclass
class CodeItem:
    method_idx: int
    off: int  # file offset of the code_item
    insns_off: int
    insns_size: int  # in 16-bit units


@dataclass
class Unquickened:
    """The result of rewriting one DEX."""

    data: bytes
    quickened: int = 0  # quickened instructions found
    restored: int = 0  # turned back into the exact original instruction
    neutralised: int = 0  # replaced by a same-size instruction without reference (approximation)
    approximated_methods: int = 0
    damaged_methods: int = 0  # code that could not be walked (left as is)
    names: dict[str, int] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.neutralised == 0 and self.damaged_methods == 0


def uleb(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 28:
            raise ValueError("bad uleb128")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def uleb_bytes(v: int) -> bytes:
    """v (>= 0) as ULEB128: the encoder beside `uleb`, for the writers and the CompactDex converter."""
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def class_code_offsets(dex: bytes | bytearray) -> list[list[int] | None]:
    """Per class def, the code_off (0 without code) of each method in class_data order (direct, then virtual);
    None for a class whose class_data cannot be read. The one walker of class_data for the OAT and vdex readers."""
    out: list[list[int] | None] = []
    count, defs = struct.unpack_from("<II", dex, 0x60)
    for c in range(count):
        (cdo,) = struct.unpack_from("<I", dex, defs + 32 * c + 24)
        methods: list[int] = []
        if cdo:
            try:
                sf, pos = uleb(dex, cdo)
                inf, pos = uleb(dex, pos)
                dm, pos = uleb(dex, pos)
                vm, pos = uleb(dex, pos)
                for _ in range(2 * (sf + inf)):
                    _, pos = uleb(dex, pos)
                for _ in range(dm + vm):
                    _, pos = uleb(dex, pos)
                    _, pos = uleb(dex, pos)
                    code_off, pos = uleb(dex, pos)
                    methods.append(code_off)
            except ValueError:
                out.append(None)
                continue
        out.append(methods)
    return out


def code_items(dex: bytes | bytearray) -> Iterator[CodeItem]:
    """Every method with code, in class_def order (standard DEX only)."""
    class_defs_size, class_defs_off = struct.unpack_from("<II", dex, 0x60)
    seen: set[int] = set()
    for c in range(class_defs_size):
        (class_data_off,) = struct.unpack_from("<I", dex, class_defs_off + 32 * c + 24)
        if not class_data_off:
            continue
        pos = class_data_off
        sf, pos = uleb(dex, pos)
        inf, pos = uleb(dex, pos)
        dm, pos = uleb(dex, pos)
        vm, pos = uleb(dex, pos)
        for _ in range(sf + inf):
            _, pos = uleb(dex, pos)
            _, pos = uleb(dex, pos)
        for count in (dm, vm):
            idx = 0
            for _ in range(count):
                diff, pos = uleb(dex, pos)
                _, pos = uleb(dex, pos)
                code_off, pos = uleb(dex, pos)
                idx += diff
                if code_off and code_off not in seen:
                    seen.add(code_off)
                    (insns_size,) = struct.unpack_from("<I", dex, code_off + 12)
                    if code_off + 16 + 2 * insns_size > len(dex):
                        raise ValueError(f"code item at 0x{code_off:x} runs past the end")
                    yield CodeItem(idx, code_off, code_off + 16, insns_size)


def _walk(u: array, table: dict[int, QuickOp], payloads: bool = False) -> Iterator[tuple[int, int, QuickOp | None]]:
    """(pc, opcode, quick op or None) of each instruction; raises ValueError when the walk does not fit.

    payloads: also yield the switch/array payloads (as opcode 0, which is how ART's instruction iterator sees
    them: vdex 019 quickening tables give them a slot like a nop)."""
    pc, n = 0, len(u)
    while pc < n:
        w = u[pc]
        op = w & 0xFF
        if op == 0 and w >> 8 in (1, 2, 3) and pc + 1 < n:  # payloads
            if payloads:
                yield pc, 0, None
            kind = w >> 8
            if kind == 1:
                pc += 4 + 2 * u[pc + 1]
            elif kind == 2:
                pc += 2 + 4 * u[pc + 1]
            else:
                if pc + 3 >= n:
                    raise ValueError("truncated array payload")
                pc += 4 + ((u[pc + 2] | (u[pc + 3] << 16)) * u[pc + 1] + 1) // 2
            continue
        q = table.get(op)
        size = q.size if q else _SIZES[op]
        if pc + size > n:
            raise ValueError(f"instruction at {pc} runs past the method")
        yield pc, op, q
        pc += size
    if pc != n:
        raise ValueError("payload runs past the method")


# The quickening table of a method: (dex pc, original field or method index) for each quickened field access
# or call, in code order; None when the method has none.
QuickenInfo = Callable[[CodeItem], list[tuple[int, int]] | None]
# vdex 019/021 (Android 9-11): a method's QuickenInfoTable holds only the uint16 indices, in code order, one per
# instruction that needs one (art/runtime/quicken_info.h, dex_to_dex_compiler.cc, dex_to_dex_decompiler.cc of
# pie and android10): each quickened field access or virtual call (its field or method index), and each
# instruction whose opcode byte is 0 (a nop or a payload: 0xFFFF; a check-cast dex2oat proved safe and replaced by
# two nops: its register, then its type index). A later quicken_info.h gives nops no slot. Looked up by method index.
SlotInfo = Callable[[CodeItem], list[int] | None]
NO_INDEX16 = 0xFFFF
CHECK_CAST = 0x1F


def slot_pairs(u: array, walked: list[tuple[int, int, QuickOp | None]], slots: list[int], nop_slots: bool
               ) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]] | None:
    """((pc, index) per quickened instruction, (pc, register, type index) per elided check-cast) from a method's
    slots, or None when the slots do not fit the code exactly (ART itself refuses a table it does not use up)."""
    pairs: list[tuple[int, int]] = []
    casts: list[tuple[int, int, int]] = []
    k, skip = 0, -1
    for pc, op, q in walked:
        if pc == skip:  # the second nop of an elided check-cast: no slot of its own
            continue
        if op == 0 and nop_slots:
            if k >= len(slots):
                return None
            v, k = slots[k], k + 1
            if v == NO_INDEX16:
                continue
            if u[pc] != 0 or k >= len(slots) or pc + 1 >= len(u) or u[pc + 1] != 0 or v > 0xFF:
                return None  # only a plain nop followed by a nop can be an elided check-cast
            casts.append((pc, v, slots[k]))
            k, skip = k + 1, pc + 1
        elif q is not None and q.kind in ("get", "get_wide", "put", "invoke"):
            if k >= len(slots):
                return None
            pairs.append((pc, slots[k]))
            k += 1
    return (pairs, casts) if k == len(slots) else None


def unquicken(dex: bytes, table: dict[int, QuickOp], info: QuickenInfo | None = None, slots: SlotInfo | None = None,
              nop_slots: bool = True) -> Unquickened:
    """A copy of dex with quickened instructions restored (exact) or neutralised (approximation), see above.

    info: (dex pc, index) tables (OAT, vdex 006/010); slots: vdex 019/021 index-only tables, read with a slot per
    nop and payload (nop_slots, as pie and android10's dex2oat write them) or without (a later quicken_info.h);
    a table that neither rule uses up exactly is not used (as ART refuses it)."""
    out = bytearray(dex)
    res = Unquickened(data=dex)
    (fields,) = struct.unpack_from("<I", dex, 0x50)  # field_ids_size
    (methods,) = struct.unpack_from("<I", dex, 0x58)  # method_ids_size
    (types,) = struct.unpack_from("<I", dex, 0x40)  # type_ids_size
    for item in code_items(dex):
        u = array("H", bytes(out[item.insns_off : item.insns_off + 2 * item.insns_size]))
        try:
            walked = list(_walk(u, table, payloads=slots is not None))
        except ValueError:
            res.damaged_methods += 1
            continue
        insns = [(pc, op, q) for pc, op, q in walked if q is not None]
        known = (info(item) or []) if info is not None else []
        casts: list[tuple[int, int, int]] = []
        method_slots = slots(item) if slots is not None else None
        if method_slots is not None:
            # The rule the sources give first; the other only if it uses the table up exactly (a rule that is
            # not the writer's cannot: the nop slots would be missing or left over, unless the code has no nop,
            # payload or elided check-cast, where both rules read the same). A table neither rule uses up is not
            # used: its instructions are neutralised below.
            for rule in (nop_slots, not nop_slots):
                got = slot_pairs(u, walked, method_slots, rule)
                if got is not None:
                    known, casts = got
                    break
        if not insns and not casts:
            continue
        approx = False
        for pc, reg, type_idx in casts:  # a check-cast dex2oat replaced by two nops
            res.quickened += 1
            res.names["check-cast (elided)"] = res.names.get("check-cast (elided)", 0) + 1
            if type_idx < types:
                u[pc], u[pc + 1] = CHECK_CAST | reg << 8, type_idx
                res.restored += 1
            else:  # the nops stay: no wrong type is invented, but the result is not exact
                res.neutralised += 1
                approx = True
        k = 0  # next table entry: used only while its pc is the instruction's (else the table is not this method's)
        for pc, _op, q in insns:
            if q.kind == "keep":
                continue
            res.quickened += 1
            res.names[q.name] = res.names.get(q.name, 0) + 1
            idx = None
            if q.kind != "return_void" and k < len(known) and known[k][0] == pc:
                idx = known[k][1]
                k += 1
                limit = methods if q.kind == "invoke" else fields
                if idx >= limit:  # not an index of this DEX: the table is not trusted for this instruction
                    idx = None
            if q.kind == "return_void":
                u[pc] = (u[pc] & 0xFF00) | 0x0E
                res.restored += 1
            elif idx is not None and q.kind in ("get", "get_wide", "put", "invoke"):
                u[pc] = (u[pc] & 0xFF00) | q.original
                u[pc + 1] = idx & 0xFFFF
                res.restored += 1
            else:
                _neutralise(u, pc, q)
                res.neutralised += 1
                approx = True
        res.approximated_methods += approx
        out[item.insns_off : item.insns_off + 2 * item.insns_size] = u.tobytes()
    if res.neutralised:  # an exact restoration keeps the original header, which dex2oat/dexopt left in place
        fix_checksums(out)
    res.data = bytes(out)
    return res


def _neutralise(u: array, pc: int, q: QuickOp) -> None:
    a = (u[pc] >> 8) & 0xF
    if q.kind == "get":  # vA = 0 (const/16 vA, #0): the value is unknown, not tainted
        u[pc], u[pc + 1] = 0x13 | ((u[pc] >> 8) & 0xF) << 8, 0
    elif q.kind == "get_wide":
        u[pc], u[pc + 1] = 0x16 | a << 8, 0  # const-wide/16 vA, #0
    else:  # a put, a call, an inline call, a verification error: nothing happens
        for i in range(q.size):
            u[pc + i] = 0
        nxt = pc + q.size
        if q.kind.startswith(("invoke", "inline")) and nxt < len(u) and u[nxt] & 0xFF in (0x0A, 0x0B, 0x0C):
            reg = u[nxt] >> 8  # its move-result gets an unknown value (const/4 vA, #0) or nothing
            u[nxt] = 0x12 | reg << 8 if u[nxt] & 0xFF != 0x0B and reg < 16 else 0


def fix_checksums(dex: bytearray) -> None:
    """Recompute a DEX header's SHA-1 signature and Adler-32 checksum after a rewrite."""
    dex[12:32] = hashlib.sha1(bytes(dex[32:])).digest()
    dex[8:12] = struct.pack("<I", zlib.adler32(bytes(dex[12:])))
