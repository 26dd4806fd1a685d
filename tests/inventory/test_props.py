from __future__ import annotations

from toolkit.inventory.props import identity_from_props, parse_props, product_prop
from toolkit.models.device import ParseProblem

from .conftest import DATA, raw


def test_getprop_android10_identity() -> None:
    props = parse_props(raw("android10", "getprop"))
    assert props["vendor.cloudmsg.server"] == "47.88.10.20:8080"
    ident = identity_from_props(props, "Enforcing\n")
    assert ident.brand == "Kestrel"
    assert ident.manufacturer == "Kestrel Mobile"
    assert ident.model == "K7 Lite"  # ro.product.model, not the vendor partition's alps board name
    assert ident.device == "k7lite"
    assert ident.fingerprint == "Kestrel/k7lite/k7lite:10/QP1A.190711.020/1599984000:user/release-keys"
    assert ident.android_version == "10"
    assert ident.sdk == 29
    assert ident.security_patch == "2020-09-05"
    assert ident.build_id == "QP1A.190711.020"
    assert ident.serial == "KST7L0042"
    assert ident.selinux == "Enforcing"
    assert (ident.build_type, ident.build_tags) == ("user", "release-keys")


def test_getprop_multiline_value_and_empty_value() -> None:
    props = parse_props(raw("android7", "getprop"))
    assert props["ro.custom.build.version"] == "K5_V2.1\nrelease 20170706"
    assert props["ro.product.board"] == ""
    assert props["sys.boot_completed"] == "1"  # the line after the multi-line value is read normally
    assert identity_from_props(props).sdk == 24


def test_serial_falls_back_to_boot_serialno() -> None:
    props = parse_props(raw("android14", "getprop"))
    assert props["ro.serialno"] == ""
    assert identity_from_props(props).serial == "R5CW30ABCDE"


def test_build_prop_comments_imports_optional_and_fallbacks() -> None:
    problems: list[ParseProblem] = []
    system = parse_props((DATA / "build_prop" / "system_build.prop").read_text(), problems, "system/build.prop")
    vendor = parse_props((DATA / "build_prop" / "vendor_build.prop").read_text(), problems, "vendor/build.prop")
    assert problems == []
    assert "import" not in " ".join(system)
    assert system["ro.wifi.channels"] == ""
    assert system["ro.config.ringtone"] == "Kestrel_Tune.ogg"  # `?=` is overridden by a later `=`
    assert system["ro.vendor.cloudmsg.endpoint"] == "http://47.88.10.20:8080/api/v2/report"
    # system build.prop alone: model from ro.product.system.*, fingerprint derived as init does
    ident = identity_from_props(system)
    assert ident.model == "mainline"
    assert ident.brand == "Kestrel"
    assert ident.fingerprint == "Kestrel/k9_eea/k9:12/SP1A.210812.016/V3.02:user/release-keys"
    # with the vendor partition: Android's source order puts vendor before system
    merged = {**vendor, **system}
    assert product_prop(merged, "model") == "K9 Pro"
    assert identity_from_props(merged).security_patch == "2022-03-05"


def test_optional_assignment_does_not_override() -> None:
    assert parse_props("ro.a=1\nro.a?=2\n") == {"ro.a": "1"}
    assert parse_props("ro.a?=2\n") == {"ro.a": "2"}


def test_property_source_order_is_honoured() -> None:
    props = {"ro.product.system.model": "S", "ro.product.vendor.model": "V",
             "ro.product.property_source_order": "system,vendor"}
    assert product_prop(props, "model") == "S"


def test_partition_fingerprint_fallback() -> None:
    ident = identity_from_props({"ro.vendor.build.fingerprint": "a/b/c:11/X/1:user/release-keys",
                                 "ro.vendor.build.security_patch": "2021-01-05"})
    assert ident.fingerprint == "a/b/c:11/X/1:user/release-keys"
    assert ident.security_patch == "2021-01-05"


def test_garbage_lines_are_reported_and_the_rest_kept() -> None:
    problems: list[ParseProblem] = []
    props = parse_props("[ro.a]: [1]\nthis is not a property\n[ro.b]: [2]\n[broken\n", problems, "getprop")
    assert props == {"ro.a": "1", "ro.b": "2"}
    assert [(p.source, p.line) for p in problems] == [("getprop", 2), ("getprop", 4)]
    assert "not a property line" in problems[0].reason


def test_truncated_multiline_value_is_reported() -> None:
    problems: list[ParseProblem] = []
    props = parse_props("[ro.a]: [1]\n[ro.b]: [first line\nsecond", problems)
    assert props["ro.b"] == "first line\nsecond"
    assert len(problems) == 1 and "not terminated" in problems[0].reason


def test_crlf_output() -> None:
    assert parse_props("[ro.build.id]: [NRD90M]\r\n[ro.serialno]: [X]\r\n") == {"ro.build.id": "NRD90M", "ro.serialno": "X"}


def test_empty_identity() -> None:
    ident = identity_from_props({})
    assert ident.model is None and ident.sdk is None and ident.selinux is None
