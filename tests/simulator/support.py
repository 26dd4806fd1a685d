"""Helpers shared by the simulator and acquisition tests (not a test module)."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from toolkit.acquisition import adb
from toolkit.simulator import DeviceSimulator, Faults, load_profile
from toolkit.simulator.profile import DeviceProfile

REPO = Path(__file__).resolve().parents[2]
FIXTURE_APKS = REPO / "fixtures" / "apks"
BIG_SIZE = 700_000  # several sync DATA chunks and several WRTE packets at the negotiated payload


_KEYS: list[Path] = []


def make_host_key(tmp: Path) -> Path:
    """A private adb host key (like ~/.android/adbkey) inside the test's temporary folder.

    RSA key generation is slow on a loaded machine: two keys are made once per test process and copied
    (the first for "this computer", the second for tests that need "another computer").
    """
    import tempfile

    if not _KEYS:
        base = Path(tempfile.mkdtemp(prefix="ph-test-keys-"))
        _KEYS.extend(adb.ensure_host_key(base / name / "adbkey") for name in ("a", "b"))
    source = _KEYS[1] if tmp.name == "other" else _KEYS[0]
    dest = tmp / "home" / ".android" / "adbkey"
    dest.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".pub"):
        shutil.copyfile(str(source) + suffix, str(dest) + suffix)
    dest.chmod(0o600)
    return dest


def write_profile(root: Path, *, quirks: tuple[str, ...] = (), users: int = 1, sdk: int = 29) -> Path:
    """A small profile: two real fixture APKs, one big random file, one unreadable APK, a second user."""
    root.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(4)
    big = root / "fs" / "system" / "app" / "Big" / "Big.apk"
    big.parent.mkdir(parents=True)
    big.write_bytes(bytes(rnd.getrandbits(8) for _ in range(BIG_SIZE)))
    spec = {
        "name": "small",
        "props": {"ro.product.model": "Test Phone", "ro.product.name": "testphone",
                  "ro.product.device": "tp", "ro.product.brand": "Test", "ro.serialno": "TP0001",
                  "ro.build.version.sdk": str(sdk), "ro.build.version.release": "10" if sdk == 29 else "x",
                  "ro.build.fingerprint": "Test/testphone/tp:10/QP1A/1:user/release-keys"},
        "users": [{"id": 0, "name": "Owner", "flags": 0x13}] + ([{"id": 10, "name": "Work", "flags": 0x30}]
                                                               if users > 1 else []),
        "packages": [
            {"name": "com.vendor.appstore", "apk": str(FIXTURE_APKS / "appmarket.apk"),
             "path": "/system/app/AppMarket/AppMarket.apk", "uid": 10041, "system": True},
            {"name": "com.brightlight.flashlight", "apk": str(FIXTURE_APKS / "flashlight_tampered.apk"),
             "path": "/data/app/com.brightlight.flashlight-1/base.apk", "uid": 10087,
             "installer": "com.vendor.appstore", "users": [0, 10] if users > 1 else [0],
             "splits": {"config.arm64_v8a": str(FIXTURE_APKS / "flashlight.apk")}},
            {"name": "com.test.big", "path": "/system/app/Big/Big.apk", "uid": 10050, "system": True},
            {"name": "com.test.secret", "path": "/system/priv-app/Secret/Secret.apk", "uid": 10051,
             "system": True, "privileged": True},
        ],
        "settings": {"secure": {"cloudmsg_optin": "1"}, "global": {"adb_enabled": "1"}, "system": {}},
        "alarms": [{"package": "com.vendor.appstore", "repeat_seconds": 1800}],
        "processes": [{"user": "u0_a41", "pid": 1350, "ppid": 480, "name": "com.vendor.appstore"}],
        "sockets": [{"proto": "tcp", "local": "10.0.2.15:43122", "remote": "47.88.10.20:8080", "uid": 10041}],
        "unreadable": ["/system/priv-app/Secret"],
        "quirks": list(quirks),
    }
    # The big file is served from fs/ and also listed as a package (its APK entry is the fs file).
    (root / "profile.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return root


def small_profile(tmp: Path, **kw: object) -> DeviceProfile:
    return load_profile(write_profile(tmp / "profile", **kw))  # type: ignore[arg-type]


@contextmanager
def simulator(profile: DeviceProfile | str, key: Path | None, *, auth: str = "trusted",
              faults: Faults | None = None) -> Iterator[DeviceSimulator]:
    keys = [str(key) + ".pub"] if key is not None and auth == "trusted" else []
    with DeviceSimulator(profile, auth=auth, trusted_keys=keys, faults=faults) as sim:  # type: ignore[arg-type]
        yield sim


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DebianAdb:
    """Debian's adb client/server on a private port and HOME, so nothing else on the machine is touched."""

    def __init__(self, home: Path) -> None:
        self.exe = shutil.which("adb")
        self.home = home
        self.port = free_port()
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "HOME": str(home), "ANDROID_ADB_SERVER_PORT": str(self.port),
                    "ANDROID_USER_HOME": str(home / ".android"), "ADB_VENDOR_KEYS": ""}

    def __call__(self, *args: str, timeout: float = 20, check: bool = False) -> subprocess.CompletedProcess[bytes]:
        assert self.exe
        return subprocess.run([self.exe, *args], env=self.env, capture_output=True, timeout=timeout, check=check)

    def start(self) -> DebianAdb:
        self("start-server", timeout=20, check=True)
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self("kill-server", timeout=10)


@contextmanager
def debian_adb_server(home: Path) -> Iterator[DebianAdb]:
    """A started Debian adb server on a private port and HOME, with a host key we know (so a "trusted"
    simulator can trust it); stopped on exit."""
    client = DebianAdb(home)
    adb.ensure_host_key(client.home / ".android" / "adbkey")
    client.start()
    try:
        yield client
    finally:
        client.stop()
