"""The intraprocedural interpreter on small methods: parameters, strong updates, exceptions, arrays."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble, make_solver, method
from toolkit.analysis.dataflow.values import Param

TM = "Landroid/telephony/TelephonyManager;"
SRC = """
.class public LT;
.super Ljava/lang/Object;

.method public static id(Ljava/lang/String;)Ljava/lang/String;
    .registers 1
    return-object p0
.end method

.method public static overwritten(Landroid/telephony/TelephonyManager;)V
    .registers 3
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const-string v0, "clean"
    const-string v1, "tag"
    invoke-static {v1, v0}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
.end method

.method public static logged(Landroid/telephony/TelephonyManager;)V
    .registers 3
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const-string v1, "tag"
    invoke-static {v1, v0}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
.end method

.method public static thrown(Landroid/telephony/TelephonyManager;)V
    .registers 4
    :try_start
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v0
    new-instance v1, Ljava/lang/RuntimeException;
    invoke-direct {v1, v0}, Ljava/lang/RuntimeException;-><init>(Ljava/lang/String;)V
    throw v1
    :try_end
    .catch Ljava/lang/RuntimeException; {:try_start .. :try_end} :handler
    :handler
    move-exception v2
    invoke-virtual {v2}, Ljava/lang/RuntimeException;->getMessage()Ljava/lang/String;
    move-result-object v2
    const-string v3, "t"
    invoke-static {v3, v2}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
.end method

.method public static slots(Landroid/telephony/TelephonyManager;)V
    .registers 5
    const/4 v0, 2
    new-array v0, v0, [Ljava/lang/String;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v1
    const/4 v2, 0
    aput-object v1, v0, v2
    const-string v1, "clean"
    const/4 v2, 1
    aput-object v1, v0, v2
    aget-object v3, v0, v2
    const-string v4, "t"
    invoke-static {v4, v3}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
.end method
"""


def _hits(sig: str) -> list[object]:
    dex = assemble(SRC)
    solver = make_solver(dex)
    res = solver.ensure(method(dex, sig))
    assert res is not None
    return [h for h in res.hits if any(lab[0] == "S" for lab in h.data)]


def test_a_parameter_returned_is_symbolic_in_the_summary() -> None:
    dex = assemble(SRC)
    res = make_solver(dex).ensure(method(dex, "LT;->id(Ljava/lang/String;)Ljava/lang/String;"))
    assert res is not None and Param(1) in res.summary.ret


def test_a_source_reaching_the_log_is_a_hit() -> None:
    hits = _hits(f"LT;->logged({TM})V")
    assert len(hits) == 1 and hits[0].kind == "log"  # type: ignore[attr-defined]


def test_a_local_overwritten_before_the_sink_is_not_a_hit() -> None:
    assert _hits(f"LT;->overwritten({TM})V") == []


def test_a_value_thrown_reaches_the_handler() -> None:
    assert len(_hits(f"LT;->thrown({TM})V")) == 1


def test_array_slots_with_constant_indexes_are_kept_apart() -> None:
    assert _hits(f"LT;->slots({TM})V") == []  # slot 1 holds "clean"; the IMEI is in slot 0
