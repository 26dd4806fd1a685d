"""scripts/setup.sh with stand-ins for apt-get, dpkg-query and pip on PATH (the real ones would change this
machine): apt waits for a busy lock, pip's configuration warnings are not shown, a pip failure is."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)


def _run(tmp_path: Path, pip_exit: int) -> tuple[subprocess.CompletedProcess[str], str]:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "setup.sh", checkout / "scripts" / "setup.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    _stub(bin_dir, "id", "echo 0")
    _stub(bin_dir, "dpkg-query", "exit 1")  # nothing installed: setup.sh installs its Debian packages
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {calls}')
    _stub(bin_dir, "python3", f'echo "pip $*" >> {calls}\n'
                              "echo \"WARNING: Location 'file:///opt/x/simple/y/' is ignored\" >&2\n"
                              f"echo 'ERROR: broken dependency' >&2\nexit {pip_exit}")
    _stub(bin_dir, "phonehome", "echo 'phonehome 0.1.0'")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["/bin/bash", str(checkout / "scripts" / "setup.sh")], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    return done, calls.read_text(encoding="utf-8") if calls.exists() else ""


def test_apt_waits_for_the_lock_and_pip_is_quiet(tmp_path: Path) -> None:
    done, calls = _run(tmp_path, pip_exit=0)
    assert done.returncode == 0, done.stderr
    apt = [line for line in calls.splitlines() if line.startswith("apt-get")]
    assert apt and all("DPkg::Lock::Timeout=120" in line for line in apt), apt
    assert "WARNING" not in done.stdout + done.stderr and "is ignored" not in done.stderr
    assert "setup: done (phonehome 0.1.0)" in done.stdout


def test_a_pip_failure_is_shown_in_full(tmp_path: Path) -> None:
    done, _ = _run(tmp_path, pip_exit=1)
    assert done.returncode == 1
    assert "ERROR: broken dependency" in done.stderr and "setup: pip install failed" in done.stderr
