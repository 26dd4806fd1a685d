"""Support for the engine's unit tests: small DEX snippets assembled from smali in the test (the Debian `smali`
assembler), read with phonehome's DEX reader, and a solver over them with the real rule catalogue."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from toolkit.analysis.catalogue import load_catalogue
from toolkit.analysis.dataflow.limits import Limits
from toolkit.analysis.dataflow.program import Program
from toolkit.analysis.dataflow.solver import Solver
from toolkit.analysis.dex import DexFile, MethodDef

_CACHE: dict[str, DexFile] = {}


def assemble(source: str) -> DexFile:
    """smali source (classes separated by lines '# ---') -> DexFile, assembled once per content."""
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    if key not in _CACHE:
        if shutil.which("smali") is None:
            pytest.fail("the smali assembler is missing: run scripts/setup.sh --test (installs libsmali-java)")
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for i, part in enumerate(source.split("# ---")):
                (work / f"c{i}.smali").write_text(part.strip() + "\n")
            out = work / "classes.dex"
            subprocess.run(["smali", "assemble", "--api", "19", "-o", str(out), *sorted(str(p) for p in work.glob("c*.smali"))],
                           check=True, capture_output=True, text=True)
            _CACHE[key] = DexFile(out.read_bytes(), "classes.dex")
    return _CACHE[key]


def make_solver(dex: DexFile, deadline: float = 1e18) -> Solver:
    """A solver over one DEX with the real rule catalogue and no components."""
    return Solver(Program([dex], load_catalogue()), set(), Limits(deadline))


def method(dex: DexFile, sig: str) -> MethodDef:
    """The method of `dex` with this Dalvik signature."""
    cls, rest = sig.split("->", 1)
    for m in dex.classes[cls].methods.values():
        if m.name + m.proto == rest:
            return m
    raise KeyError(sig)


def smali_class(name: str, body: str, super_: str = "Ljava/lang/Object;") -> str:
    """One smali class."""
    return f".class public {name}\n.super {super_}\n{body}\n"

