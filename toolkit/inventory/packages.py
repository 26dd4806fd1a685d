"""Packages: `pm list packages`, `pm list users` and `dumpsys package` → PackageRecord / UserInfo.

Formats handled (Android 7 to 14):
- ``pm list packages -f -U -i --show-versioncode [-u] [--user 0]``:
  ``package:<sourceDir>=<name> versionCode:<n>  installer=<pkg|null> uid:<uid>[,<uid in other users>]``.
  Since Android 11 the source dir holds base64 names with ``=`` padding (``/data/app/~~Yh2U==/com.x-Jk==/base.apk``),
  so the path is split from the name at the LAST ``=`` (package names never contain one). Android 7's pm has no
  ``--show-versioncode``: it prints an error, which is reported and dumpsys fills in the details.
- ``pm list users``: ``UserInfo{<id>:<name>:<hex flags>} [running]``.
- ``dumpsys package``: the ``Packages:`` section (``Package [name] (hash):`` blocks), ``Hidden system packages:``
  (the factory copies of updated system apps) and ``Shared users:`` (older versions print install permissions
  of shared-UID packages there). Per-user lines ``User N: ... installed=true ... enabled=0`` carry the runtime
  permissions, and since Android 13 the per-user ``firstInstallTime``. ``userId=`` became ``appId=`` in Android 12.
"""

from __future__ import annotations

import re

from pydantic import Field

from toolkit.inventory._common import Problems, android_time, split_lines, to_int
from toolkit.models.common import PhModel
from toolkit.models.device import EnabledState, PackageRecord, PackageUserState, ParseProblem, UserInfo

_LIST_LINE = re.compile(r"^(?:package|apex):(?P<rest>\S.*)$")
_USER_INFO = re.compile(r"UserInfo\{(?P<id>\d+):(?P<name>.*):(?P<flags>[0-9a-fA-F]+)\}(?P<running>\s+running)?")
_PKG_START = re.compile(r"^  Package \[(?P<name>[^\]]+)\] \((?P<hash>[0-9a-f]+)\):\s*$")
_SHARED_START = re.compile(r"^  SharedUser \[(?P<name>[^\]]+)\] \((?P<hash>[0-9a-f]+)\):\s*$")
_USER_LINE = re.compile(r"^User (?P<id>\d+):(?P<rest>.*)$")
_TOKENS = re.compile(r"(\w+)=(\S+)")
_PERM_GRANT = re.compile(r"^(?P<name>[^:\s]+): granted=(?P<granted>true|false)")
_SHARED_USER = re.compile(r"SharedUserSetting\{[0-9a-f]+ (?P<name>[^/}]+)/(?P<uid>\d+)\}")
_SIG_NEW = re.compile(r"version:(?P<version>\d+), signatures:\[(?P<sigs>[^\]]*)\], past signatures:\[(?P<past>[^\]]*)\]")
_SIG_OLD = re.compile(r"PackageSignatures\{[0-9a-f]+ \[(?P<sigs>[^\]]*)\]\}")
_HEX = re.compile(r"^[0-9a-f]{1,8}$")
_SHA256 = re.compile(
    r"(?i)sha-?256(?:[ _-]?digest)?\s*[=:]\s*(?P<digest>[0-9a-f]{2}(?::?[0-9a-f]{2}){31})(?![0-9a-f])"
)

_ENABLED_STATES: dict[int, EnabledState] = {
    0: "default", 1: "enabled", 2: "disabled", 3: "disabled_user", 4: "disabled_until_used",
}


def java_signature_hash(der: bytes) -> str:
    """The hex string dumpsys prints for a signer: ``Integer.toHexString(Arrays.hashCode(certificate DER))``.

    PackageSignatures.toString() prints ``Signature.hashCode()``, which is this 32-bit hash of the certificate's
    DER bytes, so it can be compared with a certificate read from the pulled APK (weak, but it is all dumpsys
    gives: a mismatch proves a different signer, a match is a strong hint of the same one).
    """
    h = 1
    for b in der:
        h = (31 * h + (b - 256 if b > 127 else b)) & 0xFFFFFFFF
    return format(h, "x")


# --------------------------------------------------------------------------------------------- pm list


