"""The program view: type filtering of app objects by declared types."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble
from toolkit.analysis.catalogue import load_catalogue
from toolkit.analysis.dataflow.program import Program
from toolkit.analysis.dataflow.values import AppObject, Source

CLASSES = """
.class public LBase;
.super Ljava/lang/Object;
# ---
.class public LImpl;
.super LBase;
.implements Ljava/lang/Runnable;

.method public run()V
    .registers 1
    return-void
.end method
# ---
.class public LOther;
.super Ljava/lang/Object;
"""


def test_an_app_object_is_kept_only_where_its_type_fits() -> None:
    program = Program([assemble(CLASSES)], load_catalogue())
    assert program.may_be("LImpl;", "LBase;")  # its superclass
    assert program.may_be("LImpl;", "Ljava/lang/Runnable;")  # a library interface: kept
    assert program.may_be("LImpl;", "Ljava/lang/Object;")
    assert not program.may_be("LImpl;", "LOther;")  # an unrelated app class
    assert not program.may_be("LImpl;", "I") and not program.may_be("LImpl;", "[LImpl;")  # primitive, array
    assert not program.may_be("LImpl;", "Ljava/lang/String;")  # a final library class (models.yml final_types)
    value = frozenset({AppObject("LImpl;"), Source(1)})
    assert program.typed(value, "Ljava/lang/String;") == frozenset({Source(1)})  # the data stays
    assert program.typed(value, "LBase;") is value


FLAGS = """
.class public LF;
.super Ljava/lang/Object;

.field public static NEVER:Z
.field public static final DEBUG:Z
.field public static ON:Z
.field public static LEVEL:I
.field public static ANY:I

.method static constructor <clinit>()V
    .registers 1
    const/4 v0, 0x0
    sput-boolean v0, LF;->DEBUG:Z
    const/16 v0, 0x7
    sput v0, LF;->LEVEL:I
    return-void
.end method

.method public static enable(I)V
    .registers 2
    const/4 v0, 0x1
    sput-boolean v0, LF;->ON:Z
    sput p0, LF;->ANY:I
    const/16 v0, 0x7
    sput v0, LF;->LEVEL:I
    return-void
.end method
"""


def test_a_static_field_holding_one_constant_is_read_as_that_constant() -> None:
    program = Program([assemble(FLAGS)], load_catalogue())
    assert program.static_constant("LF;", "NEVER") == 0  # never written: the default
    assert program.static_constant("LF;", "DEBUG") == 0  # a blank final set false in <clinit>
    assert program.static_constant("LF;", "LEVEL") == 7  # every write stores 7, <clinit> among them
    assert program.static_constant("LF;", "ON") is None  # false by default, true once enable() ran
    assert program.static_constant("LF;", "ANY") is None  # written with a parameter
