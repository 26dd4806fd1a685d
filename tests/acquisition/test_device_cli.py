"""`phonehome device acquire|scan|list` against the simulator: one-sentence errors and exit codes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.simulator.support import free_port, make_host_key, simulator, small_profile
from toolkit.cli.main import app

pytestmark = pytest.mark.timeout(120)


def test_device_acquire_then_resume_over_tcp(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    runner = CliRunner()
    with simulator(small_profile(tmp_path), key) as sim:
        args = ["device", "acquire", "--tcp", sim.serial, "--out", str(tmp_path / "ev"), "--key", str(key),
                "--apks", "system"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "3 APKs pulled" not in first.output  # Secret.apk is unreadable: 2 pulled, 1 explained
        assert "2 APKs pulled, 0 already complete, 1 not readable" in first.output
        assert "not pulled: /system/priv-app/Secret/Secret.apk: Permission denied" in first.output
        second = runner.invoke(app, args)
        assert second.exit_code == 0 and "0 APKs pulled, 2 already complete" in second.output
    data = json.loads((tmp_path / "ev" / "acquisition.json").read_text())
    assert len(data["runs"]) == 2 and data["complete"] is True


def test_device_scan_writes_evidence_and_a_report(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path), key) as sim:
        result = CliRunner().invoke(app, ["device", "scan", "--tcp", sim.serial, "--out", str(tmp_path / "ev"),
                                          "--key", str(key), "--apks", "user", "-f", "json", "-o",
                                          str(tmp_path / "r.json"), "--workers", "1", "--no-cache"])
    report = json.loads((tmp_path / "r.json").read_text())
    findings = [f for a in report["apks"] for f in a["findings"]] + report["device_findings"]
    assert result.exit_code == (1 if findings else 0), result.output  # the unreadable system app is not pulled (user)
    assert [a["package"] for a in report["apks"]] == ["com.brightlight.flashlight"] * 2  # base + split
    assert report["apks"][0]["provenance"]["origin"] == "device"
    assert report["inventory"]["identity"]["model"] == "Test Phone"
    assert "10.0.2.15:43122 -> 47.88.10.20:8080 owned by com.vendor.appstore (uid 10041)" in result.output


@contextmanager
def _web_server() -> Iterator[int]:
    """Something on loopback that is not an ADB device: it answers every connection with an HTTP error."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


@pytest.mark.parametrize("mode", ["refused", "never", "not_adb", "bad_port"])
def test_connection_errors_are_one_sentence_and_exit_2(tmp_path: Path, mode: str) -> None:
    key = make_host_key(tmp_path)
    runner = CliRunner()
    acquire = ["device", "acquire", "--out", str(tmp_path / "ev"), "--key", str(key), "--tcp"]
    if mode == "refused":
        result = runner.invoke(app, [*acquire, f"127.0.0.1:{free_port()}"])
        expected = "error: No device answers at 127.0.0.1:"
    elif mode == "not_adb":
        with _web_server() as port:
            result = runner.invoke(app, [*acquire, f"127.0.0.1:{port}"])
        expected = f"error: 127.0.0.1:{port} answered, but not as an ADB device"
    elif mode == "bad_port":
        result = runner.invoke(app, [*acquire, "127.0.0.1:99999"])
        expected = "port 99999 is not a TCP port"
    else:
        with simulator(small_profile(tmp_path), key, auth="never") as sim:
            result = runner.invoke(app, ["device", "acquire", "--tcp", sim.serial, "--out", str(tmp_path / "ev"),
                                         "--key", str(key), "--auth-timeout", "0.5"])
        expected = "unlock the phone and tap Allow"
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0]
    assert "Traceback" not in result.output


