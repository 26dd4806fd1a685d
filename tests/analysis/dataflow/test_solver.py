"""The solver: summaries bottom-up with a worklist, no recursion (a 2,000-call chain), recursion converging,
and oversized methods recorded as a limit."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble, make_solver, method
from toolkit.analysis.dataflow import solver as solver_module

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
