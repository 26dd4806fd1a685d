"""Pull throughput over the ADB wire protocol: phonehome (adb-shell, adb server) vs Debian's `adb pull`.

Serves one random file of --size-mib MiB from the simulated handset on loopback and times:
  - phonehome over adb-shell TCP (toolkit.acquisition.adb.connect_tcp + pull),
  - phonehome through Debian's adb server (adbutils host protocol),
  - Debian's own `adb pull` through the same server,
checks all three copies are byte-identical, and prints MiB/s. Loopback numbers measure protocol/CPU overhead,
not USB: a USB 2 phone delivers roughly 20-40 MiB/s. Also times a full `device acquire` of the demo profile.

    python bench/acquisition_pull.py [--size-mib 64]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from toolkit.acquisition import adb  # noqa: E402
from toolkit.acquisition.device import AcquireOptions, acquire  # noqa: E402
from toolkit.simulator import DeviceSimulator, load_profile  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=64)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ph-bench-"))
    try:
        blob = tmp / "profile" / "fs" / "system" / "app" / "Big" / "Big.apk"
        blob.parent.mkdir(parents=True)
        with open(blob, "wb") as fh:
            for _ in range(args.size_mib):
                fh.write(os.urandom(1 << 20))
        (tmp / "profile" / "profile.yml").write_text(yaml.safe_dump({"name": "bench", "props": {
            "ro.product.model": "Bench", "ro.build.version.sdk": "29", "ro.serialno": "BENCH1"}}))
        digest = hashlib.sha256(blob.read_bytes()).hexdigest()
        key = adb.ensure_host_key(tmp / "home" / ".android" / "adbkey")
        size = blob.stat().st_size
        rows: list[tuple[str, float]] = []
        with DeviceSimulator(load_profile(tmp / "profile"), auth="open") as sim:
            conn = adb.connect_tcp("127.0.0.1", sim.port, key_path=key)
            t = time.perf_counter()
            conn.pull("/system/app/Big/Big.apk", tmp / "a.apk")
            rows.append(("phonehome adb-shell TCP", time.perf_counter() - t))
            conn.close()
            assert hashlib.sha256((tmp / "a.apk").read_bytes()).hexdigest() == digest
            exe = shutil.which("adb")
            if exe:
                port = 15000 + os.getpid() % 1000
                env = {**os.environ, "HOME": str(tmp / "home"), "ANDROID_ADB_SERVER_PORT": str(port)}
                subprocess.run([exe, "start-server"], env=env, capture_output=True, timeout=30, check=True)
                try:
                    subprocess.run([exe, "connect", sim.serial], env=env, capture_output=True, timeout=30)
                    server = adb.connect_server(sim.serial, port=port, auth_timeout=10)
                    t = time.perf_counter()
                    server.pull("/system/app/Big/Big.apk", tmp / "b.apk")
                    rows.append(("phonehome via adb server", time.perf_counter() - t))
                    t = time.perf_counter()
                    subprocess.run([exe, "-s", sim.serial, "pull", "/system/app/Big/Big.apk", str(tmp / "c.apk")],
                                   env=env, capture_output=True, timeout=300, check=True)
                    rows.append(("Debian adb pull", time.perf_counter() - t))
                    for name in ("b.apk", "c.apk"):
                        assert hashlib.sha256((tmp / name).read_bytes()).hexdigest() == digest, name
                finally:
                    subprocess.run([exe, "kill-server"], env=env, capture_output=True, timeout=30)
        print(f"pull of {size / 2**20:.0f} MiB over loopback (byte-identical copies checked):")
        for name, seconds in rows:
            print(f"  {name:28s} {seconds:7.2f} s  {size / 2**20 / seconds:8.1f} MiB/s")
        with DeviceSimulator("demo", auth="open") as sim:
            t = time.perf_counter()
            result = acquire(tmp / "ev", lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key),
                             AcquireOptions())
            took = time.perf_counter() - t
        m = result.manifest
        print(f"demo acquisition: {len(m.commands)} commands, {m.runs[-1].pulled} APKs, complete={m.complete}, "
              f"{took:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