def parse_pm_list_packages(
    text: str, problems: list[ParseProblem] | None = None, source: str = "pm_list_packages"
) -> list[PackageRecord]:
    """Parse `pm list packages [-f] [-U] [-i] [--show-versioncode] [-u] [--user N]` into partial PackageRecords."""
    sink = Problems(source, problems)
    records: dict[str, PackageRecord] = {}
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        m = _LIST_LINE.match(stripped)
        if not m:
            sink.add("not a `package:` line (pm error or truncated output)", number, stripped)
            continue
        first, *rest = m["rest"].split()
        path: str | None = None
        name = first
        if "=" in first:
            path, _, name = first.rpartition("=")
        if not name or not re.match(r"^[A-Za-z0-9_.]+$", name):
            sink.add("invalid package name", number, stripped)
            continue
        record = PackageRecord(name=name, sources=[source])
        if path:
            record.apk_paths = [path]
        for token in rest:
            key, sep, value = token.partition(":") if token.startswith(("versionCode:", "uid:")) else token.partition("=")
            if not sep:
                sink.add(f"unknown field {token!r}", number, stripped)
                continue
            if key == "versionCode":
                record.version_code = to_int(value)
            elif key == "installer":
                record.installer = None if value == "null" else value
            elif key == "uid":
                # With several users pm prints every user's uid, comma separated; the first is the lowest user.
                record.uid = to_int(value.split(",")[0])
            else:
                sink.add(f"unknown field {token!r}", number, stripped)
        if name in records:
            sink.add(f"package {name} listed twice; keeping the first", number, stripped)
            continue
        records[name] = record
    return list(records.values())


def parse_pm_list_users(
    text: str, problems: list[ParseProblem] | None = None, source: str = "pm_list_users"
) -> list[UserInfo]:
    """Parse `pm list users` (``Users:`` then ``UserInfo{0:Owner:c13} running`` lines)."""
    sink = Problems(source, problems)
    users: list[UserInfo] = []
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped == "Users:":
            continue
        m = _USER_INFO.search(stripped)
        if not m:
            sink.add("not a UserInfo line", number, stripped)
            continue
        users.append(UserInfo(id=int(m["id"]), name=m["name"], flags=int(m["flags"], 16), running=bool(m["running"])))
    return users


# --------------------------------------------------------------------------------------------- dumpsys


def _flag_list(value: str) -> list[str]:
    return value.strip().strip("[]").split()


def _hex_list(value: str) -> list[str]:
    out = []
    for item in value.split(","):
        token = item.strip().split(" ")[0] if item.strip() else ""
        if _HEX.match(token):
            out.append(token)
    return out


class _Block:
    """One ``Package [x]`` / ``SharedUser [x]`` block being read."""

    def __init__(self, name: str, line: int, section: str) -> None:
        self.record = PackageRecord(name=name, sources=["dumpsys_package"])
        self.line = line
        self.section = section
        self.sub: str | None = None
        self.user: PackageUserState | None = None
        self.user_sub: str | None = None
        self.saw_uid = False
        self.saw_code_path = False


