"""Global cells: taint spreading through cells as results arrive, and memoised expansion."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble
from toolkit.analysis.catalogue import load_catalogue
from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.cells import CellTables, IccRouting, TaintTracker, carries
from toolkit.analysis.dataflow.summary import MethodResult, Summary
from toolkit.analysis.dataflow.values import Cell, CellAt, Const, Keyed, Source
from toolkit.models import ApkMetadata

DEX = ".class public LX;\n.super Ljava/lang/Object;\n.method public static f()V\n.registers 0\nreturn-void\n.end method\n"


def _result(writes: set) -> MethodResult:  # noqa: ANN001
    dex = assemble(DEX)
    res = MethodResult(next(iter(dex.classes["LX;"].methods.values())), Summary())
    res.writes = writes
    return res


def test_taint_spreads_through_cells_whatever_the_order_results_arrive_in() -> None:
    app = App([assemble(DEX)], ApkMetadata(package="x"), load_catalogue())
    tracker = TaintTracker(IccRouting(app))
    tracker.absorb(_result({(("LB;", "g"), frozenset({Cell(("LA;", "f"))}))}))  # g = f, before f is tainted
    assert tracker.tainted == set()
    tracker.absorb(_result({(("LA;", "f"), frozenset({Source(0)}))}))
    assert tracker.tainted == {("LA;", "f"), ("LB;", "g")}
    assert tracker.take_fresh() == [("LA;", "f"), ("LB;", "g")] and tracker.take_fresh() == []
    assert carries({CellAt(("LB;", "g"), "k")}, tracker.tainted) and not carries({Cell(("LC;", "h"))}, tracker.tainted)


def test_expansion_is_memoised_until_a_table_grows() -> None:
    cells = CellTables()
    cells.add("a", {Cell("b"), Const("x")})
    cells.add("b", {Keyed("imei", Source(1))})
    value = frozenset({Cell("a"), CellAt("b", "imei")})
    first = cells.expand(value)
    assert first == frozenset({Const("x"), Keyed("imei", Source(1)), Source(1)})
    assert cells.expand(value) is first  # memoised
    assert not cells.add("a", {Const("x")})  # nothing new: the memo stays
    assert cells.add("b", {Source(2)})
    assert Source(2) in cells.expand(value)


def test_a_value_may_carry_a_source_only_through_cells_that_reach_one() -> None:
    from toolkit.analysis.dataflow.values import ParamField

    cells = CellTables()
    cells.add(("LA;", "imei"), [Source(3)])
    cells.add(("LA;", "copy"), [Keyed("k", Cell(("LA;", "imei")))])  # reaches the source through a keyed cell
    cells.add(("LA;", "loop1"), [Cell(("LA;", "loop2")), Const("x")])  # a cycle with no source in it
    cells.add(("LA;", "loop2"), [Cell(("LA;", "loop1"))])
    assert cells.may_carry_source(frozenset({Cell(("LA;", "copy"))}))
    assert cells.may_carry_source(frozenset({CellAt(("LA;", "imei"), "k")}))
    assert cells.may_carry_source(frozenset({ParamField(1, ("LA;", "imei"))}))  # field-based when unresolved
    assert not cells.may_carry_source(frozenset({Cell(("LA;", "loop1")), Const("y")}))
    assert not cells.may_carry_source(frozenset({Cell(("LZ;", "unknown"))}))
    # the cycle later reaches the source: the answer follows the tables
    cells.add(("LA;", "loop2"), [Cell(("LA;", "copy"))])
    assert cells.may_carry_source(frozenset({Cell(("LA;", "loop1"))}))
