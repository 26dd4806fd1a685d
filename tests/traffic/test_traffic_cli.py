"""`phonehome traffic scan`: exit codes, masking, the JSON evidence, and observed marks on a saved report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.inventory.conftest import outputs
from toolkit.cli.main import app
from toolkit.inventory import build_inventory
from toolkit.models import ScanResult
from toolkit.traffic.writer import CaptureBuilder

SCAN_RESULT = Path(__file__).resolve().parents[1] / "report" / "data" / "scan_result.json"
T0 = 1600583400.0


def _report_with_inventory(tmp_path: Path) -> Path:
    result = ScanResult.model_validate_json(SCAN_RESULT.read_text(encoding="utf-8"))
    result.inventory = build_inventory(outputs("android7"))  # its dumpsys iphonesubinfo gives the IMEI
    path = tmp_path / "report.json"
    path.write_text(result.model_dump_json())
    return path


def test_identifier_leak_marks_the_flow_observed_and_critical(tmp_path: Path) -> None:
    b = CaptureBuilder()
    b.dns(T0, "push.vendor-cloud.example", ["47.88.10.21"])
    b.tcp_session(T0 + 1, "47.88.10.21", 80, b"POST /pns/register HTTP/1.1\r\nHost: push.vendor-cloud.example\r\n\r\n"
                  b"imei=358240051111110")
    b.write(tmp_path / "c.pcapng")
    res = CliRunner().invoke(app, ["traffic", "scan", str(tmp_path / "c.pcapng"), "--report",
                                   str(_report_with_inventory(tmp_path)), "--output", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert "358240051111110" not in res.output and "35***********10" in res.output
    traffic = json.loads((tmp_path / "out" / "traffic-report.json").read_text())
    assert traffic["identifier_matches"][0]["value"] == "358240051111110"  # the JSON is the evidence
    scan = json.loads((tmp_path / "out" / "phonehome-report.json").read_text())
    flow = next(f for a in scan["apks"] for f in a["flows"] if f["id"] == "f-3c1e0b7a")  # cloudmsg imei -> network
    assert {o["kind"] for o in flow["observed"]} == {"capture_endpoint", "capture_identifier"}
    severities = {f["severity"] for a in scan["apks"] for f in a["findings"] if "f-3c1e0b7a" in f["flow_ids"]}
    assert severities == {"critical"}
    assert any(f["rule_id"] == "identifier-seen-leaving" for f in scan["device_findings"])


def test_clean_capture_exits_0_and_bad_file_exits_2(tmp_path: Path) -> None:
    b = CaptureBuilder()
    b.tcp_session(T0, "198.51.100.7", 443, b"\x16\x03\x01\x00\x05hello")
    b.write(tmp_path / "c.pcap", "pcap")
    runner = CliRunner()
    ok = runner.invoke(app, ["traffic", "scan", str(tmp_path / "c.pcap"), "--identifier", "imei=358240051111110"])
    assert ok.exit_code == 0, ok.output
    assert "no findings" in ok.output
    (tmp_path / "x.pcap").write_bytes(b"\x00" * 10)
    bad = runner.invoke(app, ["traffic", "scan", str(tmp_path / "x.pcap")])
    assert bad.exit_code == 2 and "not a pcap or pcapng" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["traffic", "scan", str(tmp_path / "nope.pcap")])
    assert missing.exit_code == 2 and "nope.pcap" in missing.output
    wrong = runner.invoke(app, ["traffic", "scan", str(tmp_path / "c.pcap"), "--identifier", "shoe=1"])
    assert wrong.exit_code == 2