def _set_field(block: _Block, key: str, value: str, content: str, sink: Problems, number: int) -> None:
    rec = block.record
    if key in ("userId", "appId"):
        rec.uid = to_int(value.split()[0]) if value else None
        block.saw_uid = rec.uid is not None
    elif key == "sharedUser":
        m = _SHARED_USER.search(value)
        if m:
            rec.shared_user = m["name"]
            if rec.uid is None:
                rec.uid = int(m["uid"])
    elif key == "codePath":
        rec.code_path = value
        block.saw_code_path = True
    elif key == "resourcePath":
        rec.resource_path = value
    elif key == "versionCode":
        # "versionCode=29 minSdk=21 targetSdk=29" (Android 7: no minSdk)
        tokens = dict(_TOKENS.findall(content))
        rec.version_code = to_int(tokens.get("versionCode"))
        rec.min_sdk = to_int(tokens.get("minSdk"))
        rec.target_sdk = to_int(tokens.get("targetSdk"))
    elif key == "versionName":
        rec.version_name = value
    elif key == "splits":
        rec.splits = [s.strip() for s in value.strip().strip("[]").split(",") if s.strip()]
    elif key == "apkSigningVersion":
        rec.apk_signing_version = to_int(value)
    elif key in ("flags", "pkgFlags"):
        for flag in _flag_list(value):
            if flag not in rec.flags:
                rec.flags.append(flag)
    elif key == "privateFlags":
        for flag in _flag_list(value):
            if flag not in rec.private_flags:
                rec.private_flags.append(flag)
    elif key == "firstInstallTime":
        rec.first_install_time_raw = value
        rec.first_install_time = android_time(value)
        if rec.first_install_time is None:
            sink.add("unreadable firstInstallTime", number, content)
    elif key == "lastUpdateTime":
        rec.last_update_time_raw = value
        rec.last_update_time = android_time(value)
        if rec.last_update_time is None:
            sink.add("unreadable lastUpdateTime", number, content)
    elif key == "installerPackageName":
        rec.installer = None if value == "null" else value
    elif key == "signatures":
        m = _SIG_NEW.search(value)
        if m:
            rec.signature_hashes = _hex_list(m["sigs"])
            rec.past_signature_hashes = _hex_list(m["past"])
            if rec.apk_signing_version is None:
                rec.apk_signing_version = to_int(m["version"])
        else:
            m = _SIG_OLD.search(value)
            if m:
                rec.signature_hashes = _hex_list(m["sigs"])
            else:
                sink.add("unreadable signatures line", number, content)


def _user_state(user_id: int, rest: str) -> PackageUserState:
    tokens = dict(_TOKENS.findall(rest))

    def flag(name: str) -> bool | None:
        return {"true": True, "false": False}.get(tokens.get(name, ""))

    enabled = to_int(tokens.get("enabled"))
    return PackageUserState(
        user_id=user_id,
        installed=flag("installed") is not False,
        hidden=flag("hidden"),
        suspended=flag("suspended"),
        stopped=flag("stopped"),
        not_launched=flag("notLaunched"),
        enabled=enabled,
        enabled_state=_ENABLED_STATES.get(enabled, "unknown") if enabled is not None else "unknown",
    )


def _finish(block: _Block, sink: Problems) -> None:
    rec = block.record
    if block.section in ("Packages", "Hidden system packages"):
        missing = [what for what, seen in (("userId/appId", block.saw_uid or rec.uid is not None),
                                           ("codePath", block.saw_code_path)) if not seen]
        if missing:
            sink.add(f"package block {rec.name} has no {' or '.join(missing)} (truncated output?)", block.line)
    rec.installed_users = [u.user_id for u in rec.users if u.installed]
    granted: list[str] = []
    for u in rec.users:
        granted += [p for p in u.granted_runtime_permissions if p not in granted]
    rec.granted_runtime_permissions = granted
    if rec.first_install_time is None:
        # Android 13+ prints firstInstallTime per user only: take user 0's, else the earliest.
        timed = sorted((u for u in rec.users if u.first_install_time and u.installed),
                       key=lambda u: (u.user_id != 0, u.first_install_time))
        if timed:
            rec.first_install_time = timed[0].first_install_time
            rec.first_install_time_raw = timed[0].first_install_time_raw
    if rec.flags or rec.private_flags:  # no flags line at all (truncated block): leave unknown
        rec.is_system = "SYSTEM" in rec.flags
        rec.is_privileged = "PRIVILEGED" in rec.private_flags or "PRIVILEGED" in rec.flags
    rec.is_persistent = "PERSISTENT" in rec.flags
    rec.is_updated_system = "UPDATED_SYSTEM_APP" in rec.flags


