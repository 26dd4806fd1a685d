"""Is a series of transmissions regular? One method for netstats buckets and for connections in a capture.

Method (documented in docs/observed.md):
1. Take the times of the transmissions (for netstats: the start of each bucket in which the UID sent bytes; for a
   capture: the start of each connection or burst). ``resolution`` is how finely the times are known (the bucket
   length; 0 for packet timestamps).
2. The candidate period P is the median gap between consecutive transmissions.
3. A period shorter than two resolutions cannot be told from continuous use (every bucket busy): no verdict.
4. A gap *matches* when it is within ``tolerance = resolution / 2 + 10 % of P`` of P. Gaps near 2P or 3P are
   *missed beats* (the phone was off-line or asleep): they do not count against regularity, nor for it.
5. Regularity = matching gaps / (all gaps − missed beats). The series is periodic when it has at least
   ``min_matches`` matching gaps (default 6: three hours of a half-hourly beacon) and regularity ≥ 0.8, and
   missed beats are fewer than matching gaps.
Jitter is the standard deviation of the matching gaps around P.

The false-alarm rate of this rule on non-periodic traffic (Poisson arrivals, and bursty on/off use, binned like
netstats) is measured by ``bench/periodic_false_alarms.py`` and checked by a seeded test.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_MATCHES = 6
MIN_REGULARITY = 0.8


@dataclass(frozen=True)
class Periodicity:
    """The verdict on one series."""

    periodic: bool
    period_seconds: float | None
    regularity: float  # 0..1: share of gaps (missed beats aside) that match the period
    jitter_seconds: float | None
    transmissions: int
    matching_gaps: int
    missed_beats: int
    reason: str


def detect_period(times: Sequence[float], resolution: float = 0.0, min_matches: int = MIN_MATCHES,
                  min_regularity: float = MIN_REGULARITY) -> Periodicity:
    """Apply the method above to transmission times (seconds, any order)."""
    ts = sorted(set(times))
    n = len(ts)
    if n < min_matches + 1:
        return Periodicity(False, None, 0.0, None, n, 0, 0, f"{n} transmissions: too few to judge")
    gaps = [b - a for a, b in zip(ts, ts[1:], strict=False)]
    period = statistics.median(gaps)
    if period < 2 * resolution or period <= 0:
        return Periodicity(False, period, 0.0, None, n, 0, 0,
                           f"median gap {period:.0f} s is below two resolutions ({resolution:.0f} s): "
                           "not distinguishable from continuous use")
    tol = resolution / 2 + 0.1 * period
    matching = [g for g in gaps if abs(g - period) <= tol]
    missed = [g for g in gaps if any(abs(g - k * period) <= tol for k in (2, 3))]
    judged = len(gaps) - len(missed)
    regularity = len(matching) / judged if judged else 0.0
    jitter = statistics.pstdev(matching) if len(matching) > 1 else None
    periodic = len(matching) >= min_matches and regularity >= min_regularity and len(missed) < len(matching)
    reason = (f"{len(matching)} of {judged} gaps within ±{tol:.0f} s of {period:.0f} s"
              + (f", {len(missed)} missed beat(s)" if missed else ""))
    return Periodicity(periodic, period, regularity, jitter, n, len(matching), len(missed), reason)


def describe_period(seconds: float) -> str:
    """1800 -> 'every 30 min', 7200 -> 'every 2 h', 45 -> 'every 45 s'."""
    if seconds >= 3600 and seconds % 3600 < 60:
        return f"every {round(seconds / 3600)} h"
    if seconds >= 60:
        return f"every {round(seconds / 60)} min"
    return f"every {seconds:.0f} s"
