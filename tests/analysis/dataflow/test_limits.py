"""Limits: recorded by name and place, counted, and turned into one reason line."""

from __future__ import annotations

import time

import pytest

from toolkit.analysis.dataflow.limits import BudgetExceeded, Limits


def test_limits_are_named_counted_and_explained() -> None:
    limits = Limits(deadline=time.monotonic() + 60)
    assert limits.reason() is None and limits.recorded() == []
    limits.hit("method_size", "LA;->big()V")
    limits.hit("method_size", "LB;->other()V")
    limits.hit("caller_walk", None, "stopped")
    names = [lim.name for lim in limits.recorded()]
    assert names == ["caller_walk", "method_size"]
    size = limits.hits["method_size"]
    assert size.count == 2 and size.where == "LA;->big()V" and size.detail
    reason = limits.reason()
    assert reason is not None and "method_size" in reason and "LA;->big()V" in reason and "caller_walk" in reason


def test_the_deadline_raises_and_is_recorded_once() -> None:
    limits = Limits(deadline=time.monotonic() - 1)
    for _ in range(2):
        with pytest.raises(BudgetExceeded):
            limits.check_time()
    assert limits.hits["time_budget"].count == 1
