"""phonehome's lazy DEX decoder must agree with androguard's, instruction by instruction.

The leak engine decodes Dalvik bytecode with its own lazy reader (toolkit/analysis/dex.py) for speed; androguard
is the reference implementation here: every method of every fixture DEX must decode to the same instruction
offsets, opcodes and referenced method/field/type/string indices.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from androguard.core.dex import DEX
from loguru import logger

from toolkit.analysis.dex import DexFile

logger.disable("androguard")

REPO = Path(__file__).resolve().parents[2]
APKS = sorted((REPO / "fixtures" / "apks").glob("*.apk"))
# Pseudo-instructions (packed-switch, sparse-switch, fill-array-data payloads) are data, not code.
PAYLOAD_IDENTS = {0x100, 0x200, 0x300}
# Formats whose last operand is a pool reference (21c, 22c, 31c, 35c, 3rc, 45cc, 4rcc).
REF_OPS = set(range(0x1A, 0x1D)) | {0x1F, 0x20, 0x22, 0x23, 0x24, 0x25} | set(range(0x52, 0x6E)) | set(
    range(0x6E, 0x73)
) | set(range(0x74, 0x79))


def reference_instructions(method: object) -> list[tuple[int, int, int | None]]:
    out: list[tuple[int, int, int | None]] = []
    offset = 0
    for ins in method.get_instructions():  # type: ignore[attr-defined]
        op = ins.get_op_value()
        if op not in PAYLOAD_IDENTS:
            ref = ins.get_ref_kind() if op in REF_OPS else None
            out.append((offset, op, ref))
        offset += ins.get_length() // 2
    return out


@pytest.mark.parametrize("apk", APKS, ids=[p.stem for p in APKS])
def test_every_method_decodes_like_androguard(apk: Path) -> None:
    with zipfile.ZipFile(apk) as archive:
        dex_names = [n for n in archive.namelist() if n.startswith("classes") and n.endswith(".dex")]
        assert dex_names, f"{apk.name} has no DEX"
        for name in dex_names:
            data = archive.read(name)
            ours = DexFile(data, name)
            by_sig = {m.sig: m for m in ours.methods}
            reference = DEX(data)
            checked = 0
            for em in reference.get_encoded_methods():
                sig = f"{em.get_class_name()}->{em.get_name()}{em.get_descriptor().replace(' ', '')}"
                mine = by_sig.get(sig)
                assert mine is not None, f"{apk.name}:{name}: {sig} missing from phonehome's class data"
                code = ours.code(mine)
                if em.get_code() is None:
                    assert code is None, sig
                    continue
                assert code is not None, sig
                decoded = [
                    (i.off, i.op, i.idx if i.op in REF_OPS else None) for i in code.insns
                ]
                expected = reference_instructions(em)
                # androguard reports trailing alignment nops that phonehome may skip: compare real code only.
                expected = [e for e in expected if not (e[1] == 0 and e not in decoded)]
                assert decoded == expected, f"{apk.name}:{name}: {sig} decodes differently"
                checked += 1
            assert checked > 0
