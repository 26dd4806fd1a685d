"""Generated transmission times for measuring the periodicity detector: non-periodic traffic (Poisson arrivals,
bursty on/off use) to count false alarms, and jittered periodic beacons with lost beats to count detections.
Seeded: the same seed gives the same series. `resolution` > 0 bins the times like netstats buckets."""

from __future__ import annotations

import random


def binned(times: list[float], resolution: float) -> list[float]:
    return sorted({t - t % resolution for t in times}) if resolution else sorted(times)


def poisson(rnd: random.Random, mean_gap: float, hours: float = 24, resolution: float = 0) -> list[float]:
    out: list[float] = []
    t = 0.0
    while True:
        t += rnd.expovariate(1 / mean_gap)
        if t > hours * 3600:
            return binned(out, resolution)
        out.append(t)


def bursty(rnd: random.Random, hours: float = 24, resolution: float = 0) -> list[float]:
    """Sessions every ~1.5 h (exponential), each 1-6 transmissions about 2 min apart: how people use apps."""
    out: list[float] = []
    t = 0.0
    while t < hours * 3600:
        t += rnd.expovariate(1 / 5400)
        for _ in range(rnd.randint(1, 6)):
            t += rnd.expovariate(1 / 120)
            out.append(t)
    return binned(out, resolution)


def periodic(rnd: random.Random, period: float, jitter: float, hours: float = 24, loss: float = 0.05,
             resolution: float = 0) -> list[float]:
    out: list[float] = []
    t = rnd.uniform(0, period)
    while t < hours * 3600:
        if rnd.random() > loss:
            out.append(t + rnd.gauss(0, jitter))
        t += period
    return binned(out, resolution)
