"""The solver: summaries bottom-up with a worklist, no recursion (a 2,000-call chain), recursion converging,
and oversized methods recorded as a limit."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble, make_solver, method
from toolkit.analysis.dataflow import solver as solver_module
from toolkit.analysis.dataflow.values import Keyed, Source

TM = "Landroid/telephony/TelephonyManager;"
DEPTH = 2000


def _chain_source(depth: int) -> str:
    parts = [f"""
.class public LC;
.super Ljava/lang/Object;

.method public static top({TM})V
    .registers 2
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    invoke-static {{v0}}, LC;->c0(Ljava/lang/String;)V
    return-void
.end method
"""]
    for i in range(depth - 1):
        parts.append(f"""
.method public static c{i}(Ljava/lang/String;)V
    .registers 1
    invoke-static {{p0}}, LC;->c{i + 1}(Ljava/lang/String;)V
    return-void
.end method
""")
    parts.append(f"""
.method public static c{depth - 1}(Ljava/lang/String;)V
    .registers 2
    const-string v0, "t"
    invoke-static {{v0, p0}}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
.end method
""")
    return "".join(parts)


def test_a_chain_of_two_thousand_calls_is_followed_to_the_sink() -> None:
    dex = assemble(_chain_source(DEPTH))
    solver = make_solver(dex)
    res = solver.ensure(method(dex, f"LC;->top({TM})V"))
    assert res is not None
    hits = [h for h in res.hits if any(lab[0] == "S" for lab in h.data)]
    assert len(hits) == 1 and hits[0].kind == "log"
    assert len(hits[0].path) == 24  # the path is cut for the report, not the analysis
    assert not solver.limits.hits
    assert len(solver.results) == DEPTH + 1


RECURSIVE = f"""
.class public LR;
.super Ljava/lang/Object;

.method public static even(ILjava/lang/String;)Ljava/lang/String;
    .registers 3
    if-eqz p0, :done
    add-int/lit8 v0, p0, -0x1
    invoke-static {{v0, p1}}, LR;->odd(ILjava/lang/String;)Ljava/lang/String;
    move-result-object v1
    return-object v1
    :done
    return-object p1
.end method

.method public static odd(ILjava/lang/String;)Ljava/lang/String;
    .registers 3
    add-int/lit8 v0, p0, -0x1
    invoke-static {{v0, p1}}, LR;->even(ILjava/lang/String;)Ljava/lang/String;
    move-result-object v1
    return-object v1
.end method

.method public static top({TM})V
    .registers 4
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const/16 v1, 0x20
    invoke-static {{v1, v0}}, LR;->even(ILjava/lang/String;)Ljava/lang/String;
    move-result-object v2
    const-string v3, "t"
    invoke-static {{v3, v2}}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
.end method
"""


def test_mutual_recursion_converges_to_the_right_summary() -> None:
    dex = assemble(RECURSIVE)
    solver = make_solver(dex)
    res = solver.ensure(method(dex, f"LR;->top({TM})V"))
    assert res is not None
    assert [h.kind for h in res.hits if any(lab[0] == "S" for lab in h.data)] == ["log"]
    assert "fixpoint_rounds" not in solver.limits.hits
    assert solver.analysis_count["LR;->odd(ILjava/lang/String;)Ljava/lang/String;"] <= 4


def test_an_oversized_method_is_recorded_not_silently_skipped(monkeypatch) -> None:  # noqa: ANN001
    dex = assemble(RECURSIVE)
    monkeypatch.setattr(solver_module, "MAX_METHOD_UNITS", 3)
    solver = make_solver(dex)
    solver.ensure(method(dex, f"LR;->top({TM})V"))
    assert "method_size" in solver.limits.hits


# A method that calls itself at two sites and sends an intent carrying the IMEI: every round used to make paths
# one call longer, twice as many (2^rounds intents); one intent per site and data is kept, the shortest path.
TWICE_RECURSIVE = f"""
.class public LT;
.super Ljava/lang/Object;

.method public static loop(Landroid/content/Context;Landroid/content/Intent;I)V
    .registers 4
    if-eqz p2, :done
    invoke-static {{p0, p1, p2}}, LT;->loop(Landroid/content/Context;Landroid/content/Intent;I)V
    invoke-static {{p0, p1, p2}}, LT;->loop(Landroid/content/Context;Landroid/content/Intent;I)V
    :done
    invoke-virtual {{p0, p1}}, Landroid/content/Context;->sendBroadcast(Landroid/content/Intent;)V
    return-void
.end method

.method public static top(Landroid/content/Context;{TM})V
    .registers 5
    invoke-virtual {{p1}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    new-instance v1, Landroid/content/Intent;
    const-string v2, "a"
    invoke-direct {{v1, v2}}, Landroid/content/Intent;-><init>(Ljava/lang/String;)V
    invoke-virtual {{v1, v2, v0}}, Landroid/content/Intent;->putExtra(Ljava/lang/String;Ljava/lang/String;)Landroid/content/Intent;
    const/4 v3, 0x3
    invoke-static {{p0, v1, v3}}, LT;->loop(Landroid/content/Context;Landroid/content/Intent;I)V
    return-void
.end method
"""


def test_recursion_keeps_one_intent_per_site_with_the_shortest_path() -> None:
    dex = assemble(TWICE_RECURSIVE)
    solver = make_solver(dex)
    res = solver.ensure(method(dex, f"LT;->top(Landroid/content/Context;{TM})V"))
    assert res is not None
    sent = [i for i in res.iccs if Keyed("a", Source(0)) in i.intent]
    assert len(sent) == 1  # one send site, one intent: not one per path through the recursion
    assert len(sent[0].path) == 2  # top -> loop -> sendBroadcast: the shortest
    loop = solver.results["LT;->loop(Landroid/content/Context;Landroid/content/Intent;I)V"]
    assert len(loop.summary.iccs) == 1
    assert "fixpoint_rounds" not in solver.limits.hits


SWAPPING = f"""
.class public LW;
.super Ljava/lang/Object;

.method public static swap(Ljava/lang/String;Ljava/lang/String;I)V
    .registers 4
    if-eqz p2, :done
    invoke-static {{p1, p0, p2}}, LW;->swap(Ljava/lang/String;Ljava/lang/String;I)V
    :done
    const-string v0, "t"
    invoke-static {{v0, p0}}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
.end method

.method public static top({TM})V
    .registers 4
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const-string v1, "x"
    const/4 v2, 0x1
    invoke-static {{v1, v0, v2}}, LW;->swap(Ljava/lang/String;Ljava/lang/String;I)V
    return-void
.end method
"""


def test_a_method_calling_itself_applies_its_own_summary() -> None:
    # swap(a, b) logs a, and calls swap(b, a): what the caller passes as b is logged too, one call deeper
    dex = assemble(SWAPPING)
    solver = make_solver(dex)
    res = solver.ensure(method(dex, f"LW;->top({TM})V"))
    assert res is not None
    hits = [h for h in res.hits if Source(0) in h.data]
    assert [h.kind for h in hits] == ["log"]
    assert len(hits[0].path) == 3  # top -> swap -> swap -> Log.d


def test_a_summary_still_changing_after_the_round_bound_is_recorded(monkeypatch) -> None:  # noqa: ANN001
    dex = assemble(RECURSIVE)
    monkeypatch.setattr(solver_module, "MAX_ROUNDS", 1)
    solver = make_solver(dex)
    solver.ensure(method(dex, f"LR;->top({TM})V"))
    assert "fixpoint_rounds" in solver.limits.hits
    assert max(solver.change_count.values()) == 1
