"""Store-scale batch figures: throughput with 1 and 2 local workers and a 2-worker Dask LocalCluster, cache-hit
rescan time, peak memory per worker.

Corpus (built once into bench/cache/batch/apks/, reused afterwards): at least --count distinct, validly signed
APKs. Each is a variant of a fixture APK (fixtures/apks/*.apk) or of a real-world APK fetched by bench/engine.py
(bench/cache/**: appium-uiautomator2-server, io.appium.settings, uiautomator2's app, when present), made unique by
an extra asset (assets/phonehome-bench/variant.txt), zip-aligned and re-signed (v1 + v2) with the fixture key
named in the app's truth.yml (the dev key for real-world APKs) via apksigner, so the cache cannot shortcut them.

    python bench/batch.py [--count 300] [--real-variants 10] [--skip-cluster]

Every timed run analyses the whole corpus from scratch (no cache), except the rescan, which first fills a fresh
cache and then times (a) `run_batch` in this process and (b) the whole `phonehome apk scan` command in a new
process (interpreter start and imports included). Results are printed and written to bench/cache/batch/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolkit.acquisition.files import collect_apk_inputs  # noqa: E402
from toolkit.batch.task import format_bytes  # noqa: E402
from toolkit.pipeline import BatchResult, ScanOptions, run_batch  # noqa: E402

FIXTURES = REPO / "fixtures"
CACHE = REPO / "bench" / "cache"
WORK = CACHE / "batch"
CORPUS = WORK / "apks"
KEY_PASSWORDS = {"dev": "phonehome-dev", "other": "phonehome-other"}
REAL_WORLD = ("appium-uiautomator2-server-v10.6.6.apk", "settings_apk-debug.apk", "app-uiautomator.apk")
_SIGNATURE_FILES = (".SF", ".RSA", ".DSA", ".EC")


def signer_of(fixture: Path) -> str:
    truth = FIXTURES / "apps" / fixture.stem / "truth.yml"
    if truth.is_file():
        for line in truth.read_text(encoding="utf-8").splitlines():
            if line.startswith("signer:"):
                name = line.split(":", 1)[1].split("#", 1)[0].strip()
                if name in KEY_PASSWORDS:
                    return name
    return "dev"


def make_variant(source: Path, number: int, signer: str, out: Path) -> Path:
    """Source APK + one extra asset, old signatures dropped, zipaligned, re-signed with the fixture key."""
    with tempfile.TemporaryDirectory(prefix="phonehome-variant-") as tmp:
        unsigned, aligned = Path(tmp) / "unsigned.apk", Path(tmp) / "aligned.apk"
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(unsigned, "w") as dst:
            for info in src.infolist():
                name = info.filename
                if name == "META-INF/MANIFEST.MF" or (
                    name.startswith("META-INF/") and name.upper().endswith(_SIGNATURE_FILES)
                ):
                    continue
                dst.writestr(info, src.read(name), compress_type=info.compress_type)
            extra = zipfile.ZipInfo("assets/phonehome-bench/variant.txt", date_time=(1980, 1, 1, 0, 0, 0))
            dst.writestr(extra, f"phonehome bench variant {number} of {source.name}\n", zipfile.ZIP_DEFLATED)
        subprocess.run(["zipalign", "-f", "-p", "4", str(unsigned), str(aligned)], check=True, capture_output=True)
        password = KEY_PASSWORDS[signer]
        partial = out.with_suffix(".part")
        subprocess.run(
            ["apksigner", "sign", "--ks", str(FIXTURES / "keys" / f"{signer}.p12"), "--ks-type", "PKCS12",
             "--ks-key-alias", signer, "--ks-pass", f"pass:{password}", "--key-pass", f"pass:{password}",
             "--v1-signing-enabled", "true", "--v2-signing-enabled", "true", "--v3-signing-enabled", "false",
             "--v4-signing-enabled", "false", "--out", str(partial), str(aligned)],
            check=True, capture_output=True,
        )
        partial.replace(out)
    return out


def real_world_apks() -> list[Path]:
    found = []
    for name in REAL_WORLD:
        hits = [p for p in CACHE.rglob(name) if WORK not in p.parents]
        if hits:
            found.append(hits[0])
    return found


def build_corpus(count: int, real_variants: int) -> list[Path]:
    """Make (or reuse) the variant corpus; returns its files."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    plan: list[tuple[Path, int, str, Path]] = []
    real = real_world_apks()
    for source in real:
        for number in range(real_variants):
            plan.append((source, number, "dev", CORPUS / f"rw-{source.stem}-{number:03d}.apk"))
    fixtures = sorted((FIXTURES / "apks").glob("*.apk"))
    for number in range(max(0, count - len(plan))):
        source = fixtures[number % len(fixtures)]
        plan.append((source, number, signer_of(source), CORPUS / f"fx-{number:03d}-{source.stem}.apk"))
    todo = [p for p in plan if not p[3].is_file()]
    if todo:
        print(f"building {len(todo)} signed variants into {CORPUS} (apksigner, once) ...", flush=True)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda p: make_variant(*p), todo))
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    wanted = {p[3] for p in plan}
    for stale in CORPUS.glob("*.apk"):
        if stale not in wanted:
            stale.unlink()
    print(f"corpus: {len(plan)} APKs ({len(real)} real-world sources x {real_variants} variants, "
          f"{len(plan) - len(real) * real_variants} fixture variants), "
          f"{sum(p[3].stat().st_size for p in plan) / 1e6:.1f} MB")
    return sorted(wanted)


