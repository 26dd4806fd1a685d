"""Measure the periodic-network-use detector (toolkit/behaviour/periodic.py): false alarms on generated
non-periodic traffic and detections of generated beacons, at the resolutions it meets (capture timestamps: 0 s;
netstats buckets: 900 s and Android's default 7200 s).

    python bench/periodic_false_alarms.py [--trials 2000]

Prints one line per (traffic kind, resolution): the share of series the detector calls periodic. For the
non-periodic kinds that share is the false-alarm rate.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.behaviour import synthetic  # noqa: E402
from toolkit.behaviour.periodic import detect_period  # noqa: E402

Gen = Callable[[random.Random, float], list[float]]
KINDS: dict[str, tuple[bool, Gen]] = {
    "poisson, mean gap 5 min": (False, lambda rnd, r: synthetic.poisson(rnd, 300, resolution=r)),
    "poisson, mean gap 30 min": (False, lambda rnd, r: synthetic.poisson(rnd, 1800, resolution=r)),
    "poisson, mean gap 2 h": (False, lambda rnd, r: synthetic.poisson(rnd, 7200, hours=72, resolution=r)),
    "bursty sessions (~1.5 h apart)": (False, lambda rnd, r: synthetic.bursty(rnd, resolution=r)),
    "beacon 30 min, jitter 30 s, 5% lost": (True, lambda rnd, r: synthetic.periodic(rnd, 1800, 30, resolution=r)),
    "beacon 4 h, jitter 60 s, 5% lost (48 h)": (True, lambda rnd, r: synthetic.periodic(rnd, 14400, 60, hours=48,
                                                                                      resolution=r)),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'traffic':42} {'resolution':>10} {'called periodic':>16}")
    for name, (truly_periodic, gen) in KINDS.items():
        for resolution in (0, 900, 7200):
            rnd = random.Random(16)
            hits = sum(detect_period(gen(rnd, resolution), resolution).periodic for _ in range(args.trials))
            label = "detection" if truly_periodic else "false alarms"
            print(f"{name:42} {resolution:>9}s {hits / args.trials:>10.2%} {label}")


if __name__ == "__main__":
    main()
