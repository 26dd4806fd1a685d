from __future__ import annotations

import pytest

from toolkit.inventory.settings import parse_settings
from toolkit.models.device import ParseProblem

from .conftest import raw


def test_secure_settings_android10() -> None:
    items = parse_settings(raw("android10", "settings_secure"), "secure")
    values = {s.key: s.value for s in items}
    assert all(s.namespace == "secure" for s in items)
    assert values["cloudmsg_optin"] == "1"
    assert values["bluetooth_address"] is None  # literally "null"
    assert values["enabled_accessibility_services"] == ""
    assert values["cloudmsg_token"] == "eyJ2IjoxLCJkIjoiSzdMSVRFIn0="  # '=' inside the value is kept


def test_system_value_with_equals_and_query() -> None:
    values = {s.key: s.value for s in parse_settings(raw("android10", "settings_system"), "system")}
    assert values["notification_sound"] == "content://media/internal/audio/media/31?title=Pixie%20Dust&canonical=1"
    assert values["screen_off_timeout"] == "60000"


def test_global_settings_and_keys_with_dots() -> None:
    g = {s.key: s.value for s in parse_settings(raw("android10", "settings_global"), "global")}
    assert g["cloudmsg_server"] == "47.88.10.20:8080"
    assert g["package_verifier_enable"] == "0"
    s7 = {s.key: s.value for s in parse_settings(raw("android7", "settings_secure"), "secure")}
    assert s7["lockscreen.disabled"] == "0"


def test_multiline_value_is_joined() -> None:
    values = {s.key: s.value for s in parse_settings(raw("android14", "settings_secure"), "secure")}
    assert values["cloudmsg_consent_text"] == "I agree to share device identifiers\nand usage statistics with the vendor."
    assert len(values) == 3


def test_garbage_first_line_is_reported() -> None:
    problems: list[ParseProblem] = []
    items = parse_settings("no equals here\nadb_enabled=1\n=orphan\n", "global", problems)
    assert [(s.key, s.value) for s in items] == [("adb_enabled", "1")]
    assert [p.line for p in problems] == [1, 3]
    assert problems[0].source == "settings_global"


def test_unknown_namespace_is_an_error() -> None:
    with pytest.raises(ValueError, match="namespace"):
        parse_settings("a=1\n", "vendor")
