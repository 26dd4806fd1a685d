"""Bombs: peak memory, bytes written and time of phonehome on hostile inputs built here (issue 12).

Cases (each run in a fresh `python -m toolkit` process; its peak RSS comes from wait4, the bytes it wrote
from /proc/<pid>/io `wchar`, the largest size the output folder reached from polling it every 50 ms):
  zip-amplify   a 4 MB zip of 256 members of 16 MiB zeros (`firmware extract`, default limits)
  zip-scan      the same zip through `firmware scan` (writes only what the APK analysis reads)
  payload-zstd  payload.bin with one ZSTD operation over 8 GiB of zeros (`firmware extract`, default limits)
  payload-ratio the same with --max-expansion lifted, so the operation itself is decompressed until the
                per-operation ratio check stops it (streaming: memory stays flat)
  apk-asset     an APK (a fixture that leaks the IMEI) with a 1 GiB asset of zeros (`apk scan`)
  flood         `device acquire` of a simulated phone listing --flood N user packages (time bomb: the cost
                per file must stay flat as N grows); run with --cases flood

    python bench/hostile.py [--cases zip-amplify,payload-zstd] [--code /work/main] [--flood 3000]

--code runs the same cases against another checkout (e.g. main, for the "before" figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # for tests/ (the writers, the simulator profile); the code measured comes first
CACHE = REPO / "bench" / "cache" / "hostile"


def zip_amplify() -> Path:
    out = CACHE / "amplify.zip"
    if not out.exists():
        zeros = bytes(16 << 20)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for i in range(256):
                z.writestr(f"images/blob{i:03d}.bin", zeros)
    return out


def payload_zstd() -> Path:
    from tests.acquisition.firmware.writers import write_zstd_bomb_payload

    out = CACHE / "payload-8g.bin"
    if not out.exists():
        write_zstd_bomb_payload(out, 8 << 30)
    return out


def apk_asset() -> Path:
    out = CACHE / "asset-bomb.apk"
    if not out.exists():
        shutil.copy(REPO / "fixtures" / "apks" / "imei_http_post.apk", out)
        zeros = bytes(64 << 20)
        with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
                z.open(zipfile.ZipInfo("assets/zeros.bin"), "w", force_zip64=True) as f:
            for _ in range(16):
                f.write(zeros)
    return out


def folder_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
    return total


def run_case(name: str, argv: list[str], code: Path, work: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(code), TMPDIR=str(work))
    start = time.monotonic()
    with open(work / "stderr.txt", "w") as err, open(work / "stdout.txt", "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "toolkit", *argv], cwd=work, env=env,
                                stdout=out, stderr=err)
    wchar, peak_disk = 0, 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            io = Path(f"/proc/{proc.pid}/io").read_text()
            wchar = int(next(line.split()[1] for line in io.splitlines() if line.startswith("wchar")))
        except (OSError, StopIteration):
            pass
        peak_disk = max(peak_disk, folder_size(work))
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    rss = usage.ru_maxrss << 10
    stderr = (work / "stderr.txt").read_text(errors="replace")
    last = [ln for ln in stderr.strip().splitlines() if ln.strip()][-3:]
    return {"case": name, "exit": proc.returncode, "seconds": round(elapsed, 1), "peak_rss_mib": rss >> 20,
            "written_mib": wchar >> 20, "peak_disk_mib": peak_disk >> 20, "said": last}


def flood_child(n: int) -> None:
    """In a process whose PYTHONPATH puts the measured checkout first: acquire a phone with n user packages."""
    import yaml

    from tests.simulator.support import make_host_key, simulator, write_profile
    from toolkit.acquisition import adb
    from toolkit.acquisition.device import AcquireOptions, acquire
    from toolkit.simulator import load_profile

    with tempfile.TemporaryDirectory(prefix="phonehome-flood-") as tmp:
        root = write_profile(Path(tmp) / "profile")
        spec = yaml.safe_load((root / "profile.yml").read_text())
        spec["packages"] += [{"name": f"com.flood.p{i}", "path": f"/data/app/com.flood.p{i}-1/base.apk",
                              "uid": 20000 + i} for i in range(n)]
        (root / "profile.yml").write_text(yaml.safe_dump(spec))
        key = make_host_key(Path(tmp))
        with simulator(load_profile(root), key) as sim:
            start = time.monotonic()
            result = acquire(Path(tmp) / "ev", lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key,
                                                                       auth_timeout=3, io_timeout=5),
                             AcquireOptions(retries=0, apks="user"))
            took = time.monotonic() - start
    import toolkit

    print(json.dumps({"case": "flood", "code": str(Path(toolkit.__file__).parents[1]), "packages": n, "files": len(result.manifest.files), "seconds": round(took, 1),
                      "ms_per_file": round(1000 * took / max(1, len(result.manifest.files)), 2)}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="zip-amplify,zip-scan,payload-zstd,payload-ratio,apk-asset")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose toolkit/ is measured")
    parser.add_argument("--flood", type=int, default=3000, help="packages of the flood case")
    parser.add_argument("--flood-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood_child is not None:
        flood_child(args.flood_child)
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    cases = {
        "zip-amplify": lambda: ["firmware", "extract", str(zip_amplify()), "--out", "out"],
        "zip-scan": lambda: ["firmware", "scan", str(zip_amplify()), "-j", "1", "--no-cache", "--format", "json",
                             "--output", "r.json"],
        "payload-zstd": lambda: ["firmware", "extract", str(payload_zstd()), "--out", "out"],
        "payload-ratio": lambda: ["firmware", "extract", str(payload_zstd()), "--out", "out",
                                  "--max-expansion", "1000000"],
        "apk-asset": lambda: ["apk", "scan", str(apk_asset()), "-j", "1", "--no-cache", "--format", "json",
                              "--output", "r.json"],
    }
    print(f"code: {args.code}")
    for name in args.cases.split(","):
        if name == "flood":  # in-process acquisition with the measured code first on the path
            env = dict(os.environ, PYTHONPATH=f"{args.code}{os.pathsep}{REPO}")
            subprocess.run([sys.executable, __file__, "--code", str(args.code), "--flood-child", str(args.flood)],
                           env=env, check=False)
            continue
        argv = cases[name]()
        with tempfile.TemporaryDirectory(prefix="phonehome-hostile-") as tmp:
            res = run_case(name, argv, args.code, Path(tmp))
        said = " | ".join(str(s)[:160] for s in res.pop("said"))  # type: ignore[union-attr]
        print(json.dumps(res))
        print(f"    last lines: {said}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
