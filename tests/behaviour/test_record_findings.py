"""Findings from the phone's records alone, and `observed` marks on static flows, from realistic raw outputs
(tests/inventory/data) parsed by the real parsers."""

from __future__ import annotations

from pathlib import Path

from tests.inventory.conftest import outputs
from toolkit.behaviour.findings import record_findings, uid_periods
from toolkit.behaviour.observed import apply_records
from toolkit.inventory import build_inventory
from toolkit.models import ScanResult
from toolkit.models.common import Severity

SCAN_RESULT = Path(__file__).resolve().parents[1] / "report" / "data" / "scan_result.json"


def _netstats_every(period: int, bucket: int, uid: int, hours: int = 24, start: int = 1600473600) -> str:
    lines = ["UID stats:", "  Pending bytes: 0", "  Complete history:",
             f"  ident=[{{type=WIFI, subType=COMBINED, networkId=\"HomeNet\", metered=false}}] uid={uid} "
             "set=DEFAULT tag=0x0", f"    NetworkStatsHistory: bucketDuration={bucket}"]
    for i, t in enumerate(range(start + 240, start + hours * 3600, period)):
        tx = (920, 30100, 2210, 14800)[i % 4]
        lines.append(f"      st={t - t % bucket} rb={tx // 3} rp=3 tb={tx} tp=5 op=0")
    return "\n".join(lines) + "\n"


def test_record_findings_on_android10_outputs() -> None:
    inv = build_inventory(outputs("android10"))
    findings, rules = record_findings(inv)
    by_rule: dict[str, list[str]] = {}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f.package or "")
    # The preinstalled cloud-messaging app read SMS minutes before the dump and was never used; the messenger the
    # person uses (not preinstalled) and the platform packages are not reported.
    assert sorted(by_rule["appops-source-access-by-preinstalled-app"]) == ["com.vendor.appstore",
                                                                         "com.vendor.cloudmsg"]
    cloud = next(f for f in findings if f.package == "com.vendor.cloudmsg" and f.rule_id.startswith("appops"))
    assert "READ_SMS at 2020-09-20 14:26:50" in cloud.message and cloud.severity is Severity.high
    assert "never used in the foreground" in cloud.message
    powers = [f.message for f in findings if f.rule_id == "power-not-chosen-by-user"]
    assert any("enabled notification listener" in m for m in powers)
    assert any("enabled accessibility service" in m for m in powers)
    assert not any("com.android." in m for m in powers)
    assert {r.id for r in rules} == set(by_rule)
    # Android's default 2-hour buckets cannot show a 30-minute period: no periodic finding from this output.
    assert "periodic-background-network-use" not in by_rule


def test_default_sms_app_reading_sms_is_expected() -> None:
    inv = build_inventory(outputs("android14"))  # there cloudmsg holds the SMS role
    findings, _ = record_findings(inv)
    cloud = next(f for f in findings if f.package == "com.vendor.cloudmsg" and f.rule_id.startswith("appops"))
    assert "READ_SMS" not in cloud.message and "READ_CALL_LOG" in cloud.message
    assert any(f.rule_id == "power-not-chosen-by-user" and "the default SMS app" in f.message for f in findings)


def test_periodic_network_use_with_fine_buckets() -> None:
    raw = outputs("android10")
    raw["dumpsys_netstats"] = _netstats_every(1800, 900, 1000)
    inv = build_inventory(raw)
    periods = {p.uid: p for p in uid_periods(inv.usage)}  # type: ignore[arg-type]
    assert periods[1000].verdict.periodic and periods[1000].verdict.period_seconds == 1800
    findings, _ = record_findings(inv)
    periodic = [f for f in findings if f.rule_id == "periodic-background-network-use"]
    assert len(periodic) == 1
    msg = periodic[0].message
    assert "every 30 min" in msg and "920 B–30.1 KB" in msg and "100% in the background" in msg
    assert "com.vendor.cloudmsg" in msg


def test_observed_marks_from_records() -> None:
    result = ScanResult.model_validate_json(SCAN_RESULT.read_text(encoding="utf-8"))
    raw = outputs("android10")
    raw["dumpsys_netstats"] = _netstats_every(1800, 900, 10087)  # the flashlight's uid, alarm every 1800 s
    result.inventory = build_inventory(raw)
    apply_records(result)
    flows = {f.id: f for a in result.apks for f in a.flows}
    imei = {o.kind for o in flows["f-3c1e0b7a"].observed}
    assert "appops" in imei  # READ_PHONE_STATE accessed by cloudmsg
    contacts = flows["f-51a9e6d3"].observed
    assert [o.kind for o in contacts] == ["appops"] and "READ_CONTACTS" in contacts[0].summary
    flash = {o.kind: o for o in flows["f-a07c93e1"].observed}
    assert "netstats" in flash and "every 30 min" in flash["netstats"].summary
    assert any("alarm" in e for e in flash["netstats"].evidence)
    assert any(f.rule_id == "periodic-background-network-use" for f in result.device_findings)


def test_observed_needs_a_matching_period() -> None:
    result = ScanResult.model_validate_json(SCAN_RESULT.read_text(encoding="utf-8"))
    raw = outputs("android10")
    raw["dumpsys_netstats"] = _netstats_every(3600 * 3, 900, 10087, hours=48)  # every 3 h, code says 30 min
    result.inventory = build_inventory(raw)
    apply_records(result)
    flash = next(f for a in result.apks for f in a.flows if f.id == "f-a07c93e1")
    assert "netstats" not in {o.kind for o in flash.observed}
