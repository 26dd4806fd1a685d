"""`python -m toolkit.simulator`: the simulated handset as a process, for manual testing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.simulator.support import REPO, free_port, make_host_key
from toolkit.acquisition import adb

pytestmark = pytest.mark.timeout(60)


def test_module_entry_serves_the_demo_profile(tmp_path: Path) -> None:
    key = make_host_key(tmp_path)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.simulator", "--profile", "demo", "--port", str(port),
                             "--auth", "trusted", "--trust", str(key) + ".pub"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        banner = proc.stdout.readline().decode() if proc.stdout else ""
        assert f"listening on 127.0.0.1:{port}" in banner and "K7 Lite" in banner
        conn = None
        deadline = time.monotonic() + 10
        while conn is None:
            try:
                conn = adb.connect_tcp("127.0.0.1", port, key_path=key, auth_timeout=3)
            except adb.AdbError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert conn.run_shell("getprop ro.product.model").stdout == b"K7 Lite\n"
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_a_folder_named_like_a_built_in_profile_does_not_hide_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`phonehome demo --out demo` creates ./demo before loading the built-in "demo" profile."""
    from toolkit.simulator import ProfileError, load_profile

    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo" / "host-key").mkdir(parents=True)
    assert load_profile("demo").prop("ro.product.model") == "K7 Lite"
    with pytest.raises(ProfileError, match="no such profile"):
        load_profile(Path("demo"))  # a Path is always a path
