#!/usr/bin/env python3
"""phonehome's APK analysis over real-world apps: seconds, peak RSS, methods, status, limits hit and flows per APK.

Inputs: every APK in ../shared/realworld/apks (39 public real-world apps, see that folder's README; never copied
into the repository) and the three registry APKs bench/engine.py fetches into bench/cache/engine/. Each APK runs in
a fresh Python process with one worker; peak RSS comes from GNU time -v. Two times per APK: `wall` (the whole
process: interpreter start and imports included, about 1 s that a scan of many APKs pays once) and `analysis`
(analyse_apk alone, what each further APK of a scan costs). A process still
running after --kill seconds is killed and shown as `killed`.

Usage: python bench/realworld.py [--folder DIR] [--code-root DIR] [--kill S] [--budget S] [--json OUT]
  --code-root runs another checkout's toolkit (e.g. a worktree of an older commit) for before/after figures.
Targets (one worker, idle 2-core machine): every APK `analysed` with no limit hit; median <= 1 s, p95 <= 5 s,
max <= 20 s, peak RSS <= 600 MB; the 18 MB appium server APK (76k methods) in <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "realworld" / "apks"
REGISTRY = ROOT / "bench" / "cache" / "engine"

ONE = """
import sys, json, time
t = time.monotonic()
from toolkit.analysis import analyse_apk, AnalysisOptions
opts = AnalysisOptions(time_budget_seconds=float(sys.argv[2]))
a = time.monotonic()
r = analyse_apk(sys.argv[1], opts)
analysis_s = round(time.monotonic() - a, 2)
limits = [f"{x.name}@{x.where}" if getattr(x, "where", None) else x.name for x in getattr(r.stats, "limits", [])]
print(json.dumps({"status": r.status.value, "reason": r.reason, "flows": len(r.flows),
                  "methods": r.stats.methods_total, "analysed": r.stats.methods_analysed, "limits": limits,
                  "inner_s": round(time.monotonic() - t, 2), "analysis_s": analysis_s}))
"""


def run_one(apk: Path, code_root: Path, kill: float, budget: float) -> dict[str, object]:
    """Analyse one APK in a fresh interpreter; wall seconds, peak MB and the analysis summary."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as tf:
        start = time.monotonic()
        # own process group: a kill must reach the interpreter under `time`, not only `time` itself
        child = subprocess.Popen([time_bin, "-v", "-o", tf.name, sys.executable, "-c", ONE, str(apk), str(budget)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=code_root,
                                 start_new_session=True)
        try:
            stdout, stderr = child.communicate(timeout=kill)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return {"status": "killed", "wall": kill, "peak_mb": 0.0, "flows": 0, "limits": [f"killed>{kill:g}s"]}
        proc = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
        wall = time.monotonic() - start
        peak = 0.0
        for line in Path(tf.name).read_text().splitlines():
            if "Maximum resident set size" in line:
                peak = int(line.split(":")[1]) / 1024
    out: dict[str, object] = {"wall": round(wall, 2), "peak_mb": round(peak)}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        out.update(json.loads(lines[-1]))
    else:
        out.update({"status": "crashed", "reason": (proc.stderr.strip().splitlines() or ["?"])[-1], "flows": 0,
                    "limits": []})
    return out


def _spread(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return (f"total {sum(values):.0f} s, median {statistics.median(values):.2f} s, p95 {p95:.2f} s, "
            f"max {values[-1]:.2f} s")


def _totals(rows: list[dict[str, object]]) -> None:
    walls = [float(r["wall"]) for r in rows]  # type: ignore[arg-type]
    # a killed process has no analysis time of its own: it counts as its wall time
    analysis = [float(r.get("analysis_s", r["wall"])) for r in rows]  # type: ignore[arg-type]
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
    print(f"{len(rows)} APKs, wall (process): {_spread(walls)}; peak RSS max "
          f"{max(float(r['peak_mb']) for r in rows):.0f} MB")  # type: ignore[arg-type]
    print(f"{len(rows)} APKs, analysis (analyse_apk): {_spread(analysis)}")
    print("status: " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
    print(f"with a limit hit: {sum(1 for r in rows if r.get('limits'))}; flows in all: "
          f"{sum(int(r.get('flows', 0)) for r in rows)}")  # type: ignore[call-overload]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=SHARED, help="folder of APKs (default ../shared/realworld/apks)")
    parser.add_argument("--code-root", type=Path, default=ROOT, help="checkout whose toolkit/ is measured")
    parser.add_argument("--kill", type=float, default=300.0, help="kill a process after this many seconds")
    parser.add_argument("--budget", type=float, default=120.0, help="AnalysisOptions.time_budget_seconds")
    parser.add_argument("--only", default="", help="substring filter on file names")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--before-root", type=Path, help="also run this checkout on each APK just before (same load)")
    parser.add_argument("--before-kill", type=float, default=60.0, help="kill limit for --before-root runs")
    args = parser.parse_args()

    apks = sorted(args.folder.glob("*.apk")) if args.folder.is_dir() else []
    apks += sorted(REGISTRY.glob("*.apk")) if REGISTRY.is_dir() else []
    apks = [a for a in apks if args.only in a.name]
    if not apks:
        print(f"no APKs in {args.folder} or {REGISTRY} (run bench/engine.py once to fetch the registry APKs)")
        return 2
    print(f"code: {args.code_root}  load: {os.getloadavg()[0]:.2f}  kill {args.kill:g} s  budget {args.budget:g} s")
    print(f"{'apk':44} {'MB':>5} {'wall s':>7} {'anal s':>7} {'RSS MB':>7} {'methods':>8} {'analysed':>8} {'status':12} "
          f"{'flows':>5}  limits / reason")
    rows = []
    before_rows = []
    for apk in apks:
        if args.before_root is not None:
            old = run_one(apk, args.before_root.resolve(), args.before_kill, args.budget)
            old["apk"] = apk.name
            before_rows.append(old)
            print(f"{'  before: ' + apk.name[:34]:44} {'':5} {old['wall']:7.2f} {float(old.get('analysis_s', old['wall'])):7.2f} {old['peak_mb']:7.0f} "
                  f"{old.get('methods', 0):8} {old.get('analysed', 0):8} {old['status']:12} {old.get('flows', 0):5}  "
                  f"{(str(old.get('reason') or '') if old['status'] != 'analysed' else '')[:60]}", flush=True)
        row = run_one(apk, args.code_root.resolve(), args.kill, args.budget)
        row["apk"] = apk.name
        rows.append(row)
        limits = ",".join(str(x) for x in row.get("limits") or []) or ""
        why = limits or (str(row.get("reason") or "") if row.get("status") != "analysed" else "")
        print(f"{apk.name[:44]:44} {apk.stat().st_size / 1e6:5.1f} {row['wall']:7.2f} {float(row.get('analysis_s', row['wall'])):7.2f} {row['peak_mb']:7.0f} "
              f"{row.get('methods', 0):8} {row.get('analysed', 0):8} {row['status']:12} {row.get('flows', 0):5}  "
              f"{why[:90]}", flush=True)
    if before_rows:
        print(f"\nbefore ({args.before_root}, killed after {args.before_kill:g} s):")
        _totals(before_rows)
        print(f"\nafter ({args.code_root}):")
    _totals(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
