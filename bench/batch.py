"""Store-scale batch figures: throughput with 1 and 2 local workers and a 2-worker Dask LocalCluster, cache-hit
rescan time, peak memory per worker.

Corpora (built once into bench/cache/batch/, reused afterwards), distinct and validly signed, so the cache cannot
shortcut them: each APK is a variant of a source APK made unique by an extra asset
(assets/phonehome-bench/variant.txt), zip-aligned and re-signed (v1 + v2) via apksigner with the fixture key named
in the app's truth.yml (the dev key for real-world APKs).
  apks/  --count (300) variants of the fixture APKs (fixtures/apks/*.apk): the full matrix below;
  real/  --real-variants (2) variants of each real-world APK fetched by bench/engine.py (appium-uiautomator2-server,
         io.appium.settings, uiautomator2's app, looked up under --real-world, default bench/cache/), when present:
         2 local workers and the rescan only, as each takes tens of seconds of CPU.

    python bench/batch.py [--count 300] [--real-variants 2] [--real-world DIR] [--skip-cluster]

Every throughput run analyses the whole corpus from scratch (no cache). The rescan first fills a fresh cache, then
times (a) `run_batch` in this process and (b) the whole `phonehome apk scan` command in a new process (interpreter
start and imports included). Peak RSS per worker is the worker processes' own ru_maxrss. Results are printed and
written to bench/cache/batch/results.json.
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


def _run_on_a_code_snapshot() -> Path:
    """The bench measures a copy of toolkit/ and apk_rules/ taken when it starts: the result cache is keyed by the
    analysis code, so an edit of the working tree during the run would otherwise make the CLI rescan miss."""
    if "PHONEHOME_BENCH_CODE" in os.environ:
        return Path(os.environ["PHONEHOME_BENCH_CODE"])
    snapshot = Path(tempfile.mkdtemp(prefix="phonehome-bench-code-"))
    try:
        for name in ("toolkit", "apk_rules"):
            shutil.copytree(REPO / name, snapshot / name, ignore=shutil.ignore_patterns("__pycache__"))
        env = dict(os.environ, PHONEHOME_BENCH_CODE=str(snapshot))
        sys.exit(subprocess.call([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], env=env))
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


CODE = _run_on_a_code_snapshot()
sys.path.insert(0, str(CODE))

from toolkit.acquisition.files import collect_apk_inputs  # noqa: E402
from toolkit.batch.task import format_bytes, local_engine_identity  # noqa: E402
from toolkit.pipeline import BatchResult, ScanOptions, run_batch  # noqa: E402

FIXTURES = REPO / "fixtures"
CACHE = REPO / "bench" / "cache"
WORK = CACHE / "batch"
CORPUS = WORK / "apks"
REAL = WORK / "real"
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


def real_world_apks(root: Path) -> list[Path]:
    """The real-world APKs bench/engine.py fetches, looked up under `root` (outside this bench's own folder)."""
    found = []
    for name in REAL_WORLD:
        hits = sorted(p for p in root.rglob(name) if WORK not in p.parents)
        if hits:
            found.append(hits[0])
    return found


def build_variants(plan: list[tuple[Path, int, str, Path]], folder: Path) -> list[Path]:
    """Make the planned variants that do not exist yet; drop stale files; returns the folder's planned files."""
    folder.mkdir(parents=True, exist_ok=True)
    todo = [p for p in plan if not p[3].is_file()]
    if todo:
        print(f"building {len(todo)} signed variants into {folder} (apksigner, once) ...", flush=True)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda p: make_variant(*p), todo))
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    wanted = {p[3] for p in plan}
    for stale in folder.glob("*.apk"):
        if stale not in wanted:
            stale.unlink()
    return sorted(wanted)


