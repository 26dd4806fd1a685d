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
