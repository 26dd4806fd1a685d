"""A firmware of a real phone's shape: sparse super (system, product, vendor ext4), many APKs, odexed apps.

Builds (once, cached in bench/cache/firmware/) with the real tools (mke2fs -d, img2simg) and our super writer:
  - N APKs from fixtures/apks cycled, each made distinct by one extra asset (so N different SHA-256; the copies are
    re-zipped, which drops the APK signing block: same certificates, not distinct signatures),
  - about one app in ten stripped, with its code in an OAT 088 .odex (quickened, with quickening tables), a
    vdex 010 or a Dalvik .odex,
  - filler files (libraries, media) up to --size-mib of file data,
then measures in one run:
  - phonehome `firmware extract` (time, peak RSS, bytes written and peak bytes from firmware.json),
  - the Debian chain on the same image: simg2img, then `debugfs rdump` of each partition at its offset in super,
  - phonehome `firmware scan` (time, APKs analysed, code recovered).
  - the peak temporary disk of `firmware scan` (its TMPDIR sampled on disk) against the APKs and optimized
    files it needs.
Goals from issue 15: extraction <= 1.5x the Debian chain; the scan bounded by APK analysis, not unpacking; scan
temporary disk <= the APKs and optimized files actually needed.

    python bench/firmware_real_size.py [--size-mib 1200] [--apks 300] [--no-scan] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / "cache" / "firmware"
APKS = ROOT / "fixtures" / "apks"
SPLIT = (("system", 0.6), ("product", 0.25), ("vendor", 0.15))


def _distinct_apk(src: Path, dst: Path, i: int) -> None:
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
        for info in a.infolist():
            b.writestr(info, a.read(info))
        b.writestr(f"assets/phonehome-bench-{i}.txt", f"bench copy {i}\n")


def build(size_mib: int, n_apks: int) -> tuple[Path, dict[str, int]]:
    """The sparse super image and the offset of each partition in the expanded super."""
    from tests.acquisition.firmware import writers
    from toolkit.acquisition.firmware import oat, odex, vdex

    name = f"super-{size_mib}M-{n_apks}apks"
    sparse, meta = CACHE / f"{name}.sparse.img", CACHE / f"{name}.json"
    if sparse.exists() and meta.exists():
        return sparse, json.loads(meta.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = random.Random(15)
    fixtures = sorted(APKS.glob("*.apk"))
    trees = {p: CACHE / "src" / p for p, _ in SPLIT}
    shutil.rmtree(CACHE / "src", ignore_errors=True)
    print(f"building {n_apks} APKs ...", flush=True)
    bounds, acc = [], 0.0
    for p, share in SPLIT:
        acc += share
        bounds.append((p, int(acc * n_apks)))
    for i in range(n_apks):
        part = next(p for p, b in bounds if i < b)
        src = fixtures[i % len(fixtures)]
        folder = trees[part] / ("priv-app" if i % 7 == 0 else "app") / f"App{i:03d}"
        folder.mkdir(parents=True)
        apk = folder / f"App{i:03d}.apk"
        _distinct_apk(src, apk, i)
        if i % 10 == 5:  # odexed: strip and put the code in an optimized file of one generation
            tmp = folder / "full.apk"
            apk.rename(tmp)
            dexes = writers.strip_dex(tmp, apk)
            tmp.unlink()
            if not dexes:
                continue
            gen = (i // 10) % 3
            if gen == 0:
                q, t = writers.quicken_dex(dexes[0])
                (folder / "oat" / "arm64").mkdir(parents=True)
                (folder / "oat" / "arm64" / apk.with_suffix(".odex").name).write_bytes(oat.write_oat_elf(
                    oat.write_oat([(f"/{part}/app/{apk.name}", q)], "088", quickening=[t],
                                  checksums=[zlib.crc32(dexes[0])])))
            elif gen == 1:
                q, t = writers.quicken_dex(dexes[0])
                (folder / "oat" / "arm").mkdir(parents=True)
                (folder / "oat" / "arm" / apk.with_suffix(".vdex").name).write_bytes(vdex.write_old_vdex([q], "010", [t]))
            else:
                apk.with_suffix(".odex").write_bytes(odex.write_odex(dexes[0]))
    used = sum(f.stat().st_size for t in trees.values() for f in t.rglob("*") if f.is_file())
    left = (size_mib << 20) - used
    print(f"filler: {max(left, 0) >> 20} MiB ...", flush=True)
    k = 0
    while left > 0:
        part = rng.choices([p for p, _ in SPLIT], [s for _, s in SPLIT])[0]
        size = min(left, rng.randint(256 << 10, 24 << 20))
        d = trees[part] / "lib64" if k % 2 else trees[part] / "media" / f"m{k % 50}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{k}.so").write_bytes(os.urandom(size // 2) + b"\0" * (size - size // 2))
        left -= size
        k += 1
    (trees["system"] / "build.prop").write_text("ro.product.system.brand=bench\nro.build.version.sdk=27\n")
    images = []
    for p, _ in SPLIT:
        content = sum(f.stat().st_size for f in trees[p].rglob("*") if f.is_file())
        img = CACHE / f"{p}.raw.img"
        print(f"mke2fs -d {p} ({content >> 20} MiB of files) ...", flush=True)
        writers.make_ext4(trees[p], img, size_mb=int(content * 1.15 / (1 << 20)) + 32)
        images.append((p, img))
    print("super (our liblp writer) + img2simg ...", flush=True)
    raw_super = CACHE / "super.raw.img"
    parts = [(p, img.read_bytes()) for p, img in images]
    writers.write_super(raw_super, parts)
    offsets, pos = {}, 1 << 20
    for p, data in parts:  # the placement write_super uses (1 MiB aligned after the metadata)
        offsets[p] = pos
        size = len(data) + (-len(data) % 4096)
        pos += size + (-size % (1 << 20))
    del parts
    for _p, img in images:
        img.unlink()
    subprocess.run(["img2simg", str(raw_super), str(sparse)], check=True)
    raw_super.unlink()
    shutil.rmtree(CACHE / "src")
    meta.write_text(json.dumps(offsets))
    return sparse, offsets


def phonehome(*args: str) -> list[str]:
    return [sys.executable, "-c", "from toolkit.cli.main import run; run()", *args]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


MEASURE = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
           "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of cmd alone (measured in a fresh parent, so earlier children do not count)."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, env=env).stdout
    return time.perf_counter() - t, int(out.strip() or 0) / 1024


class DiskSampler:
    """Peak space under a folder, sampled every 0.2 s while a command runs: allocated on disk (whole blocks) and
    the files' sizes."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak, self.peak_size, self._stop = folder, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _used(self) -> tuple[int, int]:
        blocks = size = 0
        for dirpath, _dirs, files in os.walk(self.folder):
            for f in files:
                with contextlib.suppress(OSError):  # removed while we looked
                    st = os.lstat(os.path.join(dirpath, f))
                    blocks, size = blocks + st.st_blocks * 512, size + st.st_size
        return blocks, size

    def _run(self) -> None:
        while not self._stop.is_set():
            blocks, size = self._used()
            self.peak, self.peak_size = max(self.peak, blocks), max(self.peak_size, size)
            self._stop.wait(0.2)

    def __enter__(self) -> DiskSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1200)
    ap.add_argument("--apks", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-scan", action="store_true")
    args = ap.parse_args()
    for tool in ("mke2fs", "img2simg", "simg2img", "debugfs"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    sparse, offsets = build(args.size_mib, args.apks)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    work = CACHE / "run-real-size"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    t_ours, rss = measured(phonehome("firmware", "extract", str(sparse), "--out", str(work / "ours")), env)
    summary = json.loads((work / "ours" / "firmware.json").read_text())
    raw = work / "super.raw"
    t_simg = timed(["simg2img", str(sparse), str(raw)])
    t_rdump = 0.0
    for p, off in offsets.items():
        (work / "debian" / p).mkdir(parents=True)
        t_rdump += timed(["debugfs", "-R", f"rdump / {work / 'debian' / p}", f"{raw}?offset={off}"])
    raw_size = raw.stat().st_size
    raw.unlink()
    apks = summary["apks"]
    code = {}
    for a in apks:
        code[a["code"]] = code.get(a["code"], 0) + 1
    needed = sum(a["size"] for a in apks) + sum((work / "ours" / a["recovered"]["path"]).stat().st_size
                                               for a in apks if a.get("recovered"))
    print(f"image: sparse super {sparse.stat().st_size >> 20} MiB, expanded {raw_size >> 20} MiB, "
          f"partitions {', '.join(summary['partitions'])}")
    print(f"APKs found: {len(apks)}; code: {code}")
    print(f"phonehome firmware extract : {t_ours:7.2f} s  peak RSS {rss:.0f} MiB")
    print(f"  bytes written {summary['bytes_written'] >> 20} MiB, peak {summary['peak_bytes'] >> 20} MiB "
          f"(APKs and optimized files: {needed >> 10} KiB; extract writes every file of every partition)")
    print(f"simg2img + debugfs rdump   : {t_simg + t_rdump:7.2f} s  ({t_simg:.2f} + {t_rdump:.2f})")
    print(f"ratio phonehome / Debian   : {t_ours / (t_simg + t_rdump):7.2f}x  (goal <= 1.5x)")
    shutil.rmtree(work / "debian", ignore_errors=True)
    shutil.rmtree(work / "ours", ignore_errors=True)
    if not args.no_scan:
        cache = work / "cache"
        tmp = work / "tmp"  # the scan's temporary folder (TMPDIR), sampled for its peak size on disk
        tmp.mkdir()
        with DiskSampler(tmp) as disk:
            t_scan, rss_scan = measured(phonehome("firmware", "scan", str(sparse), "--format", "json", "--output",
                                                  str(work / "r.json"), "-j", str(args.workers), "--cache", str(cache)),
                                        dict(env, TMPDIR=str(tmp)))
        r = json.loads((work / "r.json").read_text())
        fw = r["firmware"]
        print(f"firmware scan temporary disk: peak {disk.peak / (1 << 20):.2f} MiB allocated, files "
              f"{disk.peak_size / (1 << 20):.2f} MiB (sampled every 0.2 s); "
              f"unpacking wrote {fw['bytes_written'] / (1 << 20):.1f} MiB, peak {fw['peak_bytes'] / (1 << 20):.1f} MiB, "
              f"{fw['skipped_files']} files not written")
        print(f"  APKs and optimized files needed: {needed / (1 << 20):.2f} MiB; goal: peak file size <= that "
              f"({'met' if disk.peak_size <= needed else 'NOT met'}: {disk.peak_size / max(needed, 1):.2f}x; "
              f"allocated {disk.peak / max(needed, 1):.2f}x)")
        status: dict[str, int] = {}
        for a in r["apks"]:
            status[a["status"]] = status.get(a["status"], 0) + 1
        print(f"phonehome firmware scan    : {t_scan:7.2f} s  peak RSS {rss_scan:.0f} MiB ({len(r['apks'])} units: "
              f"{status}); unpacking is {t_ours / t_scan:.0%} of it")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
