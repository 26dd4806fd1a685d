"""Inventory parsing speed on a phone-sized output set.

Scales the committed Android 14 raw outputs (tests/inventory/data/android14) to --packages packages by
repeating its `dumpsys package` blocks under new names (and matching pm list / alarm / socket lines), then
times build_inventory over --runs runs and prints the figures. A real handset has 300-600 packages and a
`dumpsys package` of a few MiB.

    python bench/inventory_parse.py [--packages 600] [--runs 5]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.inventory import build_inventory  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "inventory" / "data" / "android14"


def scaled_outputs(n: int) -> dict[str, str]:
    outputs = {p.stem: p.read_text() for p in DATA.glob("*.txt")}
    dump = outputs["dumpsys_package"]
    start = dump.index("  Package [com.popular.messenger]")
    end = dump.index("\nHidden system packages:")
    block = dump[start:end] + "\n"
    blocks, listing, sockets = [], [], []
    for i in range(n):
        name = f"com.bench.app{i:04d}"
        uid = 10300 + i
        blocks.append(re.sub(r"appId=\d+", f"appId={uid}", block.replace("com.popular.messenger", name)))
        listing.append(f"package:/data/app/~~AAAA{i}==/{name}-BBBB{i}==/base.apk={name} versionCode:{i}  "
                       f"installer=com.android.vending uid:{uid}\n")
        sockets.append(f"  {i + 10:4d}: 0F02000A:{1024 + i:04X} 140A582F:1F90 01 00000000:00000000 02:00000000 "
                       f"00000000 {uid:5d}        0 {300000 + i} 2 0000000000000000 21 4 30 10 -1\n")
    outputs["dumpsys_package"] = dump[:end] + "\n" + "".join(blocks) + dump[end:]
    outputs["pm_list_packages"] += "".join(listing)
    outputs["proc_net_tcp"] += "".join(sockets)
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    outputs = scaled_outputs(args.packages)
    size = sum(len(v.encode()) for v in outputs.values())
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        inv = build_inventory(outputs)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    build_inventory(outputs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best = min(times)
    print(f"outputs: {size / 2**20:.2f} MiB (dumpsys package {len(outputs['dumpsys_package'].encode()) / 2**20:.2f} MiB)")
    print(f"packages parsed: {len(inv.packages)}, sockets: {len(inv.sockets)}, problems: {len(inv.parse_problems)}")
    print(f"build_inventory: best {best * 1000:.0f} ms, median {sorted(times)[len(times) // 2] * 1000:.0f} ms "
          f"over {args.runs} runs; {size / 2**20 / best:.1f} MiB/s; {len(inv.packages) / best:.0f} packages/s")
    print(f"peak Python memory during one run: {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