def build_corpus(count: int) -> list[Path]:
    """`count` variants of the fixture APKs (round robin), in bench/cache/batch/apks/. An existing corpus of the
    right size is reused as it is, even if fixtures were added since (the APKs stay distinct and valid)."""
    fixtures = sorted((FIXTURES / "apks").glob("*.apk"))
    existing = sorted(CORPUS.glob("fx-*.apk"))
    if len(existing) == count and len({f.name[:7] for f in existing}) == count:
        print(f"corpus: {count} fixture variants reused from {CORPUS}, "
              f"{sum(f.stat().st_size for f in existing) / 1e6:.1f} MB")
        return existing
    plan = [
        (fixtures[n % len(fixtures)], n, signer_of(fixtures[n % len(fixtures)]),
         CORPUS / f"fx-{n:03d}-{fixtures[n % len(fixtures)].stem}.apk")
        for n in range(count)
    ]
    files = build_variants(plan, CORPUS)
    print(f"corpus: {len(files)} fixture variants of {len(fixtures)} fixture APKs, "
          f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB")
    return files


def build_real(root: Path, variants: int) -> list[Path]:
    """`variants` variants of each real-world APK found under `root`, in bench/cache/batch/real/."""
    sources = real_world_apks(root)
    plan = [(src, n, "dev", REAL / f"rw-{src.stem}-{n:03d}.apk") for src in sources for n in range(variants)]
    files = build_variants(plan, REAL) if plan else []
    if files:
        print(f"real-world corpus: {len(files)} variants of {', '.join(s.name for s in sources)}, "
              f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB")
    else:
        print(f"real-world corpus: none (no {', '.join(REAL_WORLD)} under {root}; run bench/engine.py first)")
    return files


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
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = run_batch(inputs, options)
    row = describe(label, result, time.perf_counter() - started)
    row["load_average_before"] = round(load, 1)
    return row


def rescan_rows(label: str, folder: Path, inputs: list[Any]) -> list[dict[str, Any]]:
    """Fill a fresh cache, then time the cache-hit rescan in this process and through the whole CLI."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="phonehome-bench-cache-") as tmp:
        cache = Path(tmp) / "results.sqlite3"
        rows.append(timed_batch(f"{label}: fill cache, 2 workers", inputs, ScanOptions(workers=2, cache_path=cache)))
        rows.append(timed_batch(f"{label}: cache-hit rescan", inputs, ScanOptions(workers=2, cache_path=cache)))
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "toolkit", "apk", "scan", str(folder), "--cache", str(cache), "--format", "json",
             "--output", str(Path(tmp) / "report.json"), "--workers", "2"],
            capture_output=True, text=True, cwd=CODE, env=dict(os.environ, PYTHONPATH=str(CODE)),
        )
        seconds = time.perf_counter() - started
        assert proc.returncode in (0, 1), proc.stderr
        summary = next((line for line in proc.stderr.splitlines() if line.startswith("batch:")), "")
        print(f"{label + ': rescan, whole CLI':<34} {len(inputs):>4} APKs {seconds:7.2f} s   (new process: start-up, "
              f"imports, hashing, lookup, JSON report) {summary}", flush=True)
        if f"0 analysed now, {len(inputs)} from cache" not in summary:
            print("  NOTE: the CLI did not find these results in the cache: phonehome's analysis code changed on disk "
                  "since this bench started (its cache key covers the code); this rescan figure is not valid")
        rows.append({"run": f"{label}: rescan, whole CLI", "apks": len(inputs), "seconds": round(seconds, 2),
                     "summary": summary})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300, help="fixture variants (>= 300 for the issue's figures)")
    parser.add_argument("--real-variants", type=int, default=2, help="variants of each real-world APK (0: none)")
    parser.add_argument("--real-world", type=Path, default=CACHE, help="where bench/engine.py put the real APKs")
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--build-only", action="store_true", help="only build the corpora")
    args = parser.parse_args()
    for tool in ("zipalign", "apksigner"):
        if shutil.which(tool) is None:
            print(f"{tool} not on PATH (apt-get install zipalign apksigner)", file=sys.stderr)
            return 2
    files = build_corpus(args.count)
    real = build_real(args.real_world, args.real_variants) if args.real_variants > 0 else []
    if args.build_only:
        return 0
    inputs, errors = collect_apk_inputs([CORPUS])
    assert not errors and len(inputs) == len(files)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}; "
          f"code snapshot {CODE}")
    run_batch(inputs[:2], ScanOptions(workers=2, no_cache=True))  # start the forkserver (once per process)
    rows = [
        timed_batch("local pool, 1 worker", inputs, ScanOptions(workers=1, no_cache=True)),
        timed_batch("local pool, 2 workers", inputs, ScanOptions(workers=2, no_cache=True)),
    ]
    if not args.skip_cluster:
        from distributed import Client, LocalCluster

        started = time.perf_counter()
        with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
            with Client(cluster.scheduler_address, set_as_default=False) as client:
                client.run(local_engine_identity)  # workers import phonehome now, as long-running workers have
            print(f"(LocalCluster started and warmed up in {time.perf_counter() - started:.1f} s, not counted)")
            options = ScanOptions(scheduler=cluster.scheduler_address, no_cache=True)
            rows.append(timed_batch("Dask LocalCluster, 2 workers", inputs, options))
            shared = options.model_copy(update={"ship_max_bytes": 0})
            rows.append(timed_batch("Dask LocalCluster, 2 w, shared path", inputs, shared))
    rows += rescan_rows("fixtures", CORPUS, inputs)
    if real:
        real_inputs, errors = collect_apk_inputs([REAL])
        assert not errors
        rows += rescan_rows("real-world", REAL, real_inputs)
    (WORK / "results.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {WORK / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
