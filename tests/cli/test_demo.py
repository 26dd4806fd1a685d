"""`phonehome demo` end to end: simulator + real ADB protocol + acquisition + analysis + reports, then
`phonehome evidence scan` on its evidence folder reproduces the same result offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.acquisition.evidence import EvidenceFolder
from toolkit.cli.main import app

pytestmark = pytest.mark.timeout(240)


def _apks(report: dict) -> dict[str, tuple[str | None, int]]:
    return {a["provenance"]["device_path"]: (a["sha256"], len(a["findings"])) for a in report["apks"]}


def test_demo_runs_the_whole_phone_scan_and_evidence_scan_reproduces_it(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--workers", "1"])
    text = result.output
    report = json.loads((out / "phonehome-report.json").read_text())
    assert result.exit_code == 0, text
    assert all(a["status"] != "not_analysed" for a in report["apks"])
    assert "speaking ADB on 127.0.0.1:" in text
    assert "47.88.10.20:8080 owned by com.vendor.cloudmsg (uid 1000), address registered in US" in text
    assert "alarm of com.vendor.cloudmsg repeats every 1800 s" in text
    assert "setting secure cloudmsg_optin=1" in text
    assert "not pulled: /system/priv-app/FmRadio/FmRadio.apk: Permission denied" in text
    # The evidence folder is complete and intact; the reports were written beside it.
    evidence = out / "evidence"
    manifest = EvidenceFolder(evidence).load_manifest()
    assert manifest.complete and EvidenceFolder(evidence).verify() == []
    assert (out / "phonehome-report.html").is_file()
    apks = _apks(report)
    for path in ["/system/priv-app/CloudMsg/CloudMsg.apk", "/system/app/AppMarket/AppMarket.apk",
                 "/data/app/com.vendor.cloudmsg-Xk2mQ9vYbL1cT3wZ8nRf4A==/base.apk"]:
        assert path in apks
    assert any("com.brightlight.flashlight" in p for p in apks)
    assert report["target"]["kind"] == "device"
    assert report["target"]["identity"]["model"] == "K7 Lite"
    assert [e["path"] for e in report["input_errors"]] == ["/system/priv-app/FmRadio/FmRadio.apk"]
    assert report["inventory"]["identity"]["serial"] == "KST7L0042"
    # The device-level finding: the live socket of uid 1000 goes to the IP hard-coded in the updated cloudmsg.
    live = [f for f in report["device_findings"] if f["rule_id"] == "live-connection-to-hardcoded-endpoint"]
    assert [f["package"] for f in live] == ["com.vendor.cloudmsg"] and "47.88.10.20:8080" in live[0]["message"]
    assert live[0]["apk_sha256"] == apks["/data/app/com.vendor.cloudmsg-Xk2mQ9vYbL1cT3wZ8nRf4A==/base.apk"][0]
    assert "live-connection-to-hardcoded-endpoint" in [r["id"] for r in report["rules"]]
    sockets = {s["remote_address"]: s for s in report["inventory"]["sockets"]}
    assert sockets["47.88.10.20"]["remote_country"] == "US"
    # Offline: the folder alone gives the same APKs, hashes and findings.
    again = runner.invoke(app, ["evidence", "scan", str(evidence), "-f", "json", "-o", str(tmp_path / "re.json"),
                                "--workers", "1", "--no-cache"])
    findings = sum(len(a["findings"]) for a in report["apks"]) + len(report["device_findings"])
    # `evidence scan` keeps the normal exit codes: 1 findings; without any, the unreadable FmRadio makes it 2.
    assert again.exit_code == (1 if findings else 2), again.output
    rescan = json.loads((tmp_path / "re.json").read_text())
    assert rescan["target"]["kind"] == "evidence"
    assert _apks(rescan) == apks
    assert rescan["inventory"] == report["inventory"]
    # The demo also read its capture (not part of the evidence folder): its findings are the only difference.
    capture_rules = {"identifier-seen-leaving", "capture-beacon", "capture-encrypted-payload"}
    assert rescan["device_findings"] == [f for f in report["device_findings"] if f["rule_id"] not in capture_rules]
    # Static flows confirmed by the phone's records and by the capture (issue 16).
    cloudmsg = [a for a in report["apks"] if a["package"] == "com.vendor.cloudmsg"]
    kinds = {(f["source"]["kind"], o["kind"]) for a in cloudmsg for f in a["flows"] for o in f["observed"]}
    assert {("sms", "appops"), ("imei", "netstats"), ("imei", "socket"), ("imei", "capture_identifier"),
            ("imei", "capture_endpoint")} <= kinds
    leak = [f for f in report["device_findings"] if f["rule_id"] == "identifier-seen-leaving"]
    assert {f["severity"] for f in leak} == {"critical"} and "358240051111110" not in json.dumps(leak)
    assert "static flows confirmed by the phone's records or the capture:" in text
    traffic = json.loads((out / "traffic-report.json").read_text())
    assert {m["value"] for m in traffic["identifier_matches"]} >= {"358240051111110"}  # the JSON keeps them
