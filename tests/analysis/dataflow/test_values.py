"""The value domain: typed labels are tagged tuples; families, predicates and the size bound."""

from __future__ import annotations

from toolkit.analysis.dataflow import values as v
from toolkit.analysis.dataflow.values import (
    CUT_COUNTER,
    AppObject,
    Cell,
    Const,
    Keyed,
    Param,
    ParamField,
    ParamObject,
    Source,
    cap,
    is_symbolic,
    is_tainted,
    join,
)


def test_labels_are_tagged_tuples_with_named_fields() -> None:
    s = Source(3)
    assert s == ("S", 3) and hash(s) == hash(("S", 3)) and s.occ == 3 and s.kind == "S"
    assert Source(3) != Param(3)  # the tag keeps kinds apart although both carry the number 3
    assert AppObject("La;").site is None and AppObject("La;", 8).site == 8 and AppObject("La;", 8) != AppObject("La;")
    kv = Keyed("imei", Source(1))
    assert kv.key == "imei" and kv.inner == Source(1)


def test_families() -> None:
    assert is_tainted({Source(0)}) and is_tainted({Cell(("Lx;", "f"))}) and is_tainted({Keyed("k", Param(1))})
    assert not is_tainted({Const("http://x"), AppObject("La;")})
    assert is_symbolic({ParamObject(2)}) and is_symbolic({Keyed("k", Param(1))})
    assert not is_symbolic({Source(0), Cell("k")})
    assert join({Source(1)}, {Const("a")}, set()) == frozenset({Source(1), Const("a")})


def test_cap_keeps_what_decides_a_flow_and_counts_the_cut() -> None:
    big = frozenset({Source(0), Cell("k")} | {Const(f"c{i}") for i in range(v.MAX_LABELS + 40)})
    counter = [0]
    token = CUT_COUNTER.set(counter)
    try:
        out = cap(big)
    finally:
        CUT_COUNTER.reset(token)
    assert len(big) > v.MAX_LABELS
    assert out == frozenset({Source(0), Cell("k")})  # every constant goes, not "the first ones": a stable cut
    assert counter == [1]
    assert cap(big | {Const("one more")}) == out  # a value that grows further is cut the same way
    small = frozenset({Source(0)})
    assert cap(small) is small


def test_a_cut_keeps_keyed_data_without_its_key_and_drops_keyed_constants() -> None:
    keyed_consts = {Keyed(f"k{i}", Const(f"v{i}")) for i in range(v.MAX_LABELS + 10)}
    value = frozenset(keyed_consts | {Keyed("imei", Source(2)), Keyed("outer", Keyed("inner", Param(1))),
                                      ParamField(1, ("La;", "f")), AppObject("La;")})
    out = cap(value)
    # the data stays (its key is lost), constants under keys go, and so does nothing else that may be data
    assert out == frozenset({Source(2), Param(1), ParamField(1, ("La;", "f")), AppObject("La;")})


def test_keyed_contents_nest_two_keys_deep_at_most() -> None:
    two = Keyed("a", Keyed("b", Source(1)))
    assert two.inner == Keyed("b", Source(1))  # json.getJSONObject("a").getString("b") keeps both keys
    deep = Keyed("a", Keyed("b", Keyed("c", Keyed("d", Source(1)))))
    assert deep == Keyed("a", Keyed("b", Source(1)))  # a recursion nesting containers cannot grow labels forever
