"""Summaries applied at call sites: substitution of parameters, keyed reads, concatenations; parameter cells."""

from __future__ import annotations

from toolkit.analysis.dataflow.summary import Substitution, param_cell, to_param_cells
from toolkit.analysis.dataflow.values import (
    EMPTY,
    AppObject,
    Cell,
    CellAt,
    ConcatParam,
    Const,
    Keyed,
    LibObject,
    Param,
    ParamAt,
    ParamObject,
    Source,
)


def test_parameters_take_the_callers_data_and_identity_separately() -> None:
    args = [frozenset({ParamObject(0), AppObject("LMain;")}), frozenset({Source(7), LibObject(4)})]
    sub = Substitution(args)
    assert sub.apply(frozenset({Param(1)})) == frozenset({Source(7)})  # data, not the object's identity
    assert sub.apply(frozenset({ParamObject(1)})) == frozenset({LibObject(4)})  # identity only
    assert sub.apply(frozenset({Keyed("k", Param(1))})) == frozenset({Keyed("k", Source(7))})


def test_keyed_reads_and_concatenations_complete_at_the_call_site() -> None:
    args = [EMPTY, frozenset({Keyed("imei", Source(1)), Keyed("other", Source(2))}), frozenset({Const("/p")})]
    sub = Substitution(args)
    assert sub.apply(frozenset({ParamAt(1, "imei")})) == frozenset({Source(1)})
    assert sub.apply(frozenset({ConcatParam("http://h", 2)})) == frozenset({Const("http://h/p")})
    value = frozenset({Const("x")})
    assert sub.apply(value) is value  # nothing symbolic: the same object back


def test_writes_resolve_through_parameter_cells() -> None:
    used: set[int] = set()
    out = to_param_cells(frozenset({Param(2), ParamAt(1, "k"), Const("c"), ParamObject(1)}), "LA;->f(II)V", used)
    assert out == frozenset({Cell(param_cell("LA;->f(II)V", 2)), CellAt(param_cell("LA;->f(II)V", 1), "k"), Const("c")})
    assert used == {1, 2}
    assert to_param_cells(frozenset({ConcatParam("http://", 1)}), "LA;->f(I)V", set()) is None  # call site completes it
    # a value left symbolic reads no parameter cell: none is recorded, whatever order its labels iterate in
    used = set()
    assert to_param_cells(frozenset({Param(1), Param(2), ParamAt(3, "k"), ConcatParam("http://", 2)}), "LA;->f(III)V", used) is None
    assert used == set()


def test_join_covers_both_summaries_and_keeps_only_shared_promises() -> None:
    from toolkit.analysis.dataflow.summary import Summary

    a = Summary(ret=frozenset({Param(1)}), mutations={1: frozenset({Const("x")})},
                relm=(((1, ("LA;", "f")), frozenset({Param(2)})),), fld_out=((("LA;", "g"), frozenset({Const("1")})),))
    b = Summary(ret=frozenset({Param(2)}), mutations={2: frozenset({Param(1)})},
                relm=(((1, ("LA;", "f")), frozenset({Const("y")})),),
                fld_out=((("LA;", "g"), frozenset({Const("2")})), (("LA;", "h"), frozenset({Const("3")}))))
    j = a.join(b)
    assert j.ret == frozenset({Param(1), Param(2)})
    assert j.mutations == {1: frozenset({Const("x")}), 2: frozenset({Param(1)})}
    assert j.relm == (((1, ("LA;", "f")), frozenset({Param(2), Const("y")})),)
    # "always sets g" holds in both (either value); "always sets h" only in b, so not after the join
    assert j.fld_out == ((("LA;", "g"), frozenset({Const("1"), Const("2")})),)
    assert j.join(a).key() == j.key() and j.join(b).key() == j.key()  # a fixpoint: joining again changes nothing


def test_hits_merge_per_sink_site_keeping_the_shortest_path() -> None:
    from toolkit.analysis.dataflow.summary import SinkHit, merge_hits

    site = ("LA;", "f", "()V", 4)
    short = SinkHit("log", "Log.d", frozenset({Param(1)}), None, None, EMPTY, (site,))
    long_ = SinkHit("log", "Log.d", frozenset({Param(2)}), None, None, frozenset({Const("u")}), (("LA;", "g", "()V", 2), site))
    other = SinkHit("network", "send", frozenset({Param(1)}), None, None, EMPTY, (site,))
    merged = merge_hits(frozenset({short, long_, other}))
    assert len(merged) == 2
    log = next(h for h in merged if h.kind == "log")
    assert log.data == frozenset({Param(1), Param(2)}) and log.endpoints == frozenset({Const("u")})
    assert log.path == (site,)
    assert other in merged


def test_the_parameters_a_value_needs_to_be_sensitive() -> None:
    from toolkit.analysis.dataflow.summary import needed_params
    from toolkit.analysis.dataflow.values import ParamField

    assert needed_params(frozenset({Param(1), ParamAt(2, "k"), Keyed("j", Param(3)), Const("c")})) == {1, 2, 3}
    assert needed_params(frozenset({Const("c"), ParamObject(1)})) == frozenset()  # never sensitive
    assert needed_params(frozenset({Param(1), Source(0)})) is None  # sensitive whatever the caller passes
    assert needed_params(frozenset({Cell(("LA;", "f"))})) is None  # a cell may hold something sensitive
    assert needed_params(frozenset({ParamField(1, ("LA;", "f"))})) is None  # resolved to the field's cell


def test_callers_reapply_a_hit_only_for_what_their_arguments_add() -> None:
    from toolkit.analysis.dataflow.summary import SinkHit, Summary
    from toolkit.analysis.dataflow.values import ParamField

    site = ("LA;", "f", "()V", 4)
    own = SinkHit("log", "Log.d", frozenset({ParamField(0, ("LA;", "f")), Source(1), Param(2)}), None, None, EMPTY, (site,))
    tagged = SinkHit("file", "write", frozenset({Source(1)}), frozenset({Param(1)}), "stream", EMPTY, (site,))
    kept = SinkHit("file", "print", frozenset({Source(1)}), frozenset({ParamField(0, ("LA;", "out"))}), "stream",
                   EMPTY, (site,))
    by_hit = {h: (needs, fields) for h, needs, fields in Summary(hits=frozenset({own, tagged, kept})).hits_by_need}
    assert by_hit[own] == ({2}, ())  # the source and the receiver's field are reported by the method's own hit
    assert by_hit[tagged] == (None, ())  # which stream it is comes from the caller
    # a stream kept in a field of parameter 0: applied only by a caller knowing that object's field
    assert by_hit[kept] == (frozenset(), ((0, ("LA;", "out")),))


def test_a_big_summary_value_substitutes_the_same_at_every_call_site() -> None:
    # values of 16 labels or more take the memoised scan: two call sites, two different arguments
    value = frozenset({Param(1), Keyed("k", Param(1)), *(Const(f"c{i}") for i in range(30))})
    first = Substitution([EMPTY, frozenset({Source(3)})]).apply(value)
    second = Substitution([EMPTY, frozenset({Source(4)})]).apply(value)
    consts = {Const(f"c{i}") for i in range(30)}
    assert first == {Source(3), Keyed("k", Source(3)), *consts}
    assert second == {Source(4), Keyed("k", Source(4)), *consts}
