"""A device profile: what the simulated handset has on it.

A profile is a directory with ``profile.yml`` (packages, properties, settings, alarms, jobs, processes,
sockets) and an optional ``fs/`` tree that is served as the phone's root file system. Package APKs named in
the YAML are mapped to their device paths (``apk:`` is looked up in the profile directory, then in the
fixture APK folder), so a profile does not need to copy the fixture APKs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolkit import yamlio
from toolkit.resources import profiles_dir

log = logging.getLogger(__name__)
_EMPTY_ZIP = b"PK\x05\x06" + bytes(18)
BUILTIN_PROFILES = profiles_dir()


def fixture_apk_dir() -> Path:
    """Where fixture APKs are looked up: $PHONEHOME_FIXTURE_APKS, else <repo>/fixtures/apks."""
    env = os.environ.get("PHONEHOME_FIXTURE_APKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "fixtures" / "apks"


class ProfileError(Exception):
    """A profile that cannot be loaded; the message names the file and the reason."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PackageSpec(_M):
    name: str
    apk: str | None = Field(None, description="APK file: profile-relative path or a fixture APK file name")
    path: str = Field(description="Device path of base.apk")
    splits: dict[str, str] = Field(default_factory=dict, description="split name -> APK file (served beside base)")
    uid: int
    shared_user: str | None = None
    version_code: int = 1
    version_name: str = "1.0"
    min_sdk: int = 19
    target_sdk: int = 28
    installer: str | None = None
    system: bool = False
    privileged: bool = False
    updated_system: bool = False
    original_path: str | None = Field(None, description="For updated system apps: the /system copy")
    original_apk: str | None = Field(None, description="APK file served at original_path")
    optional: bool = Field(False, description="Leave the package out (with a warning) if its APK is missing")
    persistent: bool = False
    enabled: int = Field(0, description="0 default, 1 enabled, 2 disabled, 3 disabled-user")
    first_install: str = "2009-01-01 08:00:00"
    last_update: str = "2009-01-01 08:00:00"
    requested_permissions: list[str] = Field(default_factory=list)
    install_permissions: list[str] = Field(default_factory=list, description="normal/privileged, granted")
    runtime_permissions: list[str] = Field(default_factory=list, description="dangerous, granted for user 0")
    users: list[int] = Field(default_factory=lambda: [0])

    @property
    def code_path(self) -> str:
        return str(PurePosixPath(self.path).parent)


class AlarmSpec(_M):
    package: str
    type: Literal["RTC_WAKEUP", "RTC", "ELAPSED_WAKEUP", "ELAPSED"] = "RTC_WAKEUP"
    repeat_seconds: int = 0
    tag: str = ""
    action: str = ""


class JobSpec(_M):
    package: str
    uid: int
    job_id: int = 1
    service: str
    period_seconds: int | None = None
    network: bool = True
    persisted: bool = True


class ProcessSpec(_M):
    user: str
    pid: int
    ppid: int = 1
    name: str


class SocketSpec(_M):
    proto: Literal["tcp", "tcp6", "udp", "udp6"] = "tcp"
    local: str = Field(description="ip:port (IPv6 as [addr]:port)")
    remote: str = "0.0.0.0:0"
    state: str = "ESTABLISHED"
    uid: int
    inode: int = 0


class CommandOutputSpec(_M):
    """A captured answer served for one exact command line (e.g. real output of another Android version)."""

    file: str | None = Field(None, description="stdout from this file (relative to the profile directory)")
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


class UserSpec(_M):
    id: int
    name: str
    flags: int = 0x13


class AppOpSpec(_M):
    """One app-op record: `minutes_ago` is the last access before the profile's `now` (None: never accessed)."""

    package: str
    op: str
    mode: str = "allow"
    minutes_ago: float | None = None
    state: str = "pers"


class TrafficSpec(_M):
    """A UID's traffic for netstats/batterystats: a transmission every `period_seconds` (with `tx_bytes` cycling
    through the list), or `random_per_day` irregular ones; `set` DEFAULT is background."""

    uid: int
    set: Literal["DEFAULT", "FOREGROUND"] = "DEFAULT"
    period_seconds: int | None = None
    offset_seconds: int = 0
    random_per_day: int = 0
    tx_bytes: list[int] = Field(default_factory=lambda: [1500])
    rx_ratio: float = 0.3
    network: Literal["WIFI", "MOBILE"] = "WIFI"


