"""The intraprocedural interpreter on small methods: parameters, strong updates, exceptions, arrays."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble, make_solver, method
from toolkit.analysis.dataflow.values import UNCAUGHT, Const, Param, SmallInt

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


SWITCHES = f"""
.class public LW;
.super Ljava/lang/Object;

.method public static packed({TM}I)V
    .registers 5
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const-string v1, "t"
    const/4 v2, 0x2
    packed-switch v2, :table
    return-void
    :case0
    invoke-static {{v1, v0}}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
    :case2
    return-void
    :table
    .packed-switch 0x0
        :case0
        :case_none
        :case2
    .end packed-switch
    :case_none
    return-void
.end method

.method public static sparse({TM}I)V
    .registers 5
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const-string v1, "t"
    const/16 v2, 0x64
    sparse-switch v2, :table
    invoke-static {{v1, v0}}, Landroid/util/Log;->e(Ljava/lang/String;Ljava/lang/String;)I
    return-void
    :case100
    invoke-static {{v1, v0}}, Landroid/util/Log;->w(Ljava/lang/String;Ljava/lang/String;)I
    return-void
    :case7
    invoke-static {{v1, v0}}, Landroid/util/Log;->i(Ljava/lang/String;Ljava/lang/String;)I
    return-void
    :table
    .sparse-switch
        0x7 -> :case7
        0x64 -> :case100
    .end sparse-switch
.end method

.method public static unknown({TM}I)V
    .registers 4
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const-string v1, "t"
    packed-switch p1, :table
    return-void
    :case0
    invoke-static {{v1, v0}}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    return-void
    :table
    .packed-switch 0x0
        :case0
    .end packed-switch
.end method
"""


def _switch_sinks(name: str) -> list[str]:
    dex = assemble(SWITCHES)
    res = make_solver(dex).ensure(method(dex, f"LW;->{name}({TM}I)V"))
    assert res is not None
    return sorted(h.api.split("->")[1][:1] for h in res.hits if any(lab[0] == "S" for lab in h.data))


def test_a_switch_on_a_constant_follows_only_the_matching_case() -> None:
    assert _switch_sinks("packed") == []  # the register holds 2: case 2 returns, case 0 (the log) is dead
    assert _switch_sinks("sparse") == ["w"]  # 100 matches the second key: neither the default nor case 7
    assert _switch_sinks("unknown") == ["d"]  # a parameter: every case may run


GATED = f"""
.class public LG;
.super Ljava/lang/Object;

.field public static DEBUG:Z

.method public static log({TM})V
    .registers 3
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    sget-boolean v1, LG;->DEBUG:Z
    if-eqz v1, :off
    const-string v1, "t"
    invoke-static {{v1, v0}}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    :off
    return-void
.end method
"""


def test_a_branch_on_a_static_flag_never_set_is_pruned() -> None:
    dex = assemble(GATED)
    res = make_solver(dex).ensure(method(dex, f"LG;->log({TM})V"))
    assert res is not None
    assert [h for h in res.hits if any(lab[0] == "S" for lab in h.data)] == []  # DEBUG is only ever false


ARITH = """
.class public LA;
.super Ljava/lang/Object;

.method public static cut()Ljava/lang/String;
    .registers 3
    const-string v0, "xq7getSimSerialNumberZ"
    invoke-virtual {v0}, Ljava/lang/String;->length()I
    move-result v1
    add-int/lit8 v1, v1, -0x1
    const/4 v2, 0x3
    invoke-virtual {v0, v2, v1}, Ljava/lang/String;->substring(II)Ljava/lang/String;
    move-result-object v0
    return-object v0
.end method

.method public static counter()I
    .registers 3
    const/4 v0, 0x0
    :loop
    const/16 v1, 0x64
    if-ge v0, v1, :done
    add-int/lit8 v0, v0, 0x1
    goto :loop
    :done
    return v0
.end method

.method public static product(I)I
    .registers 3
    const/16 v0, 0x6
    const/4 v1, 0x7
    mul-int v0, v0, v1
    add-int/2addr v0, p0
    return v0
