"""`phonehome demo` end to end: simulator + real ADB protocol + acquisition + analysis + signer check + reports;
the command it prints re-runs the same analysis offline from its output folder; a second run uses the cache."""

from __future__ import annotations

import json
import shutil
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
    # The tampered copy is caught: the signer pin and the genuine APK shipped with the demo.
    flashlight = next(a for a in report["apks"] if a["package"] == "com.brightlight.flashlight")
    rules = {f["rule_id"] for f in flashlight["findings"]}
    assert {"signer-pinning-mismatch", "store-copy-modified"} <= rules, rules
    verdicts = {c["package"]: c["verdict"]["verdict"] for c in report["store"]["signer_checks"]}
    assert verdicts["com.brightlight.flashlight"] == "tampered"
    # The three-line story at the end, and the exit-code rule stated in the help.
    story = text[text.index("In short:"):].splitlines()[1:4]
    assert story[0].strip().startswith("The phone: com.vendor.cloudmsg sends contacts, imei")
    assert "com.brightlight.flashlight is a tampered copy" in story[1]
    assert f"open {out / 'phonehome-report.html'}" in story[2]
    help_text = " ".join(runner.invoke(app, ["demo", "--help"]).output.replace("│", " ").split())
    assert "0 when the demo ran as designed" in help_text
    # Offline: the command the demo prints re-runs the analysis from the output folder alone, same result.
    rerun = next(line for line in text.splitlines() if line.startswith("re-run the analysis offline: phonehome "))
    args = rerun.split("phonehome ", 1)[1].split() + ["-f", "json", "-o", str(tmp_path / "re.json"), "--no-cache"]
    again = runner.invoke(app, args)
    assert again.exception is None or isinstance(again.exception, SystemExit), again.exception
    # The scanning commands keep the normal exit codes: 1 for the same findings the demo exits 0 with.
    assert again.exit_code == 1, again.output
    rescan = json.loads((tmp_path / "re.json").read_text())
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
    # A second run resumes the acquisition and takes every analysis from the demo's result cache; it says so.
    second = runner.invoke(app, ["demo", "--out", str(out), "--workers", "1"])
    assert second.exit_code == 0, second.output
    assert "0 APKs pulled, 6 already complete" in second.output
    assert "analysing the 6 APKs of the evidence folder (6 kept from the earlier run)" in second.output
    assert "0 APKs analysed now, 7 results taken from the cache" in second.output
    assert _apks(json.loads((out / "phonehome-report.json").read_text())) == apks
    # Reports of the same evidence are the same wherever the folder lies: paths relative to it, the root once.
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(evidence, moved)
    reports = []
    for folder, name in ((evidence, "a.json"), (moved, "b.json")):
        done = runner.invoke(app, ["evidence", "scan", str(folder), "-f", "json", "-o", str(tmp_path / name),
                                   "-j", "1", "--cache", str(tmp_path / "cache.sqlite3")])
        assert done.exit_code == 1, done.output
        text = (tmp_path / name).read_text()
        assert text.count(str(tmp_path)) == 1  # the target, nothing else
        reports.append(json.loads(text))
    first, second = reports
    assert first["target"]["inputs"] == [str(evidence)] and second["target"]["inputs"] == [str(moved)]
    for key in ("apks", "device_findings", "inventory", "input_errors"):
        assert first[key] == second[key], key
    assert any(a["path"].startswith("apks/") for a in first["apks"])
