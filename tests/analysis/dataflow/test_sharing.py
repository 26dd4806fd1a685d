"""Sharing equal values across results: same content, one object per distinct value."""

from __future__ import annotations

from toolkit.analysis.dataflow.sharing import MIN_SHARED, ValueTable
from toolkit.analysis.dataflow.summary import MethodResult, SinkHit, Summary
from toolkit.analysis.dataflow.values import Const, Param, Source


def _big(n: int) -> frozenset:
    return frozenset({Source(0), *(Const(f"c{i}") for i in range(n))})


def test_equal_values_become_one_object_small_ones_stay() -> None:
    table = ValueTable()
    a, b = _big(20), _big(20)
    assert a is not b
    assert table.one(a) is table.one(b) is a
    small = frozenset({Param(1)})
    assert len(small) < MIN_SHARED and table.one(small) is small


def test_a_shared_result_keeps_its_content() -> None:
    table = ValueTable()
    site = ("LA;", "m", "()V", 4)
    hit = SinkHit("network", "send", _big(20), _big(30), "netstream", _big(10), (site,))
    res = MethodResult(method=None, summary=Summary(ret=_big(20), hits=frozenset({hit}), relw=(((0, ("LA;", "f")), _big(20)),)))  # type: ignore[arg-type]
    res.hits = {hit}
    res.writes = {(("LA;", "g"), _big(20))}
    before = (set(res.hits), set(res.writes), res.summary.key())
    table.share(res)
    assert (res.hits, res.writes, res.summary.key()) == before
    shared = next(iter(res.hits)).data
    # every equal value in the result is now the same object
    assert res.summary.ret is shared and next(iter(res.writes))[1] is shared and res.summary.relw[0][1] is shared
    assert next(iter(res.summary.hits)).data is shared
