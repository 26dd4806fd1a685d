#!/usr/bin/env python3
"""Peak RSS, bytes written and time of `analyse_apk` on hostile APKs built here (issue 12, items 1, 3, 4).

Each case is written with zipfile (streamed deflate, so a 1 GiB entry costs ~1 MB on disk) around the
imei_http_post fixture, then analysed in a fresh Python process; the figures come from that process (rusage
peak RSS, /proc/self/io write_bytes) and the wall clock. Status, reason and flow count are printed, so a bomb that
blocks the code analysis shows up as a missing flow.

Usage: python bench/hostile_apk.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEAKY = REPO / "fixtures" / "apks" / "imei_http_post.apk"
sys.path.insert(0, str(REPO))
from tests.analysis.axml_writer import launcher_manifest, write_axml  # noqa: E402

CHILD = r"""
import json, resource, sys, time
started = time.monotonic()
from toolkit.analysis import analyse_apk
report = analyse_apk(sys.argv[1])
io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
print(json.dumps({"seconds": time.monotonic() - started, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "written": int(io["write_bytes"]), "status": report.status.value, "reason": report.reason or "",
                  "flows": len(report.flows), "findings": sorted({f.rule_id for f in report.findings})}))
"""


def _entries() -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(LEAKY) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def _write(path: Path, entries: list[tuple[str, bytes]], zeros: tuple[str, int] | None = None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                zf.writestr(name, data)
            if zeros:
                name, size = zeros
                block = bytes(1 << 20)
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as out:
                    for _ in range(size >> 20):
                        out.write(block)
    return path


def cases(tmp: Path) -> dict[str, Path]:
    entries = _entries()
    rest = [(n, d) for n, d in entries if n != "classes.dex"]
    dex = dict(entries)["classes.dex"]
    manifest = launcher_manifest("com.phonehome.fx.imei_http_post", ".MainActivity",
                                 ["android.permission.READ_PHONE_STATE", "android.permission.INTERNET"])
    return {
        "baseline (fixture as is)": _write(tmp / "base.apk", entries),
        "asset 2 MiB of zeros (1023:1)": _write(tmp / "a2.apk", entries, ("assets/zeros.bin", 2 << 20)),
        "asset 1 GiB of zeros": _write(tmp / "a1g.apk", entries, ("assets/zeros.bin", 1 << 30)),
        "classes2.dex 1 GiB of zeros": _write(tmp / "d1g.apk", entries, ("classes2.dex", 1 << 30)),
        "manifest 100,000 deep": _write(tmp / "deep.apk", [(n, write_axml(manifest, deep_chain=100_000))
                                                           if n == "AndroidManifest.xml" else (n, d)
                                                           for n, d in entries]),
        "manifest strings unterminated": _write(tmp / "unterm.apk", [(n, write_axml(manifest, terminate=False))
                                                                     if n == "AndroidManifest.xml" else (n, d)
                                                                     for n, d in entries]),
        "duplicate classes.dex (x2)": _write(tmp / "dup.apk", rest + [("classes.dex", dex), ("classes.dex", dex[:-1] + b"\1")]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="write the hostile APKs here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="phonehome-hostile-") as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        print(f"{'case':34} {'APK size':>10} {'seconds':>8} {'peak RSS':>9} {'written':>8}  status    flows  reason")
        for name, path in cases(tmp).items():
            started = time.monotonic()
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=env,
                                 timeout=600)
            wall = time.monotonic() - started
            if out.returncode != 0:
                print(f"{name:34} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{name:34} {path.stat().st_size / 1024:>8.0f}KB {wall:>8.2f} {r['rss_mb']:>7.0f}MB "
                  f"{r['written'] / 1024:>6.0f}KB  {r['status']:9} {r['flows']:>5}  {r['reason'][:110]}")


if __name__ == "__main__":
    main()