def _handle_line(block: _Block, indent: int, content: str, sink: Problems, number: int) -> None:
    rec = block.record
    if indent <= 4:
        block.user_sub = None
        m = _USER_LINE.match(content)
        if m:
            block.user = _user_state(int(m["id"]), m["rest"])
            rec.users.append(block.user)
            block.sub = "user"
            return
        block.user = None
        if content.endswith(":") and "=" not in content:
            block.sub = content[:-1].strip()
            return
        block.sub = None
        key, sep, value = content.partition("=")
        if sep:
            _set_field(block, key.strip(), value.strip(), content, sink, number)
        digest = _SHA256.search(content)
        if digest:
            _add_digest(rec, digest["digest"])
        return
    if block.sub == "user" and block.user is not None:
        if indent <= 6:
            if content.endswith(":") and "=" not in content:
                block.user_sub = content[:-1].strip()
                return
            block.user_sub = None
            key, sep, value = content.partition("=")
            if sep and key.strip() == "firstInstallTime":
                block.user.first_install_time_raw = value.strip()
                block.user.first_install_time = android_time(value)
                if block.user.first_install_time is None:
                    sink.add("unreadable per-user firstInstallTime", number, content)
            return
        if block.user_sub == "runtime permissions":
            _add_runtime(block.user, content, sink, number)
        return
    if block.sub == "requested permissions":
        name = re.split(r"[:,\s]", content, maxsplit=1)[0]
        if name and name not in rec.requested_permissions:
            rec.requested_permissions.append(name)
    elif block.sub == "install permissions":
        m = _PERM_GRANT.match(content)
        if m is None:
            sink.add("unreadable install permission line", number, content)
        elif m["granted"] == "true" and m["name"] not in rec.install_permissions:
            rec.install_permissions.append(m["name"])
    elif block.sub == "runtime permissions":
        # Very old layouts printed runtime permissions at package level: treat them as user 0's.
        user = next((u for u in rec.users if u.user_id == 0), None)
        if user is None:
            user = PackageUserState(user_id=0)
            rec.users.append(user)
        _add_runtime(user, content, sink, number)
    else:
        digest = _SHA256.search(content)
        if digest:
            _add_digest(rec, digest["digest"])


def _add_runtime(user: PackageUserState, content: str, sink: Problems, number: int) -> None:
    m = _PERM_GRANT.match(content)
    if m is None:
        sink.add("unreadable runtime permission line", number, content)
        return
    target = user.granted_runtime_permissions if m["granted"] == "true" else user.denied_runtime_permissions
    if m["name"] not in target:
        target.append(m["name"])


def _add_digest(rec: PackageRecord, digest: str) -> None:
    value = digest.replace(":", "").lower()
    if value not in rec.signing_cert_sha256:
        rec.signing_cert_sha256.append(value)


class DumpsysPackages(PhModel):
    """What `dumpsys package` says: installed packages, factory copies of updated system apps, shared users."""

    packages: list[PackageRecord] = Field(default_factory=list, description="The Packages: section")
    hidden_system: list[PackageRecord] = Field(default_factory=list, description="Hidden system packages: factory copies")
    shared_users: list[PackageRecord] = Field(default_factory=list, description="Shared users: (name, userId, install permissions)")


def parse_dumpsys_package_sections(
    text: str, problems: list[ParseProblem] | None = None, source: str = "dumpsys_package"
) -> DumpsysPackages:
    """Parse the full `dumpsys package` output into its three package lists (see DumpsysPackages)."""
    sink = Problems(source, problems)
    out = DumpsysPackages()
    section: str | None = None
    block: _Block | None = None
    seen_packages_section = False

    def close() -> None:
        nonlocal block
        if block is None:
            return
        _finish(block, sink)
        target = {"Packages": out.packages, "Hidden system packages": out.hidden_system,
                  "Shared users": out.shared_users}[block.section]
        target.append(block.record)
        block = None

    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        if "Permission Denial" in line or line.startswith("Can't find service"):
            sink.add("dumpsys refused: no package information", number, line.strip())
            continue
        if not line.startswith(" "):
            close()
            header = line.strip()
            section = header[:-1] if header.endswith(":") else None
            if section == "Packages":
                seen_packages_section = True
            continue
        if section not in ("Packages", "Hidden system packages", "Shared users"):
            continue
        start = _PKG_START.match(line) if section != "Shared users" else _SHARED_START.match(line)
        if start:
            close()
            block = _Block(start["name"], number, section)
            continue
        indent = len(line) - len(line.lstrip(" "))
        if block is None or indent < 4:
            close()
            if section != "Shared users":
                sink.add(f"unexpected line in the {section} section", number, line.strip())
            continue
        _handle_line(block, indent, line.strip(), sink, number)
    close()
    if not seen_packages_section:
        sink.add("no 'Packages:' section (not a full dumpsys package output, or truncated)")
    return out


