"""Device-level correlation on the demo handset: its live socket to 47.88.10.20:8080 (uid 1000, com.vendor.cloudmsg)
is the endpoint hard-coded in cloudmsg_v2.apk. The inventory comes from a real acquisition over the ADB protocol
(simulator, demo profile) and the APK reports from the real analysis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_APKS
from tests.simulator.support import make_host_key, simulator
from toolkit.acquisition import adb
from toolkit.acquisition.device import AcquireOptions, acquire, evidence_inputs
from toolkit.analysis import analyse_apk
from toolkit.correlate import LIVE_ENDPOINT_RULE, add_device_findings, live_endpoint_findings
from toolkit.models import ApkReport, DeviceInventory, ScanResult, Target, ToolInfo

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def demo_inventory(tmp_path_factory: pytest.TempPathFactory) -> DeviceInventory:
    tmp = tmp_path_factory.mktemp("demo-phone")
    key = make_host_key(tmp)
    out = tmp / "evidence"
    with simulator("demo", key) as sim:
        acquire(out, lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=5),
                AcquireOptions(apks="none"))
    return evidence_inputs(out).inventory


@pytest.fixture(scope="module")
def cloudmsg_v2() -> ApkReport:
    return analyse_apk(FIXTURE_APKS / "cloudmsg_v2.apk")


def test_live_socket_to_the_apps_hard_coded_ip_is_a_finding(demo_inventory: DeviceInventory,
                                                            cloudmsg_v2: ApkReport) -> None:
    [finding] = live_endpoint_findings(demo_inventory, [cloudmsg_v2])
    assert finding.rule_id == "live-connection-to-hardcoded-endpoint"
    assert finding.package == "com.vendor.cloudmsg" and finding.apk_sha256 == cloudmsg_v2.sha256
    assert finding.severity.value == "high" and finding.confidence.value == "high"
    assert "47.88.10.20:8080" in finding.message and "uid 1000" in finding.message
    assert "http://47.88.10.20:8080/report" in finding.message
    # The flows that send data there are named, so a reader goes from the socket to the call path.
    assert finding.flow_ids and set(finding.flow_ids) <= {f.id for f in cloudmsg_v2.flows}
    # Both sockets to that address (the live one and the one closing, seen through tcp6) are the evidence.
    socket_lines = [e for e in finding.evidence if e.startswith("socket ")]
    assert any("ESTABLISHED" in e for e in socket_lines) and any("TIME_WAIT" in e for e in socket_lines)


def test_the_first_firmware_copy_names_a_host_not_that_ip_so_no_finding(demo_inventory: DeviceInventory) -> None:
    v1 = analyse_apk(FIXTURE_APKS / "cloudmsg.apk")
    assert v1.package == "com.vendor.cloudmsg" and v1.endpoints
    assert live_endpoint_findings(demo_inventory, [v1]) == []


def test_another_uid_or_another_port_is_not_a_match(demo_inventory: DeviceInventory, cloudmsg_v2: ApkReport) -> None:
    other_owner = demo_inventory.model_copy(deep=True)
    for s in other_owner.sockets:
        if s.remote_address == "47.88.10.20":
            s.uid, s.packages = 10087, ["com.brightlight.flashlight"]
    assert live_endpoint_findings(other_owner, [cloudmsg_v2]) == []
    other_port = demo_inventory.model_copy(deep=True)
    for s in other_port.sockets:
        if s.remote_address == "47.88.10.20":
            s.remote_port = 443
    assert live_endpoint_findings(other_port, [cloudmsg_v2]) == []


def test_add_device_findings_completes_the_result(demo_inventory: DeviceInventory, cloudmsg_v2: ApkReport) -> None:
    now = datetime.now(UTC)
    result = ScanResult(tool=ToolInfo(version="test"), started_at=now, finished_at=now,
                        target=Target(kind="device"), apks=[cloudmsg_v2],
                        inventory=demo_inventory.model_copy(deep=True))
    added = add_device_findings(result)
    # The live connection first, then the findings from the demo phone's usage records (issue 16).
    assert [f.rule_id for f in result.device_findings][0] == LIVE_ENDPOINT_RULE.id and added == result.device_findings
    assert {f.rule_id for f in result.device_findings[1:]} == {
        "appops-source-access-by-preinstalled-app", "periodic-background-network-use", "power-not-chosen-by-user"}
    count = len(result.device_findings)
    [info] = [r for r in result.rules if r.id == LIVE_ENDPOINT_RULE.id]
    assert "CWE-359" in info.references and info.severity.value == "high"
    assert result.inventory is not None
    live = next(s for s in result.inventory.sockets if s.remote_address == "47.88.10.20")
    assert live.remote_country == "US"  # the offline RIR database, as for the app's own endpoint
    assert "US" in result.device_findings[0].message
    assert any(e.startswith("country of 47.88.10.20 from iptocc ") for e in result.device_findings[0].evidence)
    # Idempotent: completing twice does not duplicate the finding or its rule.
    assert add_device_findings(result) == []
    assert len(result.device_findings) == count and [r.id for r in result.rules].count(LIVE_ENDPOINT_RULE.id) == 1


def test_nothing_without_an_inventory(cloudmsg_v2: ApkReport, tmp_path: Path) -> None:
    assert live_endpoint_findings(None, [cloudmsg_v2]) == []
    assert live_endpoint_findings(DeviceInventory(), [cloudmsg_v2]) == []


def test_store_check_of_an_evidence_folder_gets_the_device_finding(tmp_path: Path) -> None:
    """`store check EVIDENCE_DIR` builds its result elsewhere than `evidence scan`: it completes it the same way."""
    from toolkit.pipeline import ScanOptions
    from toolkit.store import StoreCheckOptions, run_store_check

    key = make_host_key(tmp_path)
    out = tmp_path / "evidence"
    with simulator("demo", key) as sim:
        acquire(out, lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key, auth_timeout=5),
                AcquireOptions(apks="system"))
    result = run_store_check([out], StoreCheckOptions(scan=ScanOptions(no_cache=True, workers=1)))
    assert result.target.kind == "evidence"
    live = [f for f in result.device_findings if f.rule_id == LIVE_ENDPOINT_RULE.id]
    assert [f.package for f in live] == ["com.vendor.cloudmsg"] and "47.88.10.20:8080" in live[0].message
    assert LIVE_ENDPOINT_RULE.id in [r.id for r in result.rules]
    assert {f.rule_id for f in result.all_findings()} <= {r.id for r in result.rules}
