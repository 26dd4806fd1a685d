"""Entry points: which static initialisers can run at all."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble
from toolkit.analysis.catalogue import load_catalogue
from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.entries import compute_entries
from toolkit.models import ApkMetadata

# LMain reads a static of LConfig (whose superclass LBase has a <clinit> too), creates an LTask and names LByName
# in a string (Class.forName); LUnused and LSelf have initialisers that nothing outside them names.
CLASSES = """
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
.class public LTask;
.super Ljava/lang/Object;
.field public static N:I
.method static constructor <clinit>()V
    .registers 1
    const/4 v0, 0x2
    sput v0, LTask;->N:I
    return-void
.end method
# ---
.class public LByName;
.super Ljava/lang/Object;
.field public static N:I
.method static constructor <clinit>()V
    .registers 1
    const/4 v0, 0x3
    sput v0, LByName;->N:I
    return-void
.end method
# ---
.class public LUnused;
.super Ljava/lang/Object;
.field public static N:I
.method static constructor <clinit>()V
    .registers 1
    const/4 v0, 0x4
    sput v0, LUnused;->N:I
    return-void
.end method
# ---
.class public LSelf;
.super Ljava/lang/Object;
.field public static N:I
.method static constructor <clinit>()V
    .registers 1
    invoke-static {}, LSelf;->helper()V
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
