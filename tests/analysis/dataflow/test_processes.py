"""Processes (android:process): which process each method runs in, and the cells it sees there."""

from __future__ import annotations

from types import SimpleNamespace

from toolkit.analysis.dataflow.cells import CellTables
from toolkit.analysis.dataflow.entries import Entry
from toolkit.analysis.dataflow.limits import Limits
from toolkit.analysis.dataflow.processes import ProcessCells, per_process
from toolkit.analysis.dataflow.summary import MethodResult, Summary
from toolkit.analysis.dataflow.values import UNCAUGHT, Cell, Source, channel_cell
from toolkit.models import Component

REMOTE = "pkg:remote"
ON_CREATE, UPLOAD, ON_START, LOG, CLINIT = ("LA;->onCreate()V", "LU;->get()V", "LR;->onStart()V", "LL;->log()V",
                                            "LH;-><clinit>()V")
HELD = ("LH;", "id")


def _cells(processes: list[str | None], writes: dict[str, set]) -> ProcessCells:
    activity = Component(kind="activity", name="A", exported=True)
    service = Component(kind="service", name="R", exported=False, process=REMOTE)
    entries = {ON_CREATE: [Entry(activity, "activity")], ON_START: [Entry(service, "service")],
               CLINIT: [Entry(None, "static_init")]}
    edges = {ON_CREATE: {(UPLOAD, "call"), (ON_START, "icc")}, ON_START: {(LOG, "call")}}
    results = {}
    for sig, w in writes.items():
        res = MethodResult(method=None, summary=Summary())  # type: ignore[arg-type]
        res.writes = w
        results[sig] = res
    reach = {ON_CREATE, UPLOAD, ON_START, LOG, CLINIT}
    return ProcessCells(SimpleNamespace(results=results), entries, processes, reach, edges, CellTables(),  # type: ignore[arg-type]
                        Limits(60))


def test_each_method_runs_where_its_entries_start_it_not_where_intents_come_from() -> None:
    cells = _cells([None, REMOTE], {})
    assert cells.of[ON_CREATE] == {""} and cells.of[UPLOAD] == {""}
    assert cells.of[ON_START] == {REMOTE} and cells.of[LOG] == {REMOTE}  # the intent edge is not followed
    assert cells.of[CLINIT] == {"", REMOTE}  # no component: every process


def test_a_static_field_set_in_one_process_is_unset_in_another() -> None:
    cells = _cells([None, REMOTE], {ON_CREATE: {(HELD, frozenset({Source(0)})), (channel_cell("m"), frozenset({Source(1)}))}})
    held = frozenset({Cell(HELD)})
    assert Source(0) in cells.cells_for(UPLOAD).expand(held)
    assert Source(0) not in cells.cells_for(LOG).expand(held)
    # what crosses processes (a channel) is seen everywhere
    assert Source(1) in cells.cells_for(LOG).expand(frozenset({Cell(channel_cell("m"))}))


def test_one_process_keeps_the_app_wide_table() -> None:
    cells = _cells([None, None], {})
    assert not cells.multi and cells.cells_for(LOG) is cells.shared


def test_which_cells_are_per_process() -> None:
    assert per_process(HELD) and per_process(UNCAUGHT) and per_process(("param", "LA;->f()V", 1))
    assert not per_process(("icc", "LR;")) and not per_process(("prefs", "x")) and not per_process(channel_cell("m"))