def test_evidence_scan_flags_a_tampered_folder(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    runner = CliRunner()
    with simulator(small_profile(tmp_path), key) as sim:
        done = runner.invoke(app, ["device", "acquire", "--tcp", sim.serial, "--out", str(tmp_path / "ev"),
                                   "--key", str(key), "--apks", "none"])
        assert done.exit_code == 0, done.output
    clean = runner.invoke(app, ["evidence", "scan", str(tmp_path / "ev"), "-f", "json", "-o", str(tmp_path / "a.json")])
    assert clean.exit_code == 0, clean.output
    raw = tmp_path / "ev" / "raw" / "settings_secure.txt"
    raw.write_text(raw.read_text().replace("cloudmsg_optin=1", "cloudmsg_optin=0"))
    again = runner.invoke(app, ["evidence", "scan", str(tmp_path / "ev"), "-f", "json", "-o", str(tmp_path / "b.json")])
    assert again.exit_code == 2
    assert "evidence integrity: raw/settings_secure.txt: SHA-256 differs from sha256sums.txt" in again.output
    # The report itself says the evidence was not intact (an error-level input problem), not only the terminal.
    errors = json.loads((tmp_path / "b.json").read_text())["input_errors"]
    assert [(e["level"], e["reason"]) for e in errors] == [
        ("error", "evidence integrity: raw/settings_secure.txt: SHA-256 differs from sha256sums.txt")]
    assert json.loads((tmp_path / "a.json").read_text())["input_errors"] == []
    missing = runner.invoke(app, ["evidence", "scan", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "not an evidence folder" in missing.output


def test_missing_libusb_is_one_clear_sentence(tmp_path: Path) -> None:
    """A machine without libusb: `import usb1` fails as it does there (OSError from ctypes)."""
    import os
    import subprocess
    import sys

    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "usb1.py").write_text('raise OSError("libusb-1.0.so.0: cannot open shared object file")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(Path(__file__).resolve().parents[2])]),
           "HOME": str(tmp_path), "ANDROID_ADB_SERVER_PORT": str(free_port())}
    proc = subprocess.run([sys.executable, "-c", "from toolkit.cli.main import run; run()", "device", "acquire", "--out",
                           str(tmp_path / "ev")], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.decode().splitlines() if line.startswith("error:")]
    assert lines == ["error: USB access needs libusb (Debian: apt-get install libusb-1.0-0) and the adb-shell[usb] "
                     "extra (libusb-1.0.so.0: cannot open shared object file)."]
    assert not (tmp_path / "ev").exists() and not (tmp_path / ".android").exists()


def test_hostile_phone_output_is_shown_escaped_and_capped(tmp_path: Path) -> None:
    """What the phone printed reaches the terminal without control sequences, and a flood of bad lines is
    summarised on the terminal (the report keeps the list)."""
    from toolkit.acquisition.evidence import EvidenceFolder

    key = make_host_key(tmp_path)
    with simulator(small_profile(tmp_path), key) as sim:
        done = CliRunner().invoke(app, ["device", "acquire", "--tcp", sim.serial, "--out", str(tmp_path / "ev"),
                                        "--key", str(key), "--apks", "none"])
        assert done.exit_code == 0, done.output
    folder = EvidenceFolder(tmp_path / "ev")
    raw = folder.raw_path("settings_secure")
    raw.write_text(raw.read_text() + "\x1b]0;owned\x07=1\n" + "bad key!=1\n" * 50)
    folder.write_hash_list()  # as if the phone had printed it: the folder is consistent
    result = CliRunner().invoke(app, ["evidence", "scan", str(tmp_path / "ev"), "-f", "json", "-o",
                                      str(tmp_path / "r.json")])
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;owned\\x07" in result.output
    shown = [line for line in result.output.splitlines() if line.startswith("warning: settings_secure:")]
    assert len(shown) == 6 and "more problem(s), listed in the report" in shown[-1]
    report = json.loads((tmp_path / "r.json").read_text())
    assert len([p for p in report["inventory"]["parse_problems"] if p["source"] == "settings_secure"]) == 51
