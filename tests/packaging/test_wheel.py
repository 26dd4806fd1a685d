"""The release as a user installs it: sdist -> wheel -> a fresh venv, run from outside the checkout.

No network: the wheel is built with the current environment's setuptools (--no-build-isolation) and installed with
--no-deps into a venv that sees this environment's site-packages (where the dependencies already are).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What phonehome needs at run time besides its code (one sample of each kind of file).
RUNTIME_DATA = [
    "toolkit/apk_rules/sources.yml",
    "toolkit/apk_rules/sinks.yml",
    "toolkit/apk_rules/models.yml",
    "toolkit/apk_rules/rules/system-app-sends-identifiers.yml",
    "toolkit/apk_rules/signers/pins.yml",
    "toolkit/apk_rules/signers/checks.yml",
    "toolkit/apk_rules/trackers/trackers.yml",
    "toolkit/simulator/profiles/demo/profile.yml",
    "toolkit/simulator/profiles/demo/cloudmsg_v2.apk",
    "toolkit/simulator/profiles/demo/flashlight_tampered.apk",
]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _source_copy(dest: Path) -> Path:
    """What a clean checkout has (links kept as links), without caches or build output of this tree."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info")
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("toolkit", "apk_rules"):
        shutil.copytree(REPO / name, dest / name, symlinks=True, ignore=ignore)
    (dest / "fixtures").mkdir()
    shutil.copytree(REPO / "fixtures" / "apks", dest / "fixtures" / "apks")
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(venv, sdist): phonehome built as sdist, then a wheel from that sdist, installed into a fresh venv."""
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    base = tmp_path_factory.mktemp("release")
    source = _source_copy(base / "src")
    dist = base / "dist"
    build = _run([sys.executable, "-c", f"from setuptools import build_meta as b; print(b.build_sdist({str(dist)!r}))"],
                 cwd=source)
    assert build.returncode == 0, build.stderr[-3000:]
    sdist = dist / build.stdout.strip().splitlines()[-1]
    # The wheel is built from the unpacked sdist, as `python -m build` and pip do: so the sdist must be complete.
    with tarfile.open(sdist) as tar:
        tar.extractall(base / "unpacked", filter="data")
    (unpacked,) = (base / "unpacked").iterdir()
    build = _run([sys.executable, "-c", f"from setuptools import build_meta as b; print(b.build_wheel({str(dist)!r}))"],
                 cwd=unpacked)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = dist / build.stdout.strip().splitlines()[-1]
    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], cwd=base)
    assert made.returncode == 0, made.stderr
    install = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "--no-build-isolation", "-q", str(wheel)], cwd=base)
    assert install.returncode == 0, install.stderr[-3000:]
    return venv, sdist


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PHONEHOME_"))}
    env["COLUMNS"] = "200"
    return env


def test_sdist_and_wheel_hold_the_runtime_data(installed: tuple[Path, Path]) -> None:
    venv, sdist = installed
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = [n for n in RUNTIME_DATA if n not in names]
    assert not missing, f"not in the sdist: {missing}"
    wheel = next((sdist.parent).glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        wheel_names = set(zf.namelist())
        demo_apk = zf.read("toolkit/simulator/profiles/demo/cloudmsg_v2.apk")
    assert not [n for n in RUNTIME_DATA if n not in wheel_names]
    # The real APK, not a link: the bytes of the committed fixture.
    assert demo_apk == (REPO / "fixtures" / "apks" / "cloudmsg_v2.apk").read_bytes()


def test_installed_phonehome_runs_outside_the_checkout(installed: tuple[Path, Path], tmp_path: Path) -> None:
    venv, _ = installed
    phonehome = str(venv / "bin" / "phonehome")
    where = _run([str(venv / "bin" / "python"), "-c", "import toolkit; print(toolkit.__file__)"], cwd=tmp_path,
                 env=_env())
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr  # not the checkout's copy

    scan = _run([phonehome, "apk", "scan", str(REPO / "fixtures" / "apks" / "cloudmsg.apk"), "--format", "json",
                 "--no-cache"], cwd=tmp_path, env=_env())
    assert scan.returncode == 1, scan.stderr  # findings: the rules were found and used
    result = json.loads(scan.stdout)
    assert result["apks"][0]["status"] == "analysed"
    assert {f["rule_id"] for f in result["apks"][0]["findings"]} >= {"device-id-network"}

    demo = _run([phonehome, "demo", "--out", str(tmp_path / "demo")], cwd=tmp_path, env=_env())
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "tampered" in demo.stdout
    assert (tmp_path / "demo" / "phonehome-report.html").is_file()


def test_missing_rules_are_an_error_not_a_clean_result(installed: tuple[Path, Path], tmp_path: Path) -> None:
    venv, _ = installed
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import toolkit, os; print(os.path.dirname(toolkit.__file__))"],
                     cwd=tmp_path, env=_env()).stdout.strip())
    rules = site / "apk_rules" / "sources.yml"
    hidden = rules.with_name("sources.yml.hidden")
    rules.rename(hidden)
    try:
        scan = _run([str(venv / "bin" / "phonehome"), "apk", "scan", str(REPO / "fixtures" / "apks" / "cloudmsg.apk"),
                     "--no-cache"], cwd=tmp_path, env=_env())
    finally:
        hidden.rename(rules)
    assert scan.returncode == 2
    assert "sources.yml" in scan.stderr and "No findings" not in scan.stdout + scan.stderr
    assert len(scan.stderr.strip().splitlines()) == 1, scan.stderr
