"""Firmware extraction throughput: phonehome vs the Debian chain (simg2img + debugfs rdump).

Builds (once, cached in bench/cache/firmware/) a synthetic sparse ext4 image of at least 1 GiB of file data
with mke2fs -d and img2simg, then times in one run:
  - phonehome: `phonehome firmware extract sparse.img --out A` (reads the sparse image in place),
  - Debian:    `simg2img sparse.img raw.img` then `debugfs -R "rdump / B" raw.img`,
checks both trees are identical, and prints the figures. Goal: phonehome <= 1.5x the Debian chain's time.

    python bench/firmware_extract.py [--size-mib 1100] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / "cache" / "firmware"
UUID = "5e1f0000-0000-4000-8000-00000000be4c"


def build_image(size_mib: int) -> Path:
    """A sparse ext4 image holding size_mib MiB of files: big APK-like blobs, many small files, empty space."""
    sparse = CACHE / f"system-{size_mib}M.sparse.img"
    if sparse.exists():
        return sparse
    CACHE.mkdir(parents=True, exist_ok=True)
    src = CACHE / "src"
    shutil.rmtree(src, ignore_errors=True)
    rng = random.Random(20240105)
    left = size_mib << 20
    i = 0
    print(f"building a {size_mib} MiB source tree in {src} ...", flush=True)
    while left > 0:
        i += 1
        if i % 10 == 0:
            size = rng.randint(4 << 20, 24 << 20)  # big app or library
            folder = src / "system" / "priv-app" / f"App{i}"
        else:
            size = rng.randint(4 << 10, 2 << 20)
            folder = src / "system" / "app" / f"Small{i % 400}"
        size = min(size, left)
        folder.mkdir(parents=True, exist_ok=True)
        # Half random (incompressible, like APK contents), half repeated text.
        data = os.urandom(size // 2) + (b"ro.build.property=value\n" * (size // 48 + 1))[: size - size // 2]
        (folder / f"f{i}.bin").write_bytes(data)
        left -= size
    (src / "system" / "build.prop").write_text("ro.product.system.brand=bench\n")
    raw = CACHE / "build.raw.img"
    total_mib = int(size_mib * 1.25) + 64
    env = dict(os.environ, E2FSPROGS_FAKE_TIME="1700000000")
    print(f"mke2fs -d ({total_mib} MiB image) ...", flush=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-U", UUID, "-E", f"hash_seed={UUID}", "-O", "^has_journal",
                    "-d", str(src), str(raw), f"{total_mib}M"], check=True, env=env)
    subprocess.run(["debugfs", "-w", "-R", "feature shared_blocks", str(raw)], check=True, capture_output=True)
    print("img2simg ...", flush=True)
    subprocess.run(["img2simg", str(raw), str(sparse)], check=True)
    raw.unlink()
    shutil.rmtree(src)
    return sparse


def tree_digest(root: Path) -> tuple[int, int, str]:
    """(files, bytes, digest of names and contents) of a tree, ignoring lost+found and our summary."""
    h = hashlib.sha256()
    files = size = 0
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names):
            p = Path(dirpath) / n
            rel = p.relative_to(root)
            if p.is_symlink() or rel.parts[0] in ("lost+found", "firmware.json"):
                continue
            files += 1
            size += p.stat().st_size
            h.update(str(rel).encode())
            with open(p, "rb") as f:
                while chunk := f.read(8 << 20):
                    h.update(chunk)
    return files, size, h.hexdigest()


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1100, help="MiB of file data in the image (>= 1024)")
    ap.add_argument("--keep", action="store_true", help="keep the extracted trees")
    args = ap.parse_args()
    for tool in ("mke2fs", "debugfs", "img2simg", "simg2img", "phonehome"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    sparse = build_image(args.size_mib)
    work = CACHE / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    ours, theirs, raw = work / "phonehome", work / "debian", work / "raw.img"
    # Both chains read the same cached image; run phonehome first, so any page-cache warm-up favours Debian's.
    t_ours = timed(["phonehome", "firmware", "extract", str(sparse), "--out", str(ours)])
    rss_ours = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t_simg = timed(["simg2img", str(sparse), str(raw)])
    theirs.mkdir()
    t_rdump = timed(["debugfs", "-R", f"rdump / {theirs}", str(raw)])
    t_debian = t_simg + t_rdump
    files_a, bytes_a, dig_a = tree_digest(ours)
    files_b, bytes_b, dig_b = tree_digest(theirs)
    mib = bytes_a / (1 << 20)
    print(f"image: {sparse.name}, sparse {sparse.stat().st_size / (1 << 20):.0f} MiB, "
          f"expanded {raw.stat().st_size / (1 << 20):.0f} MiB; {files_a} files, {mib:.0f} MiB of file data")
    print(f"phonehome firmware extract : {t_ours:7.2f} s  ({mib / t_ours:6.0f} MiB/s of files)  max RSS {rss_ours:.0f} MiB")
    print(f"simg2img                   : {t_simg:7.2f} s")
    print(f"debugfs rdump              : {t_rdump:7.2f} s")
    print(f"Debian chain total         : {t_debian:7.2f} s  ({mib / t_debian:6.0f} MiB/s of files)")
    print(f"ratio phonehome / Debian   : {t_ours / t_debian:7.2f}x  (goal <= 1.5x)")
    same = (files_a, bytes_a, dig_a) == (files_b, bytes_b, dig_b)
    print(f"trees identical            : {same}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
