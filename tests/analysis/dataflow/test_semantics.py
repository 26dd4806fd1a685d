"""Library semantics handlers, each on a small method: copies between arguments (data in models.yml), keyed
containers, constant folding of strings, sinks by receiver tag, and the registry's order."""

from __future__ import annotations

from tests.analysis.dataflow.support import assemble, make_solver, method
from toolkit.analysis.catalogue import load_catalogue
from toolkit.analysis.dataflow.semantics import HANDLERS, plan_for
from toolkit.analysis.dataflow.values import Const

TM = "Landroid/telephony/TelephonyManager;"
LOG = "Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I"
SRC = f"""
.class public LS;
.super Ljava/lang/Object;

.method public static copied({TM})V
    .registers 7
    const/4 v0, 1
    new-array v1, v0, [Ljava/lang/String;
    new-array v2, v0, [Ljava/lang/String;
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v3
    const/4 v4, 0
    aput-object v3, v1, v4
    invoke-static {{v1, v4, v2, v4, v0}}, Ljava/lang/System;->arraycopy(Ljava/lang/Object;ILjava/lang/Object;II)V
    invoke-static {{v2}}, Ljava/util/Arrays;->toString([Ljava/lang/Object;)Ljava/lang/String;
    move-result-object v5
    const-string v6, "t"
    invoke-static {{v6, v5}}, {LOG}
    return-void
.end method

.method public static keyed({TM})V
    .registers 5
    new-instance v0, Landroid/os/Bundle;
    invoke-direct {{v0}}, Landroid/os/Bundle;-><init>()V
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v1
    const-string v2, "imei"
    invoke-virtual {{v0, v2, v1}}, Landroid/os/Bundle;->putString(Ljava/lang/String;Ljava/lang/String;)V
    const-string v2, "name"
    invoke-virtual {{v0, v2}}, Landroid/os/Bundle;->getString(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v3
    const-string v4, "t"
    invoke-static {{v4, v3}}, {LOG}
    return-void
.end method

.method public static url()Ljava/lang/String;
    .registers 2
    new-instance v0, Ljava/lang/StringBuilder;
    const-string v1, "http://collect.example"
    invoke-direct {{v0, v1}}, Ljava/lang/StringBuilder;-><init>(Ljava/lang/String;)V
    const-string v1, "/imei"
    invoke-virtual {{v0, v1}}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {{v0}}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v0
    return-object v0
.end method

.method public static notastream({TM})Ljava/lang/String;
    .registers 3
    new-instance v0, Ljava/lang/StringBuilder;
    invoke-direct {{v0}}, Ljava/lang/StringBuilder;-><init>()V
    invoke-virtual {{p0}}, {TM}->getDeviceId()Ljava/lang/String;
    move-result-object v1
    invoke-virtual {{v0, v1}}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {{v0}}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v0
    return-object v0
.end method
"""


def _run(sig: str):  # noqa: ANN202 - MethodResult
    dex = assemble(SRC)
    res = make_solver(dex).ensure(method(dex, sig))
    assert res is not None
    return res


def _tainted_hits(sig: str) -> list[str]:
    return sorted(h.kind for h in _run(sig).hits if any(lab[0] == "S" for lab in h.data))


def test_arraycopy_copies_into_its_destination_argument() -> None:
    assert _tainted_hits(f"LS;->copied({TM})V") == ["log"]


def test_a_bundle_read_of_another_key_is_clean() -> None:
    assert _tainted_hits(f"LS;->keyed({TM})V") == []


def test_constant_strings_fold_into_one_endpoint() -> None:
    assert Const("http://collect.example/imei") in _run("LS;->url()Ljava/lang/String;").summary.ret


def test_a_string_builder_append_is_not_a_stream_write() -> None:
    res = _run(f"LS;->notastream({TM})Ljava/lang/String;")
    assert res.hits == set()
    assert any(lab[0] == "S" for lab in res.summary.ret)


def test_the_registry_ends_with_the_default_handler() -> None:
    _run("LS;->url()Ljava/lang/String;")
    assert HANDLERS[-1][0].__name__ == "clean_or_propagate" and HANDLERS[0][0].__name__ == "read_source"


def _planned(lib: str, name: str, proto: str, static: bool = False) -> list[str]:
    return [h.__name__ for h in plan_for(load_catalogue(), lib, lib, name, proto, static).handlers]


def test_each_api_is_planned_with_the_handlers_that_can_act_on_it() -> None:
    device_id = _planned(TM, "getDeviceId", "()Ljava/lang/String;")
    assert device_id[0] == "read_source" and "fold_constants" not in device_id
    append = _planned("Ljava/lang/StringBuilder;", "append", "(Ljava/lang/String;)Ljava/lang/StringBuilder;")
    assert "fold_constants" in append and "read_source" not in append and "sink_and_icc" not in append
    assert "sink_and_icc" in _planned("Landroid/telephony/SmsManager;", "sendTextMessage",
                                      "(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Landroid/app/PendingIntent;Landroid/app/PendingIntent;)V")
    assert "run_callbacks" in _planned("Ljava/lang/Thread;", "start", "()V")
    assert _planned("Ljava/lang/Math;", "abs", "(I)I", static=True) == ["clean_or_propagate"]


def test_every_api_the_rules_name_passes_its_handlers_guard() -> None:
    cat = load_catalogue()
    named = {
        "read_source": [*cat.source_apis, *cat.provider_queries],
        "sink_and_icc": [*cat.sink_apis, *cat.icc],
        "run_callbacks": list(cat.callbacks),
        "send_on_channel": list(cat.channel_sends),
        "tags_and_transforms": [*cat.transforms, *(t for t in cat.tags if "(" not in t)],
        "copy_between_arguments": list(cat.copies),
        "serialise": list(cat.serializers),
        "reflect": [*cat.for_name, *cat.get_method, *cat.reflect_invoke, *cat.new_instance],
    }
    for handler, apis in named.items():
        for api in apis:
            lib, name = api.split("->", 1)
            for static in (False, True):
                assert handler in _planned(lib, name, "()V", static), (handler, api)
