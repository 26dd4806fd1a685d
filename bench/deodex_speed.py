"""Deodexing Dalvik code with baksmali/smali: two commands per app (two JVM starts) against one JVM for all apps.

Builds a small Dalvik boot class path (tests/acquisition/firmware/dalvik_boot.py, assembled by smali) and N copies
of the imei_sms_binary fixture's DEX quickened against it as dexopt does (vtable indices from baksmali), written as
Dalvik .odex files; then deodexes every one
  - with the commands (`baksmali deodex` + `smali assemble` per app, as phonehome did before), and
  - in one deodex.Session (baksmali's and smali's entry points in one JVM, DeodexServer.java),
checks that both give the same DEX for every app, and prints the time of each and per app.

    python bench/deodex_speed.py [--apps 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", type=int, default=20)
    args = ap.parse_args()
    if shutil.which("baksmali") is None or shutil.which("smali") is None:
        print("baksmali and smali are not installed (Debian libsmali-java)", file=sys.stderr)
        return 2
    from tests.acquisition.firmware import dalvik_boot
    from toolkit.acquisition.firmware import deodex, odex

    with tempfile.TemporaryDirectory(prefix="ph-bench-deodex-") as tmp:
        t = Path(tmp)
        boot = dalvik_boot.build_boot_dex(t)
        (t / "core.odex").write_bytes(odex.write_odex(boot, deps=[]))
        dex = zipfile.ZipFile(ROOT / "fixtures" / "apks" / "imei_sms_binary.apk").read("classes.dex")
        quick, n = dalvik_boot.quicken_dalvik(dex, dalvik_boot.vtables(t / "core.dex"))
        apps = []
        for i in range(args.apps):
            p = t / f"App{i:03d}.odex"
            p.write_bytes(odex.write_odex(quick, deps=["/system/framework/core.jar"]))
            apps.append(p)
        print(f"{args.apps} Dalvik odex apps ({n} quickened calls each), load {os.getloadavg()[0]:.2f}")
        start = time.perf_counter()
        by_commands = [deodex.deodex(str(p), [t / "core.odex"], 19, p.name) for p in apps]
        t_cmd = time.perf_counter() - start
        start = time.perf_counter()
        with deodex.Session() as session:
            in_session = [deodex.deodex(str(p), [t / "core.odex"], 19, p.name, session) for p in apps]
        t_session = time.perf_counter() - start
        same = by_commands == in_session
        print(f"commands per app (2 JVMs each): {t_cmd:7.2f} s  ({t_cmd / args.apps:.2f} s per app)")
        print(f"one JVM (deodex.Session)      : {t_session:7.2f} s  ({t_session / args.apps:.2f} s per app; "
              f"{session.starts} JVM start(s), {session.jobs} jobs{', server did not start' if session.broken else ''})")
        print(f"speed-up {t_cmd / t_session:.1f}x; same DEX for every app: {same}; load {os.getloadavg()[0]:.2f}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
