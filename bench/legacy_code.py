"""Code recovery on real vendor output: the Xiaomi vince Android 7.1.2 files in ../shared/realfirmware.

Builds an ext4 image of that tree with `mke2fs -d` in a temporary folder (nothing derived is kept or committed),
unpacks it with phonehome and prints, per code state, how many APKs there are, the time taken, and for every
recovered DEX whether its CRC32 equals the one dex2oat recorded for the original classes.dex (byte-identical
proof). Run it with PYTHONPATH pointing at another checkout to get that checkout's "before" figures.

    python bench/legacy_code.py [--tree ../shared/realfirmware/vince_7.1.2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "realfirmware" / "vince_7.1.2"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", type=Path, default=DEFAULT)
    args = ap.parse_args()
    if not args.tree.is_dir():
        print(f"{args.tree}: not found (the real firmware files are not on this machine)", file=sys.stderr)
        return 2
    from toolkit.acquisition.firmware import unpack

    with tempfile.TemporaryDirectory(prefix="ph-legacy-") as tmp:
        img = Path(tmp) / "system.img"
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-d", str(args.tree), str(img),
                        "64M"], check=True)
        t0 = time.perf_counter()
        info = unpack(img, Path(tmp) / "out")
        took = time.perf_counter() - t0
    codes = Counter(a.code for a in info.apks)
    with_code = sum(n for c, n in codes.items() if c == "present" or c.startswith("recovered"))
    print(f"APKs: {len(info.apks)}  with code to analyse: {with_code}  by state: {dict(sorted(codes.items()))}")
    print(f"unpack + recovery: {took:.2f} s; issues: {len(info.issues)}")
    for a in info.apks:
        rec = getattr(a, "recovered", None)
        if rec is None:
            if a.code != "present":
                print(f"  {a.device_path}: {a.code}: {a.code_note}")
            continue
        states = ", ".join(f"{d.name} {d.state} crc={'ok' if d.crc_matches else 'differs'}" for d in rec.dex)
        print(f"  {a.device_path}: {rec.format}: {states}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
