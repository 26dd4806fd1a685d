"""The periodicity detector: verdicts on exact series, and its measured false-alarm / detection rates on
generated traffic (seeded, so the figures are reproducible; bench/periodic_false_alarms.py prints more)."""

from __future__ import annotations

import random

import pytest

from toolkit.behaviour import synthetic
from toolkit.behaviour.periodic import describe_period, detect_period


def test_regular_series_with_a_missed_beat() -> None:
    times = [i * 1800 + (7 if i % 2 else -5) for i in range(12) if i != 6]  # one beat lost
    v = detect_period(times)
    assert v.periodic and v.period_seconds == pytest.approx(1800, abs=15)
    assert v.missed_beats == 1 and v.regularity == 1.0 and v.jitter_seconds is not None


def test_too_few_or_too_fine_for_the_resolution() -> None:
    assert not detect_period([0, 1800, 3600]).periodic
    every_bucket = [i * 7200 for i in range(20)]  # a 30-min beacon seen through Android's 2-hour buckets
    v = detect_period(every_bucket, resolution=7200)
    assert not v.periodic and "below two resolutions" in v.reason


@pytest.mark.parametrize("resolution", [0, 900, 7200])
def test_false_alarms_on_non_periodic_traffic_stay_below_one_percent(resolution: int) -> None:
    rnd = random.Random(16)
    trials = 300
    series = ([synthetic.poisson(rnd, 1800, resolution=resolution) for _ in range(trials)]
              + [synthetic.poisson(rnd, 7200, hours=72, resolution=resolution) for _ in range(trials)]
              + [synthetic.bursty(rnd, resolution=resolution) for _ in range(trials)])
    alarms = sum(detect_period(s, resolution).periodic for s in series)
    assert alarms / len(series) < 0.01


@pytest.mark.parametrize(("resolution", "minimum"), [(0, 0.99), (900, 0.85)])
def test_jittered_beacons_are_detected(resolution: int, minimum: float) -> None:
    rnd = random.Random(2014)
    hits = sum(detect_period(synthetic.periodic(rnd, 1800, 30, resolution=resolution), resolution).periodic
               for _ in range(300))
    assert hits / 300 >= minimum


def test_describe_period() -> None:
    assert describe_period(1800) == "every 30 min"
    assert describe_period(7200) == "every 2 h"
    assert describe_period(45) == "every 45 s"
