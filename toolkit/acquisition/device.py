"""Phone acquisition: run the read-only collectors, pull APKs, and write the evidence folder.

The read-only guarantee lives here, in one place: `ReadOnlyDevice` is the only object the collectors get, and
it refuses any shell command that is not on `ALLOWED_COMMANDS`. The connection layer (adb.py) exposes no
push/install/root call at all; file transfer is pull-only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from toolkit.acquisition.adb import PULL_MARGIN, AdbConnection, AdbError, PullError, RemoteStat, ShellOutput
from toolkit.acquisition.evidence import (
    MANIFEST,
    AcquisitionManifest,
    CommandRecord,
    EvidenceError,
    EvidenceFolder,
    PulledFile,
    RunRecord,
    apk_local_path,
    sha256_file,
)
from toolkit.acquisition.usage import USAGE_COMMANDS
from toolkit.inventory import build_inventory
from toolkit.inventory.packages import parse_pm_list_users
from toolkit.models import ApkInput, InputError, Provenance
from toolkit.models.common import PhModel
from toolkit.models.device import DeviceInventory

log = logging.getLogger(__name__)

ApkSelection = Literal["system", "user", "all", "none"]

# --- the read-only allow-list (the ONE place) --------------------------------------------------------------

_PKG = r"[A-Za-z][A-Za-z0-9_.]*"
_PATH = r"/[A-Za-z0-9._~=+@,/-]+"  # no spaces, quotes, globs or shell metacharacters (and no nested quantifier)
_PM_LIST_FLAG = r"(?: (?:-[fUiu3sde]|--show-versioncode|--user \d+))*"

ALLOWED_COMMANDS: tuple[str, ...] = (
    r"getprop(?: [A-Za-z0-9._-]+)?",
    r"getenforce",
    r"id",
    r"pm list packages" + _PM_LIST_FLAG,
    r"pm list users",
    r"pm path " + _PKG,
    r"dumpsys (?:package|alarm|jobscheduler)(?: " + _PKG + ")?",
    r"settings list (?:system|secure|global)",
    r"ps(?: -A)?(?: -o [A-Z]+(?:,[A-Z]+)*)?",
    r"cat /proc/net/(?:tcp|tcp6|udp|udp6)",
    r"sha256sum " + _PATH,
    # Usage records (toolkit/acquisition/usage.py says why each is read-only; --checkin, --poll, logcat -c are not).
    r"dumpsys (?:appops|usagestats|accessibility|device_policy|iphonesubinfo)",
    r"dumpsys activity services",
    r"dumpsys netstats(?: (?:--full|--uid|detail))+",
    r"dumpsys batterystats -c",
    r"cmd role get-role-holders android\.app\.role\.(?:SMS|DIALER)",
    r"logcat -d(?: -b (?:main|system|crash|events)(?:,(?:main|system|crash|events))*)* -t \d{1,6}",
    r"cat /sys/class/net/wlan0/address",
)
_ALLOWED_RE = [re.compile(rf"\A{p}\Z") for p in ALLOWED_COMMANDS]


class NotAllowedError(Exception):
    """A command that could change the phone (or is not known to be read-only) was refused before sending."""


def check_read_only(command: str) -> None:
    """Raise NotAllowedError unless `command` matches the read-only allow-list exactly."""
    if ".." in command or not any(r.match(command) for r in _ALLOWED_RE):
        raise NotAllowedError(f"refused to send {command!r} to the phone: not on the read-only allow-list")


class SentCommand(PhModel):
    """A command that went to the phone (for acquisition.json: every command, not only the collectors')."""

    command: str
    exit_code: int | None = None
    at: datetime


class ReadOnlyDevice:
    """The only view of the phone the collectors get: allow-listed shell commands, stat, list and pull."""

    def __init__(self, conn: AdbConnection) -> None:
        self._conn = conn
        self.sent: list[SentCommand] = []
        # Which shell protocol to use depends on the Android version: ask (read-only, allow-listed, logged).
        sdk = self.shell("getprop ro.build.version.sdk").stdout.decode(errors="replace").strip()
        conn.configure_shell(int(sdk) if sdk.isdigit() else None)

    @property
    def transport(self) -> str:
        return self._conn.transport

    @property
    def serial(self) -> str:
        return self._conn.serial

    def shell(self, command: str, timeout: float = 120.0) -> ShellOutput:
        check_read_only(command)
        at = datetime.now(UTC)
        out = self._conn.run_shell(command, timeout=timeout)
        self.sent.append(SentCommand(command=command, exit_code=out.exit_code, at=at))
        return out

    def stat(self, path: str) -> RemoteStat:
        return self._conn.stat(path)

    def listdir(self, path: str) -> list[str]:
        return self._conn.listdir(path)

    def pull(self, path: str, dest: Path, progress: Callable[[int], None] | None = None,
             max_bytes: int | None = None) -> None:
        self._conn.pull(path, dest, progress, max_bytes)

    def close(self) -> None:
        self._conn.close()


# --- collectors ----------------------------------------------------------------------------------------------

def _has_packages(out: ShellOutput) -> bool:
    return b"package:" in out.stdout


def _answered_packages(out: ShellOutput) -> bool:
    return _has_packages(out) or out.exit_code == 0


def _ok(out: ShellOutput) -> bool:
    # With an exit status, 0 is an answer even if empty (no settings, no jobs); without one (shell v1), only
    # output counts.
    return out.exit_code == 0 or (out.exit_code is None and bool(out.stdout.strip()))


@dataclass(frozen=True)
class Collector:
    """One raw output: the commands to try in order (first accepted wins) and what counts as an answer."""

    key: str
    commands: tuple[str, ...]
    accept: Callable[[ShellOutput], bool] = _ok


PM_LIST = "pm list packages -f -U -i --show-versioncode"
SAVE_INTERVAL = 1.0  # seconds between two saves of acquisition.json while files are pulled
WAITING_NOTICE = 10.0  # seconds before the user is told which collector is waiting
COLLECTORS: tuple[Collector, ...] = (
    Collector("getprop", ("getprop",)),
    Collector("getenforce", ("getenforce",)),
    Collector("pm_list_users", ("pm list users",)),
    # Very old versions reject --show-versioncode / -U: fall back to fewer columns.
    Collector("pm_list_packages", (PM_LIST, "pm list packages -f -U -i", "pm list packages -f -i", "pm list packages -f"),
              _answered_packages),
    Collector("dumpsys_package", ("dumpsys package",)),
    Collector("settings_system", ("settings list system",)),
    Collector("settings_secure", ("settings list secure",)),
    Collector("settings_global", ("settings list global",)),
    Collector("dumpsys_alarm", ("dumpsys alarm",)),
    Collector("dumpsys_jobscheduler", ("dumpsys jobscheduler",)),
    Collector("ps", ("ps -A -o USER,PID,PPID,NAME", "ps")),
    Collector("proc_net_tcp", ("cat /proc/net/tcp",)),
    Collector("proc_net_tcp6", ("cat /proc/net/tcp6",)),
    Collector("proc_net_udp", ("cat /proc/net/udp",)),
    Collector("proc_net_udp6", ("cat /proc/net/udp6",)),
) + tuple(Collector(key, commands) for key, commands in USAGE_COMMANDS)  # app ops, netstats, usage, powers, logcat


class AcquireOptions(PhModel):
    apks: ApkSelection = "all"
    retries: int = Field(3, ge=0, description="Extra attempts for a transient failure (disconnect, timeout)")
    retry_delay: float = Field(0.5, ge=0)
    command_timeout: float = Field(120.0, description="Overall deadline of one collector (all its commands, "
                                   "fallbacks and reconnects together), in seconds")
    max_packages: int = Field(20_000, ge=0, description="Most APK files pulled in one run: a phone listing more "
                              "(a flooded package list) is acquired up to this many, the rest said, not pulled")
    device_hash: bool = Field(False, description="Also hash each APK on the phone (toybox sha256sum) and compare: "
                              "proves the copy end to end, costs a read of every file on the phone")


class AcquisitionResult(PhModel):
    """What `acquire` hands back: the manifest as written, the parsed inventory and the folder."""

    folder: str
    manifest: AcquisitionManifest
    inventory: DeviceInventory


class AcquisitionProgress(PhModel):
    """One step of an acquisition: `done` of `total` items of `stage` (collect, pull; bytes: `done` is the size of
    the chunk of `item` just received, `total` the file's size)."""

    stage: str
    done: int
    total: int | None = None
    item: str | None = None


AcquisitionProgressCallback = Callable[[AcquisitionProgress], None]


def _now() -> datetime:
    return datetime.now(UTC)


def parse_inventory(outputs: dict[str, str]) -> DeviceInventory:
    """Parse raw outputs with toolkit.inventory (the parsers shared by every source); acquisition needs the package
    list to know which APKs to pull."""
    return build_inventory(outputs)


BY_PATH_DIR = "apks-by-path"  # pulled files whose mirrored name is taken (see Acquirer._store_name)
_SYSTEM_PREFIXES = ("/system/", "/vendor/", "/product/", "/system_ext/", "/odm/", "/apex/", "/oem/")


def _partition(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) > 2 else None


class _Target(PhModel):
    device_path: str
    package: str | None
    role: Literal["base", "split", "factory", "other"]


class Acquirer:
    """One acquisition run into an evidence folder (new, or resumed)."""

    def __init__(self, out: Path, connect: Callable[[], AdbConnection], options: AcquireOptions | None = None,
                 progress: AcquisitionProgressCallback | None = None) -> None:
        self.folder = EvidenceFolder(out)
        self.connect_fn = connect
        self.options = options or AcquireOptions()
        self.progress = progress
        self.device: ReadOnlyDevice | None = None
        self.sent_log: list[str] = []
        self._manifest: AcquisitionManifest | None = None
        self._saved_at = 0.0
        self._unsaved = False

    # --- connection with reconnects
    def _device(self) -> ReadOnlyDevice:
        if self.device is None:
            self.device = ReadOnlyDevice(self.connect_fn())
        return self.device

    def _drop(self) -> None:
        if self.device is not None:
            self.sent_log = self._sent_lines()
            self.device.close()
            self.device = None

    def _sent_lines(self) -> list[str]:
        current = self.device.sent if self.device is not None else []
        return self.sent_log + [f"{c.at.isoformat()} exit={c.exit_code} {c.command}" for c in current]

    def _save(self, manifest: AcquisitionManifest, force: bool = True) -> None:
        """Save the manifest (commands sent included) so an interrupted run loses nothing already done.

        Rewriting acquisition.json after each of thousands of files would make the run quadratic: per-file saves
        (force=False) are batched to one a second; every stage end, the run's end and an interruption save at once.
        """
        self._manifest = manifest
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_INTERVAL:
            self._unsaved = True
            return
        if manifest.runs:
            manifest.runs[-1].commands_sent = self._sent_lines()
        self.folder.save_manifest(manifest)
        self._saved_at = time.monotonic()
        self._unsaved = False

    def save_pending(self) -> None:
        """Write what the batched saves held back (called on the way out, interrupted or not)."""
        if self._unsaved and self._manifest is not None:
            self._save(self._manifest)

    def _emit(self, stage: str, done: int, total: int | None, item: str | None) -> None:
        if self.progress:
            self.progress(AcquisitionProgress(stage=stage, done=done, total=total, item=item))

    # --- the run
    def run(self) -> AcquisitionResult:
        started = _now()
        root = self.folder.root
        if root.exists() and not self.folder.exists() and (not root.is_dir() or any(root.iterdir())):
            # Never mix an acquisition into unrelated files: the hash list would cover them as evidence.
            raise EvidenceError(f"{root}: exists and is not an evidence folder (no acquisition.json): "
                                "choose a new or empty folder")
        device = self._device()  # connection errors (AdbError) go to the caller: nothing written yet
        self.folder.create()
        resumed = self.folder.exists()
        if resumed:
            manifest = self.folder.load_manifest()
            current = device.shell("getprop ro.serialno").stdout.decode(errors="replace").strip()
            if manifest.device.serial and current and current != manifest.device.serial:
                raise EvidenceError(f"{self.folder.root}: holds an acquisition of device {manifest.device.serial}, "
                                    f"not of {current}: use another --out folder")
        else:
            manifest = AcquisitionManifest(started_at=started, transport=device.transport, serial=device.serial,
                                           apk_selection=self.options.apks)
        run_no = len(manifest.runs) + 1
        record = RunRecord(run=run_no, started_at=started, transport=device.transport, serial=device.serial,
                           host=manifest.host, tool_version=manifest.tool_version, apk_selection=self.options.apks)
        manifest.runs.append(record)
        manifest.transport = device.transport
        if resumed:
            manifest.notes.append(f"run {run_no}: resumed at {started.isoformat()}")
        self._save(manifest)

        self._collect(manifest, run_no)
        outputs = self.folder.read_raw_outputs()
        inventory = parse_inventory(outputs)
        manifest.device = inventory.identity
        self._save(manifest)

        targets = self._targets(inventory) if self.options.apks != "none" else []
        manifest.limits_hit = []  # said for the latest run only: a later run with a higher limit clears it
        if len(targets) > self.options.max_packages:
            # A flooded package list must not keep the acquisition crawling for hours: pull a bounded number and
            # say what was left, so the result reads as partial, not complete.
            note = (f"run {run_no}: the phone lists {len(targets)} APK files; only the first "
                    f"{self.options.max_packages} were pulled (--max-packages): the rest were not acquired")
            log.warning("%s", note)
            manifest.notes.append(note)
            manifest.limits_hit = [note]
            targets = targets[: self.options.max_packages]
        self._pull_all(manifest, targets, run_no, record)
        self._save(manifest)

        record.finished_at = _now()
        manifest.finished_at = record.finished_at
        commands_ok = all(c.error is None for c in manifest.commands
                          if manifest.command(c.key) is c)  # the latest record of each key
        wanted = {t.device_path for t in targets}
        files_ok = all(f.status == "pulled" or (f.reason and not f.reason.startswith("transient:"))
                       for f in manifest.files if f.device_path in wanted)
        manifest.complete = commands_ok and files_ok and not manifest.limits_hit
        self._drop()
        self._save(manifest)
        self.folder.write_hash_list()
        return AcquisitionResult(folder=str(self.folder.root), manifest=manifest, inventory=inventory)

    def _collect(self, manifest: AcquisitionManifest, run_no: int) -> None:
        collectors = list(COLLECTORS)
        total = len(collectors)
        for n, collector in enumerate(collectors, start=1):
            prior = manifest.command(collector.key)
            saved = self.folder.safe_member(prior.output_file) if prior is not None else None
            if prior is not None and prior.error is None and saved is not None and prior.sha256 and \
                    saved.is_file() and sha256_file(saved) == prior.sha256:
                self._emit("collect", n, total, collector.key)
                continue  # collected by an earlier run: the first snapshot is the evidence
            manifest.commands.append(self._run_collector(collector, run_no))
            self._save(manifest)
            self._emit("collect", n, total, collector.key)
        # Some phones list nothing for the shell user without --user: keep the empty answer as evidence and
        # ask again for user 0. Then one listing per secondary user / work profile.
        extra: list[int] = []
        listing = self.folder.raw_path("pm_list_packages")
        if listing.is_file() and b"package:" not in listing.read_bytes():
            extra.append(0)
        users_file = self.folder.raw_path("pm_list_users")
        users = parse_pm_list_users(users_file.read_text(errors="replace")) if users_file.is_file() else []
        extra += sorted({u.id for u in users} - {0})
        for uid in extra:
            key = f"pm_list_packages_user{uid}"
            prior = manifest.command(key)
            if prior is None or prior.error is not None:
                commands = (f"{PM_LIST} --user {uid}", f"pm list packages -f -U -i --user {uid}",
                            f"pm list packages -f -i --user {uid}", f"pm list packages -f --user {uid}")
                manifest.commands.append(self._run_collector(Collector(key, commands, _answered_packages), run_no))
                self._save(manifest)

    def _shell_with_retry(self, command: str, deadline: float | None = None) -> ShellOutput:
        """Run one command, reconnecting after a broken connection; all attempts share the deadline (monotonic)."""
        attempts = self.options.retries + 1
        deadline = deadline if deadline is not None else time.monotonic() + self.options.command_timeout
        for attempt in range(1, attempts + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AdbError("connection", f"no answer to `{command}` within the collector's "
                               f"{self.options.command_timeout:g} s deadline")
            try:
                return self._device().shell(command, timeout=left)
            except AdbError as e:
                if e.kind != "connection" or attempt == attempts or time.monotonic() >= deadline:
                    if e.kind == "connection":
                        self._drop()  # a command left waiting on the phone: start the next one afresh
                    raise
                log.warning("%s; reconnecting (attempt %d of %d)", e.message, attempt + 1, attempts)
                self._drop()
                time.sleep(self.options.retry_delay * attempt)
        raise AssertionError("unreachable")

    def _run_collector(self, collector: Collector, run_no: int) -> CommandRecord:
        """Run a collector's commands in order until one is accepted, within ONE deadline for all of them: a
        command that never answers costs command_timeout once, not once per fallback and retry."""
        started = _now()
        last: ShellOutput | None = None
        deadline = time.monotonic() + self.options.command_timeout
        # Say which collector the acquisition is waiting for when a command is slow (the bar alone looks stuck).
        waiting = threading.Timer(min(WAITING_NOTICE, self.options.command_timeout / 2), log.warning,
                                  ("still waiting for the phone to answer %s (gives up after %g s)", collector.key,
                                   self.options.command_timeout))
        waiting.daemon = True
        waiting.start()
        try:
            for command in collector.commands:
                last = self._shell_with_retry(command, deadline)
                if collector.accept(last):
                    break
                if time.monotonic() >= deadline:
                    break
        except AdbError as e:
            return CommandRecord(key=collector.key, command=collector.commands[-1 if last else 0],
                                 started_at=started, finished_at=_now(), error=e.message, run=run_no)
        finally:
            waiting.cancel()
        assert last is not None
        path = self.folder.write_raw(collector.key, last.stdout)
        rel = path.relative_to(self.folder.root).as_posix()
        rec = CommandRecord(key=collector.key, command=last.command, exit_code=last.exit_code, output_file=rel,
                            stderr=last.stderr.decode(errors="replace"), bytes=len(last.stdout),
                            sha256=sha256_file(path), started_at=started, finished_at=_now(), run=run_no)
        if not collector.accept(last):
            log.warning("%s: no usable answer (exit %s): %s", collector.key, last.exit_code,
                        rec.stderr.strip() or "empty output")
        return rec

    # --- APKs
    def _targets(self, inventory: DeviceInventory) -> list[_Target]:
        sel = self.options.apks
        targets: list[_Target] = []
        seen: set[str] = set()

        def add(path: str, package: str | None, role: Literal["base", "split", "factory", "other"]) -> None:
            if path not in seen:
                seen.add(path)
                targets.append(_Target(device_path=path, package=package, role=role))

        def wanted(is_system: bool) -> bool:
            return sel == "all" or (sel == "system") == is_system

        for pkg in inventory.packages:  # the inventory parsers read pm list packages and dumpsys package
            paths = pkg.apk_paths
            system = bool(pkg.is_system) or bool(paths and paths[0].startswith(_SYSTEM_PREFIXES))
            if not wanted(system) and not (pkg.is_updated_system and sel == "system"):
                continue
            if wanted(system):
                for i, path in enumerate(paths):
                    add(path, pkg.name, "base" if i == 0 else "split")
            if pkg.factory_code_path and sel in ("all", "system"):
                for path in self._factory_apks(pkg.factory_code_path):
                    add(path, pkg.name, "factory")
        return targets

    def _factory_apks(self, code_path: str) -> list[str]:
        if code_path.endswith(".apk"):
            return [code_path]
        try:
            names = self._device().listdir(code_path)
        except (PullError, AdbError) as e:
            log.warning("cannot list %s: %s", code_path, e)
            return [f"{code_path}/{code_path.rstrip('/').rsplit('/', 1)[-1]}.apk"]
        return [f"{code_path.rstrip('/')}/{n}" for n in names if n.endswith(".apk")]

    def _pull_all(self, manifest: AcquisitionManifest, targets: list[_Target], run_no: int,
                  record: RunRecord) -> None:
        by_path = {f.device_path: i for i, f in enumerate(manifest.files)}
        total = len(targets)
        for n, target in enumerate(targets, start=1):
            prior = manifest.files[by_path[target.device_path]] if target.device_path in by_path else None
            kept = self.folder.safe_member(prior.local_path) if prior is not None else None
            if prior is not None and prior.status == "pulled" and kept is not None and prior.sha256 and \
                    kept.is_file() and kept.stat().st_size == prior.size and sha256_file(kept) == prior.sha256:
                record.reused += 1
                self._emit("pull", n, total, target.device_path)
                continue  # complete and verified by an earlier run: not pulled again
            result = self._pull_one(target, run_no, (prior.attempts if prior else 0))
            if result.status == "pulled":
                record.pulled += 1
            else:
                record.failed += 1
            if target.device_path in by_path:
                manifest.files[by_path[target.device_path]] = result
            else:
                by_path[target.device_path] = len(manifest.files)
                manifest.files.append(result)
            self._save(manifest, force=False)
            self._emit("pull", n, total, target.device_path)

    def _device_sha256(self, path: str) -> str | None:
        """The phone's own SHA-256 of a file, or None when the phone has no sha256sum (older toybox)."""
        out = self._device().shell(f"sha256sum {path}", timeout=self.options.command_timeout)
        m = re.match(rb"([0-9a-f]{64})\s", out.stdout)
        if out.exit_code not in (0, None) or m is None:
            log.info("no on-phone hash for %s: %s", path, out.stderr.decode(errors="replace").strip())
            return None
        return m.group(1).decode()

    def _bytes_progress(self, path: str, total: int | None) -> Callable[[int], None]:
        def report(chunk: int) -> None:
            self._emit("bytes", chunk, total, path)

        return report

    def _store_name(self, device_path: str) -> str:
        """Where a pulled file is kept: apks/<device path>, unless that name is taken on disk (a path that is both
        a file and a folder on the phone, '/x.apk' and '/x.apk/base.apk') or would be mistaken for a temporary
        file; then apks-by-path/<hash of the device path>.apk, a name no device path maps to."""
        rel = apk_local_path(device_path)  # EvidenceError for '..' and the like: refused by the caller
        dest = self.folder.root / rel
        taken = dest.is_dir() or dest.name.endswith((".part", ".tmp")) or any(
            p.exists() and not p.is_dir() for p in dest.parents if p != self.folder.root and
            p.is_relative_to(self.folder.root))
        if not taken:
            return rel
        return f"{BY_PATH_DIR}/{hashlib.sha256(device_path.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}.apk"

    def _pull_one(self, target: _Target, run_no: int, earlier_attempts: int) -> PulledFile:
        base = {"device_path": target.device_path, "package": target.package, "role": target.role,
                "partition": _partition(target.device_path), "run": run_no}
        try:
            rel = self._store_name(target.device_path)
            dest = self.folder.root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
        except (EvidenceError, OSError) as e:
            # One path the phone lists that cannot be stored safely is a problem of its own, not the end of the scan.
            reason = str(e) if isinstance(e, EvidenceError) else f"cannot be stored: {e.strerror or e}"
            log.warning("not pulled: %s", reason)
            return PulledFile(**base, status="failed", reason=f"refused: {reason}", attempts=earlier_attempts)
        part = dest.with_name(dest.name + ".part")
        attempts = self.options.retries + 1
        reason = "not attempted"
        for attempt in range(1, attempts + 1):
            try:
                device = self._device()
                st = device.stat(target.device_path)
                expected = st.size if st.exists else None
                # Never more than the announced size (plus one packet): a phone that lies cannot fill the disk.
                device.pull(target.device_path, part, self._bytes_progress(target.device_path, expected),
                            max_bytes=expected + PULL_MARGIN if expected is not None else None)
                size = part.stat().st_size
                if expected is not None and size > expected:
                    raise PullError(target.device_path, f"the phone announced {expected} bytes and sent {size}: "
                                    "the copy cannot be trusted", transient=False, integrity=True)
                if expected is not None and size != expected:
                    raise PullError(target.device_path, f"short transfer: {size} of {expected} bytes", transient=True)
                digest = sha256_file(part)
                note = None
                try:
                    device_digest = self._device_sha256(target.device_path) if self.options.device_hash else None
                except NotAllowedError:
                    # The path cannot be put in a shell command safely (e.g. ';'): the command was not sent.
                    device_digest = None
                    note = "not hashed on the phone: its path cannot be sent in a shell command safely"
                    log.warning("%s: %s", target.device_path, note)
                if device_digest is not None and device_digest != digest:
                    raise PullError(target.device_path, f"SHA-256 on the phone {device_digest} differs from the "
                                    f"copy's {digest}", transient=True)
                part.replace(dest)
                return PulledFile(**base, status="pulled", local_path=rel, size=size, sha256=digest, reason=note,
                                  device_sha256=device_digest, device_mode=f"{st.mode:o}" if st.exists else None,
                                  device_mtime=datetime.fromtimestamp(st.mtime, UTC) if st.exists else None,
                                  attempts=earlier_attempts + attempt)
            except PullError as e:
                reason = e.reason
                part.unlink(missing_ok=True)
                if e.integrity:
                    self._drop()  # the transfer was cut mid-stream: the session cannot be reused
                    return PulledFile(**base, status="failed", reason=f"integrity: {reason}",
                                      attempts=earlier_attempts + attempt)
                if not e.transient:
                    return PulledFile(**base, status="failed", reason=reason, attempts=earlier_attempts + attempt)
                self._drop()  # the connection is suspect after a transient failure: reconnect
            except AdbError as e:
                reason = e.message
                part.unlink(missing_ok=True)
                self._drop()
                if e.kind != "connection":
                    break
            if attempt < attempts:
                log.warning("pull %s failed (%s); retrying (%d of %d)", target.device_path, reason, attempt + 1,
                            attempts)
                time.sleep(self.options.retry_delay * attempt)
        return PulledFile(**base, status="failed", reason=f"transient: {reason}",
                          attempts=earlier_attempts + attempts)


def acquire(out: Path, connect: Callable[[], AdbConnection], options: AcquireOptions | None = None,
            progress: AcquisitionProgressCallback | None = None) -> AcquisitionResult:
    """Acquire a phone into evidence folder `out` (resuming what is already there). Never writes to the phone."""
    acquirer = Acquirer(Path(out), connect, options, progress)
    try:
        return acquirer.run()
    finally:
        acquirer._drop()  # also on Ctrl-C or an unexpected error: close the connection to the phone
        acquirer.save_pending()  # and keep every file already pulled for the resume


# --- from an evidence folder to the analysis pipeline ----------------------------------------------------------

class EvidenceInputs(PhModel):
    """What an evidence folder gives the analysis: APK inputs, what could not be pulled, the parsed inventory."""

    folder: str
    manifest: AcquisitionManifest
    inventory: DeviceInventory
    inputs: list[ApkInput]
    errors: list[InputError]
    integrity_problems: list[str] = Field(default_factory=list)


def evidence_inputs(folder_path: Path) -> EvidenceInputs:
    """Load an evidence folder for offline analysis: the folder alone is enough (no phone needed).

    Files that could not be pulled become InputErrors with the phone's reason, so a report says what was not
    analysed and why. The folder is checked against its hash list; problems are returned, not hidden.
    """
    folder = EvidenceFolder(folder_path)
    manifest = folder.load_manifest()
    problems = folder.verify()
    inventory = parse_inventory(folder.read_raw_outputs())
    inputs: list[ApkInput] = []
    errors: list[InputError] = []
    for f in manifest.files:
        local = folder.safe_member(f.local_path)  # None when outside the folder: an integrity problem already
        if f.status == "pulled" and local is not None and local.is_file():
            inputs.append(ApkInput(path=str(local.resolve()), provenance=Provenance(
                origin="device", device_path=f.device_path, chain=[manifest.device.serial or manifest.serial,
                                                                   f.device_path])))
            if f.reason:  # pulled, with something to say (e.g. no on-phone hash for this path)
                errors.append(InputError(path=f.device_path, reason=f.reason, level="warning"))
        elif f.status == "pulled" and f.local_path and local is None:
            errors.append(InputError(path=f.device_path, reason=f"not analysed: {MANIFEST} places it outside the "
                                     f"evidence folder ({f.local_path!r})"))
        elif f.status == "pulled":
            errors.append(InputError(path=f.device_path, reason=f"recorded as pulled but {f.local_path} is missing "
                                     f"from {folder.root}"))
        elif f.reason and f.reason.startswith("integrity:"):
            # The phone sent other than it announced: not a file it withheld, an untrustworthy answer.
            errors.append(InputError(path=f.device_path, reason=f"not analysed: {f.reason}"))
        else:
            # Common on real phones (e.g. "Permission denied" on some preinstalled apps): recorded, not fatal.
            errors.append(InputError(path=f.device_path, level="warning",
                                     reason=f"could not be pulled from the phone: {f.reason or 'unknown reason'}"))
    for c in manifest.commands:
        if c.error:
            errors.append(InputError(path=f"command: {c.command}", reason=c.error, level="warning"))
    for note in manifest.limits_hit:  # a limit cut the acquisition: the result is partial, and says why
        errors.append(InputError(path=str(folder.root), reason=f"partial acquisition: {note}", level="warning"))
    return EvidenceInputs(folder=str(folder.root), manifest=manifest, inventory=inventory, inputs=inputs,
                          errors=errors, integrity_problems=problems)