.end method
"""


def test_int_arithmetic_on_single_constants_folds_and_loop_counters_stop() -> None:
    dex = assemble(ARITH)
    solver = make_solver(dex)
    cut = solver.ensure(method(dex, "LA;->cut()Ljava/lang/String;"))
    assert cut is not None and cut.summary.ret == frozenset({Const("getSimSerialNumber")})  # length() - 1 = 21
    counter = solver.ensure(method(dex, "LA;->counter()I"))
    assert counter is not None and counter.summary.ret == frozenset({SmallInt(0), SmallInt(1)})  # no 2, 3 ... 100
    product = solver.ensure(method(dex, "LA;->product(I)I"))
    assert product is not None and product.summary.ret == frozenset({Param(1)})  # 42 + p: data, no constant


# table = new String[2][3] (dx: Array.newInstance(String.class, {2, 3})); table[1][2] = imei; table[0][2] = "clean"
_GRID_FILL = f"""
    .registers 6
    const/4 v0, 0x2
    const/4 v1, 0x3
    filled-new-array {{v0, v1}}, [I
    move-result-object v0
    const-class v1, Ljava/lang/String;
    invoke-static {{v1, v0}}, Ljava/lang/reflect/Array;->newInstance(Ljava/lang/Class;[I)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, [[Ljava/lang/String;
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v2
    const/4 v3, 0x1
    aget-object v4, v0, v3
    const/4 v5, 0x2
    aput-object v2, v4, v5
    const-string v2, "clean"
    const/4 v3, 0x0
    aget-object v4, v0, v3
    aput-object v2, v4, v5
"""
GRID = f"""
.class public LM;
.super Ljava/lang/Object;

.method public static cell({TM})Ljava/lang/String;
{_GRID_FILL}
    const/4 v3, 0x1
    aget-object v4, v0, v3
    aget-object v2, v4, v5
    return-object v2
.end method

.method public static other({TM})Ljava/lang/String;
{_GRID_FILL}
    aget-object v2, v4, v5
    return-object v2
.end method
"""


def test_rows_of_a_multi_dimensional_array_keep_their_own_slots() -> None:
    dex = assemble(GRID)
    solver = make_solver(dex)
    cell = solver.ensure(method(dex, f"LM;->cell({TM})Ljava/lang/String;"))
    assert cell is not None and any(lab[0] == "S" for lab in cell.summary.ret)  # table[1][2] holds the IMEI
    other = solver.ensure(method(dex, f"LM;->other({TM})Ljava/lang/String;"))
    assert other is not None and other.summary.ret == frozenset({Const("clean")})  # table[0][2]: another row


UNCAUGHT_SRC = f"""
.class public LU;
.super Ljava/lang/Object;

.method public static loose({TM})V
    .registers 3
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    new-instance v1, Ljava/lang/IllegalStateException;
    invoke-direct {{v1, v0}}, Ljava/lang/IllegalStateException;-><init>(Ljava/lang/String;)V
    throw v1
.end method

.method public static guarded({TM})V
    .registers 3
    :try_start
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v0
    new-instance v1, Ljava/lang/IllegalStateException;
    invoke-direct {{v1, v0}}, Ljava/lang/IllegalStateException;-><init>(Ljava/lang/String;)V
    throw v1
    :try_end
    .catch Ljava/lang/IllegalStateException; {{:try_start .. :try_end}} :handler
    :handler
    return-void
.end method
"""


def test_an_exception_leaving_an_entry_point_outside_any_try_is_uncaught() -> None:
    dex = assemble(UNCAUGHT_SRC)
    solver = make_solver(dex)
    solver.entry_sigs = frozenset({f"LU;->loose({TM})V", f"LU;->guarded({TM})V"})
    loose = solver.ensure(method(dex, f"LU;->loose({TM})V"))
    assert loose is not None and any(key == UNCAUGHT and any(lab[0] == "S" for lab in v) for key, v in loose.writes)
    guarded = solver.ensure(method(dex, f"LU;->guarded({TM})V"))
    assert guarded is not None and not any(key == UNCAUGHT for key, _v in guarded.writes)  # caught in the method


BOX = f"""
.class public LBox;
.super Ljava/lang/Object;

.field final arr:[Ljava/lang/String;

.method public constructor <init>([Ljava/lang/String;)V
    .registers 2
    invoke-direct {{p0}}, Ljava/lang/Object;-><init>()V
    iput-object p1, p0, LBox;->arr:[Ljava/lang/String;
    return-void
.end method

.method public fill({TM})V
    .registers 4
    iget-object v0, p0, LBox;->arr:[Ljava/lang/String;
    invoke-virtual {{p1}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v1
    const/4 v2, 0x0
    aput-object v1, v0, v2
    return-void
.end method

.method public static caller({TM})Ljava/lang/String;
    .registers 5
    const/4 v0, 0x1
    new-array v0, v0, [Ljava/lang/String;
    new-instance v1, LBox;
    invoke-direct {{v1, v0}}, LBox;-><init>([Ljava/lang/String;)V
    invoke-virtual {{v1, p0}}, LBox;->fill({TM})V
    const/4 v2, 0x0
    aget-object v3, v0, v2
    return-object v3
.end method
"""


def test_a_callee_writing_into_an_array_kept_in_a_local_objects_field_reaches_the_array() -> None:
    dex = assemble(BOX)
    res = make_solver(dex).ensure(method(dex, f"LBox;->caller({TM})Ljava/lang/String;"))
    assert res is not None and any(lab[0] == "S" for lab in res.summary.ret)  # box[0] after box.fill()
