"""The DEX reader agrees with dexdump (Debian's Android tool) on real fixture APKs."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from toolkit.analysis.dex import INVOKE_OPS, DexError, DexFile

ROOT = Path(__file__).resolve().parents[2]
APKS = sorted((ROOT / "fixtures" / "apks").glob("*.apk"))
SAMPLE = [p for p in APKS if p.stem in {"cloudmsg_v2", "prop_collections", "okhttp_shaped", "android_id_okhttp",
                                           "bench_java_1", "smali_overload", "multidex_split"}] or APKS[:3]
_HEADER = re.compile(r"\|\[[0-9a-f]+\] (?P<cls>[^ ]+)\.(?P<name>[^.:]+):(?P<proto>\(.*)$")
_INSN = re.compile(r"\|(?P<off>[0-9a-f]{4}): (?P<mnem>[a-z0-9/-]+)(?P<rest>.*)$")
_METHOD_REF = re.compile(r"(L[^;]+;)\.([^:]+):(\(\S*)")


def _dexdump(path: Path) -> dict[str, list[tuple[int, str, str]]]:
    out = subprocess.run(["dexdump", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    methods: dict[str, list[tuple[int, str, str]]] = {}
    current: list[tuple[int, str, str]] | None = None
    for line in out.splitlines():
        head = _HEADER.search(line)
        if head:
            key = "L" + head["cls"].replace(".", "/") + ";->" + head["name"] + head["proto"]
            current = methods.setdefault(key, [])
            continue
        ins = _INSN.search(line)
        if ins and current is not None and not ins["mnem"].endswith("-data") and "payload" not in ins["mnem"]:
            current.append((int(ins["off"], 16), ins["mnem"], ins["rest"]))
    return methods


@pytest.mark.skipif(shutil.which("dexdump") is None, reason="dexdump not installed (apt-get install dexdump)")
@pytest.mark.parametrize("apk", SAMPLE, ids=[p.stem for p in SAMPLE])
def test_decoder_matches_dexdump(apk: Path) -> None:
    expected = _dexdump(apk)
    with zipfile.ZipFile(apk) as zf:
        dexes = [DexFile(zf.read(n), n) for n in sorted(zf.namelist()) if re.fullmatch(r"classes\d*\.dex", n)]
    seen = 0
    for dex in dexes:
        for m in dex.methods:
            code = dex.code(m)
            if code is None or m.sig not in expected:
                continue
            want = expected[m.sig]
            got = [(i.off, i) for i in code.insns]
            assert [o for o, _ in got] == [o for o, _, _ in want], f"{m.sig}: instruction offsets differ"
            for (off, ins), (_o, mnem, rest) in zip(got, want, strict=True):
                if ins.op in INVOKE_OPS:
                    ref = _METHOD_REF.search(rest)
                    assert ref, rest
                    cls, name, proto = dex.method_ref(ins.idx)
                    assert (cls, name, proto) == (ref[1], ref[2], ref[3]), f"{m.sig}@{off:04x}"
                if mnem == "const-string":
                    assert f'"{dex.string(ins.idx)}"' in rest or "\\" in rest
            seen += 1
    assert seen >= 3


def test_bad_magic_and_truncation() -> None:
    with pytest.raises(DexError, match="bad magic"):
        DexFile(b"not a dex" * 20)
    data = zipfile.ZipFile(APKS[0]).read("classes.dex")
    with pytest.raises(DexError):
        DexFile(data[:200])


def test_reference_index_finds_callers() -> None:
    apk = ROOT / "fixtures" / "apks" / "imei_http_post.apk"
    dex = DexFile(zipfile.ZipFile(apk).read("classes.dex"))
    idxs = dex.find_methods("Landroid/telephony/TelephonyManager;", "getDeviceId")
    assert idxs
    callers = {m.sig for m in dex.methods_referencing(INVOKE_OPS, idxs)}
    assert callers == {"Lcom/phonehome/fx/imei_http_post/MainActivity;->onCreate(Landroid/os/Bundle;)V"}
    assert dex.find_string("getDeviceId") is not None
    assert dex.find_string("no-such-string-in-this-dex") is None