class UsageSpec(_M):
    """What the simulated phone recorded about its apps (rendered in Android 10 formats)."""

    now: str = Field("2020-09-20 14:31:02", description="The phone's local time when dumped")
    utc_offset_minutes: int = 0
    bucket_seconds: int = Field(7200, description="netstats UID bucket (Settings.Global netstats_uid_bucket_duration)")
    history_hours: int = 24
    appops: list[AppOpSpec] = Field(default_factory=list)
    traffic: list[TrafficSpec] = Field(default_factory=list)
    last_used: dict[str, float] = Field(default_factory=dict, description="package -> minutes before now it was "
                                        "last in the foreground")
    services: list[str] = Field(default_factory=list, description="Running started services (pkg/.Cls)")
    accessibility: list[str] = Field(default_factory=list, description="Enabled accessibility components")
    device_admins: list[str] = Field(default_factory=list)
    role_sms: str | None = None
    role_dialer: str | None = None
    subscriber_info: dict[str, str] = Field(default_factory=dict, description="dumpsys iphonesubinfo lines "
                                            "(Device ID, Line 1 Number ...); empty: prints nothing, as Android 10+")
    logcat: list[str] = Field(default_factory=list, description="main-buffer messages 'Tag: text'")


class ProfileSpec(_M):
    """The YAML contents of a profile."""

    name: str
    description: str = ""
    android_version: str = "10"
    props: dict[str, str] = Field(default_factory=dict)
    selinux: str = "Enforcing"
    users: list[UserSpec] = Field(default_factory=lambda: [UserSpec(id=0, name="Owner", flags=0x13)])
    packages: list[PackageSpec] = Field(default_factory=list)
    settings: dict[Literal["system", "secure", "global"], dict[str, str]] = Field(default_factory=dict)
    alarms: list[AlarmSpec] = Field(default_factory=list)
    jobs: list[JobSpec] = Field(default_factory=list)
    processes: list[ProcessSpec] = Field(default_factory=list)
    sockets: list[SocketSpec] = Field(default_factory=list)
    unreadable: list[str] = Field(default_factory=list, description="Device paths that answer Permission denied")
    files: dict[str, str] = Field(default_factory=dict, description="Extra device path -> text content")
    command_outputs: dict[str, CommandOutputSpec] = Field(
        default_factory=dict, description="Exact command line -> captured answer, instead of rendering")
    usage: UsageSpec | None = Field(None, description="Usage records (app ops, netstats ...); None: the services "
                                    "answer empty")
    quirks: list[Literal["pm_list_needs_user", "ps_no_columns", "no_show_versioncode"]] = Field(
        default_factory=list, description="Behaviours of some real phones the collectors must cope with")


class VFile(_M):
    """A file on the simulated phone: backed by a local file or by inline bytes."""

    local: Path | None = None
    content: bytes | None = None
    mode: int = 0o100644
    mtime: int = 1230796800  # 2009-01-01, as factory images carry

    def size(self) -> int:
        if self.content is not None:
            return len(self.content)
        assert self.local is not None
        return self.local.stat().st_size

    def read(self) -> bytes:
        if self.content is not None:
            return self.content
        assert self.local is not None
        return self.local.read_bytes()