def describe(label: str, result: BatchResult, seconds: float) -> dict[str, Any]:
    stats = result.stats
    peaks = sorted(stats.worker_peak_rss.values(), reverse=True)
    row = {
        "run": label,
        "apks": stats.inputs,
        "analysed": stats.analysed,
        "from_cache": stats.from_cache,
        "seconds": round(seconds, 2),
        "apk_per_s": round(stats.inputs / seconds, 1) if seconds else None,
        "counts": stats.counts,
        "failures": stats.failures,
        "worker_peak_rss_mib": [round(p / 2**20, 1) for p in peaks],
    }
    peak = format_bytes(peaks[0]) if peaks else "-"
    print(f"{label:<34} {stats.inputs:>4} APKs {seconds:7.2f} s {row['apk_per_s']:>7} APK/s   "
          f"peak worker RSS {peak:>10} over {len(peaks)} worker(s)   {stats.counts} {stats.failures or ''}", flush=True)
    return row


def timed_batch(label: str, inputs: list[Any], options: ScanOptions) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_batch(inputs, options)
    return describe(label, result, time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300, help="corpus size (>= 300 for the issue's figures)")
    parser.add_argument("--real-variants", type=int, default=10, help="variants of each real-world APK")
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--build-only", action="store_true", help="only build the corpus")
    args = parser.parse_args()
    for tool in ("zipalign", "apksigner"):
        if shutil.which(tool) is None:
            print(f"{tool} not on PATH (apt-get install zipalign apksigner)", file=sys.stderr)
            return 2
    files = build_corpus(args.count, args.real_variants)
    if args.build_only:
        return 0
    inputs, errors = collect_apk_inputs([CORPUS])
    assert not errors and len(inputs) == len(files)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    rows = [
        timed_batch("local pool, 1 worker", inputs, ScanOptions(workers=1, no_cache=True)),
        timed_batch("local pool, 2 workers", inputs, ScanOptions(workers=2, no_cache=True)),
    ]
    if not args.skip_cluster:
        from distributed import LocalCluster

        started = time.perf_counter()
        with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
            print(f"(LocalCluster started in {time.perf_counter() - started:.1f} s, not counted)")
            options = ScanOptions(scheduler=cluster.scheduler_address, no_cache=True)
            rows.append(timed_batch("Dask LocalCluster, 2 workers", inputs, options))
            shared = options.model_copy(update={"ship_max_bytes": 0})
            rows.append(timed_batch("Dask LocalCluster, 2 w, shared path", inputs, shared))
    with tempfile.TemporaryDirectory(prefix="phonehome-bench-cache-") as tmp:
        cache = Path(tmp) / "results.sqlite3"
        rows.append(timed_batch("fill cache, 2 workers", inputs, ScanOptions(workers=2, cache_path=cache)))
        rows.append(timed_batch("cache-hit rescan (run_batch)", inputs, ScanOptions(workers=2, cache_path=cache)))
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "toolkit", "apk", "scan", str(CORPUS), "--cache", str(cache), "--format", "json",
             "--output", str(Path(tmp) / "report.json"), "--workers", "2"],
            capture_output=True, text=True, cwd=REPO,
        )
        seconds = time.perf_counter() - started
        assert proc.returncode in (0, 1), proc.stderr
        print(f"{'cache-hit rescan (whole CLI)':<34} {len(inputs):>4} APKs {seconds:7.2f} s   "
              f"(new process: interpreter, imports, hashing, lookup, JSON report)   {proc.stderr.strip().splitlines()[-2:]}")
        rows.append({"run": "cache-hit rescan (whole CLI)", "apks": len(inputs), "seconds": round(seconds, 2)})
    (WORK / "results.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {WORK / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
