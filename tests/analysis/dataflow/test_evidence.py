"""Flow evidence: triggers are kept once each, in order (compared by value, not as models one by one)."""

from __future__ import annotations

from toolkit.analysis.dataflow.evidence import add_triggers, trigger_key
from toolkit.models import Trigger


def test_triggers_are_added_once_each_in_order() -> None:
    into = [Trigger(kind="launcher", component="a.Main")]
    add_triggers(into, [Trigger(kind="boot", component="a.Boot", actions=["android.intent.action.BOOT_COMPLETED"]),
                        Trigger(kind="launcher", component="a.Main"),
                        Trigger(kind="boot", component="a.Boot", actions=["android.intent.action.BOOT_COMPLETED"]),
                        Trigger(kind="boot", component="a.Boot", actions=["other"])])
    assert [(t.kind, t.actions) for t in into] == [
        ("launcher", []), ("boot", ["android.intent.action.BOOT_COMPLETED"]), ("boot", ["other"])]
    assert trigger_key(Trigger(kind="alarm", period_seconds=1800)) != trigger_key(Trigger(kind="alarm", period_seconds=60))