def parse_dumpsys_package(
    text: str, problems: list[ParseProblem] | None = None, source: str = "dumpsys_package"
) -> list[PackageRecord]:
    """Parse `dumpsys package` into one PackageRecord per installed package.

    Updated system apps get ``is_updated_system`` and their factory code path/version from the
    ``Hidden system packages`` section; shared-UID packages inherit install permissions printed under
    ``Shared users`` when their own block has none.
    """
    dump = parse_dumpsys_package_sections(text, problems, source)
    by_name = {p.name: p for p in dump.packages}
    for factory in dump.hidden_system:
        rec = by_name.get(factory.name)
        if rec is None:
            # A factory copy without an installed package should not happen; keep it rather than lose it.
            Problems(source, problems).add(f"hidden system package {factory.name} has no installed package entry")
            factory.is_updated_system = True
            factory.factory_code_path = factory.code_path
            factory.factory_version_code = factory.version_code
            dump.packages.append(factory)
            continue
        rec.is_updated_system = True
        rec.factory_code_path = factory.code_path
        rec.factory_version_code = factory.version_code
        if not rec.is_privileged and factory.is_privileged:
            # An update of a priv-app keeps its privileges; the flag is printed on the factory copy.
            rec.is_privileged = True
    shared = {s.name: s for s in dump.shared_users}
    for rec in dump.packages:
        if rec.shared_user and rec.shared_user in shared and not rec.install_permissions:
            rec.install_permissions = list(shared[rec.shared_user].install_permissions)
    for rec in dump.packages:
        if not rec.apk_paths:
            rec.apk_paths = derived_apk_paths(rec)
    return dump.packages


def derived_apk_paths(rec: PackageRecord, base: str | None = None) -> list[str]:
    """Base and split APK paths from codePath and splits.

    PackageInstaller renames what it installs to ``base.apk`` and ``split_<name>.apk``, so for /data/app
    installs the names are certain. For system images the file names are the image's own: only the base path
    that `pm list packages -f` printed is trusted there, and splits are not guessed.
    """
    code = rec.code_path
    paths: list[str] = []
    if base:
        paths.append(base)
    elif code and code.endswith(".apk"):
        paths.append(code)
    elif code and code.startswith(("/data/app/", "/mnt/expand/", "/mnt/asec/")):
        paths.append(f"{code}/base.apk")
    base_path = paths[0] if paths else None
    if code and base_path and base_path == f"{code}/base.apk":
        paths += [f"{code}/split_{s}.apk" for s in rec.splits if s != "base"]
    return paths


def merge_packages(
    listed: list[PackageRecord],
    dumped: list[PackageRecord],
    problems: list[ParseProblem] | None = None,
    source: str = "packages",
) -> list[PackageRecord]:
    """Join `pm list packages` records with `dumpsys package` records by package name.

    pm's path is the real base APK (sourceDir) and wins; dumpsys gives everything else. A package only one
    side knows is kept as it is (dumpsys also lists packages uninstalled for every user, pm may list packages
    dumpsys was too truncated to show). A UID disagreement is reported.
    """
    sink = Problems(source, problems)
    by_name = {p.name: p for p in dumped}
    merged: list[PackageRecord] = []
    for item in listed:
        rec = by_name.pop(item.name, None)
        if rec is None:
            merged.append(item)
            continue
        base = item.apk_paths[0] if item.apk_paths else None
        if base:
            rec.apk_paths = derived_apk_paths(rec, base)
        if item.uid is not None:
            if rec.uid is not None and rec.uid != item.uid:
                sink.add(f"{rec.name}: pm lists uid {item.uid}, dumpsys says {rec.uid}")
            rec.uid = rec.uid if rec.uid is not None else item.uid
        if rec.installer is None and item.installer is not None:
            rec.installer = item.installer
        if rec.version_code is None:
            rec.version_code = item.version_code
        rec.sources = list(dict.fromkeys(item.sources + rec.sources))
        merged.append(rec)
    merged += list(by_name.values())
    return merged


def uid_map(packages: list[PackageRecord]) -> dict[int, list[str]]:
    """UID → package names (several for a shared UID). Secondary-user UIDs map through their app id."""
    out: dict[int, list[str]] = {}
    for p in packages:
        if p.uid is None:
            continue
        names = out.setdefault(p.uid, [])
        if p.name not in names:
            names.append(p.name)
    return out
