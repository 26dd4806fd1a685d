"""Entry points: which static initialisers can run at all."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble
from toolkit.analysis.catalogue import load_catalogue
from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.entries import compute_entries
from toolkit.models import ApkMetadata


def _flag_class(name: str, value: int) -> str:
    """A class with a static int field N set to `value` by its <clinit>."""
    return f""".class public {name}
.super Ljava/lang/Object;
.field public static N:I
.method static constructor <clinit>()V
    .registers 1
    const/4 v0, {value:#x}
    sput v0, {name}->N:I
    return-void
.end method"""


# LMain reads a static of LConfig (whose superclass LBase has a <clinit> too), creates an LTask and names LByName
# in a string (Class.forName); LUnused and LSelf have initialisers that nothing outside them names.
CLASSES = f"""
.class public LMain;
.super Ljava/lang/Object;

.method public static go()V
    .registers 2
    sget-object v0, LConfig;->URL:Ljava/lang/String;
    new-instance v1, LTask;
    const-string v0, "ByName"
    return-void
.end method
# ---
.class public LBase;
.super Ljava/lang/Object;
.field public static B:I
.method static constructor <clinit>()V
    .registers 1
    const/4 v0, 0x1
    sput v0, LBase;->B:I
    return-void
.end method
# ---
.class public LConfig;
.super LBase;
.field public static URL:Ljava/lang/String;
.method static constructor <clinit>()V
    .registers 1
    const-string v0, "http://x.example/"
    sput-object v0, LConfig;->URL:Ljava/lang/String;
    return-void
.end method
# ---
{_flag_class("LTask;", 2)}
# ---
{_flag_class("LByName;", 3)}
# ---
{_flag_class("LUnused;", 4)}
# ---
.class public LSelf;
.super Ljava/lang/Object;
.field public static N:I
.method static constructor <clinit>()V
    .registers 1
    invoke-static {{}}, LSelf;->helper()V
    return-void
.end method
.method static helper()V
    .registers 1
    sget v0, LSelf;->N:I
    return-void
.end method
"""


def test_only_initialisers_of_classes_other_code_names_are_entries() -> None:
    app = App([assemble(CLASSES)], ApkMetadata(package="x"), load_catalogue())
    assert app.initialised_classes() >= {"LConfig;", "LBase;", "LTask;", "LByName;"}
    assert not app.initialised_classes() & {"LUnused;", "LSelf;", "LMain;"}  # named only by themselves, or by none
    clinits = {sig.split("->")[0] for sig, kinds in compute_entries(app).items()
               if sig.endswith("<clinit>()V") and any(e.kind == "static_init" for e in kinds)}
    assert clinits == {"LConfig;", "LBase;", "LTask;", "LByName;"}