class DeviceProfile:
    """A loaded profile: the spec plus a virtual file system keyed by absolute device path."""

    def __init__(self, spec: ProfileSpec, root: Path | None) -> None:
        self.spec = spec
        self.root = root
        self.files: dict[str, VFile] = {}
        self.dirs: set[str] = {"/"}
        if root is not None and (root / "fs").is_dir():
            for local in sorted((root / "fs").rglob("*")):
                if local.is_file():
                    self.add_file("/" + local.relative_to(root / "fs").as_posix(), VFile(local=local))
        kept = []
        for pkg in spec.packages:
            try:
                self._add_package_files(pkg)
            except ProfileError as e:
                if not pkg.optional:
                    raise
                log.info("%s; package left out of the simulated phone", e)
                continue
            kept.append(pkg)
        spec.packages = kept
        for path, text in spec.files.items():
            self.add_file(path, VFile(content=text.encode()))
        # Every handset has a Wi-Fi interface; its MAC is derived from the serial unless the profile gives one.
        if "/sys/class/net/wlan0/address" not in self.files:
            import hashlib

            seed = hashlib.sha256(spec.props.get("ro.serialno", spec.name).encode()).digest()
            mac = ":".join(f"{b:02x}" for b in (bytes([0xa4, 0x50, 0x46]) + seed[:3]))
            self.add_file("/sys/class/net/wlan0/address", VFile(content=(mac + "\n").encode()))
        build_prop = "".join(f"{k}={v}\n" for k, v in sorted(spec.props.items()) if k.startswith("ro.build"))
        self.files.setdefault("/system/build.prop", VFile(content=build_prop.encode()))
        self._add_parents("/system/build.prop")

    def _add_package_files(self, pkg: PackageSpec) -> None:
        files = {pkg.path: self._resolve_apk(pkg.apk, pkg.name) if pkg.apk else None}
        for split, apk in pkg.splits.items():
            files[f"{pkg.code_path}/split_{split}.apk"] = self._resolve_apk(apk, pkg.name)
        if pkg.original_path:
            files[pkg.original_path] = self._resolve_apk(pkg.original_apk, pkg.name) if pkg.original_apk else None
        for path, local in files.items():
            if local is None and path in self.files:
                continue  # served from the profile's fs/ tree
            # No APK given: an empty zip stands in (e.g. for a path the shell user may not read anyway).
            self.add_file(path, VFile(local=local) if local else VFile(content=_EMPTY_ZIP))

    def _resolve_apk(self, name: str, package: str) -> Path:
        candidates = []
        if self.root is not None:
            candidates.append(self.root / name)
        candidates.append(fixture_apk_dir() / name)
        for c in candidates:
            if c.is_file():
                return c
        where = ", ".join(str(c) for c in candidates)
        raise ProfileError(f"profile {self.spec.name}: APK {name!r} for {package} not found (looked in {where})")

    def _add_parents(self, path: str) -> None:
        p = PurePosixPath(path).parent
        while True:
            self.dirs.add(str(p))
            if str(p) == "/":
                break
            p = p.parent

    def add_file(self, path: str, vfile: VFile) -> None:
        path = str(PurePosixPath("/") / path)
        self.files[path] = vfile
        self._add_parents(path)

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in list(self.files) + list(self.dirs)
                 if p.startswith(prefix) and p != prefix}
        return sorted(n for n in names if n)

    def captured(self, command: str) -> tuple[bytes, bytes, int] | None:
        """The captured answer for this exact command line, if the profile has one."""
        spec = self.spec.command_outputs.get(command)
        if spec is None:
            return None
        out = spec.stdout.encode()
        if spec.file:
            path = (self.root / spec.file) if self.root is not None else Path(spec.file)
            try:
                out = path.read_bytes()
            except OSError as e:
                raise ProfileError(f"profile {self.spec.name}: output for {command!r}: {path}: {e.strerror}") from e
        return out, spec.stderr.encode(), spec.exit_code

    def settings(self, namespace: str) -> dict[str, str]:
        """`settings list <namespace>` contents ({} for an unknown namespace)."""
        for ns, values in self.spec.settings.items():
            if ns == namespace:
                return values
        return {}

    def prop(self, key: str, default: str = "") -> str:
        return self.spec.props.get(key, default)

    def package(self, name: str) -> PackageSpec | None:
        return next((p for p in self.spec.packages if p.name == name), None)


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """Load a built-in profile by name (e.g. "demo") or a profile directory / YAML file.

    A bare name (a str without a path separator) of a built-in profile is that profile even when a folder of the
    same name exists here (`phonehome demo --out demo` creates one); write ./demo for a local folder."""
    path = Path(name_or_path)
    bare = isinstance(name_or_path, str) and os.sep not in name_or_path and "/" not in name_or_path
    if (bare or not path.exists()) and (BUILTIN_PROFILES / str(name_or_path)).is_dir():
        path = BUILTIN_PROFILES / str(name_or_path)
    yml = path / "profile.yml" if path.is_dir() else path
    if not yml.is_file():
        raise ProfileError(f"{yml}: no such profile (built-in profiles: "
                           f"{', '.join(sorted(p.name for p in BUILTIN_PROFILES.iterdir() if p.is_dir()))})")
    try:
        data = yamlio.safe_load(yml.read_text(encoding="utf-8"))
        spec = ProfileSpec.model_validate(data)
    except (yaml.YAMLError, ValidationError) as e:
        raise ProfileError(f"{yml}: invalid profile: {e}") from e
    return DeviceProfile(spec, yml.parent)
