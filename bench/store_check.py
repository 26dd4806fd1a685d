"""Speed of the store check's own parts (the APK analysis itself is the engine's bench).

Times, over --runs runs:
  * endpoint extraction on every fixture APK and on Debian's framework-res.apk (45 MB of resources, if installed);
  * class-list reading (DEX class_defs) for every fixture APK;
  * the signer/reference/tracker/endpoint stage of `store check` on already-analysed reports (the fixture corpus
    as the store, the genuine flashlight as the reference), i.e. what the store check adds to a scan.

    python bench/store_check.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.analysis.androguard_backend import open_apk  # noqa: E402
from toolkit.analysis.endpoints import extract_endpoints  # noqa: E402
from toolkit.pipeline import ScanOptions  # noqa: E402
from toolkit.store import StoreCheckOptions  # noqa: E402
from toolkit.store import check as store_check  # noqa: E402
from toolkit.store.reference import read_class_list  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "apks"
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")


def timed(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    apks = sorted(FIXTURES.glob("*.apk"))
    loaded = [open_apk(p) for p in apks]
    total = sum(p.stat().st_size for p in apks)
    seconds = timed(lambda: [extract_endpoints(a) for a in loaded], args.runs)
    count = sum(len(extract_endpoints(a)) for a in loaded)
    print(f"endpoints: {len(apks)} fixture APKs ({total / 1e6:.2f} MB) in {seconds * 1000:.0f} ms "
          f"({seconds / len(apks) * 1000:.1f} ms/APK), {count} endpoints")
    if FRAMEWORK_RES.is_file():
        framework = open_apk(FRAMEWORK_RES)
        seconds = timed(lambda: extract_endpoints(framework), args.runs)
        print(f"endpoints: framework-res.apk ({FRAMEWORK_RES.stat().st_size / 1e6:.1f} MB, "
              f"{len(framework.file_names())} entries) in {seconds:.2f} s, {len(extract_endpoints(framework))} endpoints")
    seconds = timed(lambda: [read_class_list(p) for p in apks], args.runs)
    print(f"class lists: {len(apks)} APKs in {seconds * 1000:.0f} ms")

    # The store stage alone: analyse once, then time run_store_check with the analysis replaced by the cached
    # reports (same objects, deep-copied so findings do not accumulate).
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "ref"
        reference.mkdir()
        (reference / "flashlight.apk").write_bytes((FIXTURES / "flashlight.apk").read_bytes())
        options = StoreCheckOptions(references=[reference], scan=ScanOptions(workers=2, no_cache=True))
        start = time.perf_counter()
        result = store_check.run_store_check([FIXTURES], options)
        full = time.perf_counter() - start
        print(f"store check (analysis included, 2 workers): {len(result.apks)} APKs in {full:.1f} s")
        cache: dict[str, list] = {}  # type: ignore[type-arg]
        real = store_check.analyse_inputs

        def cached(inputs, opts, progress=None):  # type: ignore[no-untyped-def]
            key = ",".join(i.path for i in inputs)
            if key not in cache:
                cache[key] = real(inputs, opts, progress)
            return [r.model_copy(deep=True) for r in cache[key]]

        store_check.analyse_inputs = cached  # type: ignore[assignment]
        store_check.run_store_check([FIXTURES], options)
        seconds = timed(lambda: store_check.run_store_check([FIXTURES], options), args.runs)
        store_check.analyse_inputs = real  # type: ignore[assignment]
        assert result.store is not None
        print(f"store stage only: {len(result.apks)} APKs in {seconds * 1000:.0f} ms "
              f"({len(result.store.trackers)} SDK hits, {len(result.store.reference_diffs)} reference diffs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
