"""Render a profile as the text Android's own tools print (Android 10 formats), so it parses like a phone."""

from __future__ import annotations

import ipaddress
import zlib

from toolkit.simulator.profile import AlarmSpec, DeviceProfile, PackageSpec, SocketSpec


def _hid(*parts: object) -> str:
    """A stable fake identity hash (dumpsys prints Integer.toHexString(System.identityHashCode(..)))."""
    return f"{zlib.crc32('/'.join(map(str, parts)).encode()) & 0x0FFFFFFF:x}"


def java_signature_hash(der: bytes) -> str:
    """Integer.toHexString(Arrays.hashCode(cert DER)): what PackageSignatures prints for each signer."""
    h = 1
    for b in der:
        h = (31 * h + (b - 256 if b > 127 else b)) & 0xFFFFFFFF
    return f"{h:x}"


def apk_signature_hashes(data_path: object) -> list[str]:
    """Signer hashes of an APK from its v1 (JAR) signature block; [] when there is none."""
    import zipfile
    from pathlib import Path

    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    try:
        with zipfile.ZipFile(Path(str(data_path))) as z:
            blocks = [n for n in z.namelist() if n.startswith("META-INF/")
                      and n.upper().rsplit(".", 1)[-1] in ("RSA", "DSA", "EC")]
            if not blocks:
                return []
            certs = pkcs7.load_der_pkcs7_certificates(z.read(blocks[0]))
    except (OSError, zipfile.BadZipFile, ValueError):
        return []
    return [java_signature_hash(certs[0].public_bytes(Encoding.DER))] if certs else []


def uid_name(uid: int) -> str:
    """UserHandle.formatUid: 10123 -> u0a123, 1000 -> 1000."""
    user, app = divmod(uid, 100000)
    if app >= 10000:
        return f"u{user}a{app - 10000}"
    return str(app) if user == 0 else f"u{user}s{app}"


def getprop(profile: DeviceProfile, key: str | None = None) -> str:
    if key is not None:
        return profile.prop(key) + "\n"
    return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(profile.spec.props.items()))


def pm_list_packages(profile: DeviceProfile, args: list[str]) -> str:
    """`pm list packages [-f] [-U] [-i] [-s|-3] [-d|-e] [--show-versioncode] [-u] [--user N] [FILTER]`."""
    show_path = "-f" in args
    show_uid = "-U" in args
    show_installer = "-i" in args
    show_vc = "--show-versioncode" in args
    user = 0
    filt = None
    i = 0
    while i < len(args):
        if args[i] == "--user" and i + 1 < len(args):
            user = int(args[i + 1]) if args[i + 1] not in ("all", "current") else 0
            i += 2
            continue
        if not args[i].startswith("-"):
            filt = args[i]
        i += 1
    lines = []
    for p in profile.spec.packages:
        if user not in p.users and "-u" not in args:
            continue
        if "-s" in args and not p.system or "-3" in args and p.system:
            continue
        if "-d" in args and p.enabled not in (2, 3) or "-e" in args and p.enabled in (2, 3):
            continue
        if filt and filt not in p.name:
            continue
        line = "package:"
        if show_path:
            line += p.path + "="
        line += p.name
        if show_vc:
            line += f" versionCode:{p.version_code}"
        if show_installer:
            line += f"  installer={p.installer or 'null'}"
        if show_uid:
            line += f" uid:{p.uid}"
        lines.append(line + "\n")
    return "".join(lines)


def pm_list_users(profile: DeviceProfile) -> str:
    return "Users:\n" + "".join(f"\tUserInfo{{{u.id}:{u.name}:{u.flags:x}}} running\n" for u in profile.spec.users)


def pm_path(profile: DeviceProfile, name: str) -> str:
    p = profile.package(name)
    if p is None:
        return ""
    out = f"package:{p.path}\n"
    for split in p.splits:
        out += f"package:{p.code_path}/split_{split}.apk\n"
    return out


def _flags(p: PackageSpec) -> str:
    flags = []
    if p.system:
        flags.append("SYSTEM")
    flags.append("HAS_CODE")
    if p.persistent:
        flags.append("PERSISTENT")
    if p.updated_system:
        flags.append("UPDATED_SYSTEM_APP")
    flags.append("ALLOW_CLEAR_USER_DATA")
    return "[ " + " ".join(flags) + " ]"


def _private_flags(p: PackageSpec) -> str:
    flags = []
    if p.privileged:
        flags.append("PRIVILEGED")
    flags += ["PRIVATE_FLAG_ACTIVITIES_RESIZE_MODE_RESIZEABLE_VIA_SDK_VERSION", "ALLOW_AUDIO_PLAYBACK_CAPTURE"]
    return "[ " + " ".join(flags) + " ]"


def _package_block(profile: DeviceProfile, p: PackageSpec, *, hidden: bool = False) -> str:
    code_path = p.code_path if not hidden else str(p.original_path or p.path).rsplit("/", 1)[0]
    o = [f"  Package [{p.name}] ({_hid(p.name, hidden)}):\n", f"    userId={p.uid}\n"]
    if p.shared_user:
        o.append(f"    sharedUser=SharedUserSetting{{{_hid(p.shared_user)} {p.shared_user}/{p.uid}}}\n")
    o.append(f"    pkg=Package{{{_hid(p.name, 'pkg')} {p.name}}}\n")
    o.append(f"    codePath={code_path}\n")
    o.append(f"    resourcePath={code_path}\n")
    o.append(f"    legacyNativeLibraryDir={code_path}/lib\n")
    o.append("    primaryCpuAbi=null\n    secondaryCpuAbi=null\n")
    o.append(f"    versionCode={p.version_code} minSdk={p.min_sdk} targetSdk={p.target_sdk}\n")
    o.append(f"    versionName={p.version_name}\n")
    o.append("    splits=[base" + "".join(f", {s}" for s in p.splits) + "]\n")
    o.append("    apkSigningVersion=2\n")
    o.append(f"    applicationInfo=ApplicationInfo{{{_hid(p.name, 'ai')} {p.name}}}\n")
    o.append(f"    flags={_flags(p)}\n")
    o.append(f"    privateFlags={_private_flags(p)}\n")
    o.append(f"    dataDir=/data/user/0/{p.name}\n")
    o.append("    supportsScreens=[small, medium, large, xlarge, resizeable, anyDensity]\n")
    o.append(f"    timeStamp={p.last_update}\n")
    o.append(f"    firstInstallTime={p.first_install}\n")
    o.append(f"    lastUpdateTime={p.last_update}\n")
    if p.installer:
        o.append(f"    installerPackageName={p.installer}\n")
    local = (profile.files.get(p.original_path) if hidden and p.original_path else profile.files.get(p.path))
    hashes = apk_signature_hashes(local.local) if local is not None and local.local is not None else []
    o.append(f"    signatures=PackageSignatures{{{_hid(p.name, 'sig')} version:2, "
             f"signatures:[{', '.join(hashes or [_hid(p.name, 'cert')])}], past signatures:[]}}\n")
    o.append("    installPermissionsFixed=true\n")
    o.append(f"    pkgFlags={_flags(p)}\n")
    if p.requested_permissions:
        o.append("    requested permissions:\n")
        o += [f"      {perm}\n" for perm in p.requested_permissions]
    if p.install_permissions:
        o.append("    install permissions:\n")
        o += [f"      {perm}: granted=true\n" for perm in p.install_permissions]
    for user in p.users:
        inode = 1000 + p.uid % 9000
        if sdk_of(profile) >= 30:  # Android 11+: device-encrypted inode and distraction flags
            o.append(f"    User {user}: ceDataInode={inode} deDataInode={inode + 1} installed=true hidden=false "
                     f"suspended=false distractionFlags=0 stopped=false notLaunched=false enabled={p.enabled} "
                     "instant=false virtual=false\n")
        else:
            o.append(f"    User {user}: ceDataInode={inode} installed=true hidden=false suspended=false "
                     f"stopped=false notLaunched=false enabled={p.enabled} instant=false virtual=false\n")
        if p.runtime_permissions:
            o.append("      runtime permissions:\n")
            o += [f"        {perm}: granted=true, flags=[ USER_SET ]\n" for perm in p.runtime_permissions]
    return "".join(o)


def dumpsys_package(profile: DeviceProfile, only: str | None = None) -> str:
    pkgs = [p for p in profile.spec.packages if only is None or p.name == only]
    if only is not None and not pkgs:
        return f"Unable to find package: {only}\n"
    o = []
    if only is None:
        o.append("Database versions:\n  Internal:\n    sdkVersion=29 databaseVersion=3\n    fingerprint="
                 f"{profile.prop('ro.build.fingerprint')}\n\n")
        o.append("Verifiers:\n  Required: com.android.vending (uid=10052)\n\n")
    o.append("Packages:\n")
    o += [_package_block(profile, p) for p in pkgs]
    hidden = [p for p in pkgs if p.updated_system]
    if hidden:
        o.append("\nHidden system packages:\n")
        o += [_package_block(profile, p, hidden=True) for p in hidden]
    shared = sorted({(p.shared_user, p.uid) for p in pkgs if p.shared_user})
    if shared and only is None:
        o.append("\nShared users:\n")
        for name, uid in shared:
            o.append(f"  SharedUser [{name}] ({_hid(name)}):\n    userId={uid}\n")
    return "".join(o)


def settings_list(profile: DeviceProfile, namespace: str) -> str:
    values = profile.settings(namespace)
    return "".join(f"{k}={v}\n" for k, v in sorted(values.items()))


def sdk_of(profile: DeviceProfile) -> int:
    sdk = profile.prop("ro.build.version.sdk", "29")
    return int(sdk) if sdk.isdigit() else 29


def dumpsys_alarm(profile: DeviceProfile) -> str:
    """Android 10's batch layout, or Android 12+'s flat "Pending alarms" list when the profile's SDK is >= 31."""
    if sdk_of(profile) >= 31:
        return _dumpsys_alarm_12(profile)
    now_rtc = 1_600_000_000_000
    o = ["Current Alarm Manager state:\n", "  Settings:\n", "    min_futurity=+5s0ms\n",
         "    min_interval=+1m0s0ms\n", "\n",
         f"  nowRTC={now_rtc}=2020-09-13 12:26:40.000 nowELAPSED=+3h12m5s300ms\n",
         f"  mLastTimeChangeClockTime={now_rtc - 3600000}=2020-09-13 11:26:40\n", "\n",
         f"  Pending alarm batches: {len(profile.spec.alarms)}\n"]
    type_no = {"RTC_WAKEUP": 0, "RTC": 1, "ELAPSED_WAKEUP": 2, "ELAPSED": 3}
    for n, a in enumerate(profile.spec.alarms):
        interval_ms = a.repeat_seconds * 1000
        delay = max(interval_ms, 60000)
        o.append(f"Batch{{{_hid('batch', n)} num=1 start={11525300 + delay} end={11525300 + delay}}}:\n")
        tag = a.tag or _alarm_tag(a)
        o.append(f"    {a.type} #0: Alarm{{{_hid('alarm', n)} type {type_no[a.type]} when {now_rtc + delay} "
                 f"{a.package}}}\n")
        o.append(f"      tag={tag}\n")
        o.append(f"      type={type_no[a.type]} expectedWhenElapsed=+{delay // 60000}m0s0ms "
                 f"expectedMaxWhenElapsed=+{delay // 60000}m0s0ms whenElapsed=+{delay // 60000}m0s0ms "
                 f"maxWhenElapsed=+{delay * 3 // 2 // 60000}m0s0ms\n")
        o.append(f"      when=2020-09-13 12:56:40.000 window=+{delay // 2 // 60000}m0s0ms "
                 f"repeatInterval={interval_ms} count=0 flags=0x0\n")
        o.append(f"      operation=PendingIntent{{{_hid('pi', n)}: PendingIntentRecord{{{_hid('pir', n)} "
                 f"{a.package} broadcastIntent}}}}\n")
    o.append("\n  Alarm Stats:\n")
    for a in profile.spec.alarms:
        p = profile.package(a.package)
        uid = p.uid if p else 1000
        o.append(f"  {a.package} +12ms running, 6 wakeups:\n")
        o.append(f"    {uid_name(uid)}:{a.package} +12ms 6 wakes 6 alarms, last -2m0s0ms:\n")
    return "".join(o)


def _alarm_tag(alarm: AlarmSpec) -> str:
    """AlarmManagerService.makeTag: wakeup alarms are tagged *walarm*:, the others (RTC, ELAPSED) *alarm*:."""
    prefix = "*walarm*:" if alarm.type.endswith("WAKEUP") else "*alarm*:"
    return prefix + (alarm.action or alarm.package + ".ALARM")


def _dumpsys_alarm_12(profile: DeviceProfile) -> str:
    now_rtc, now_elapsed = 1_652_248_800_000, 12_325_300
    o = ["Current Alarm Manager state:\n", "  Settings:\n", "    version=0\n", "    min_futurity=+5s0ms\n",
         "    min_interval=+1m0s0ms\n", "\n", f"  nowRTC={now_rtc}=2022-05-11 08:00:00.000 nowELAPSED={now_elapsed}\n",
         "\n", f"  Pending alarms: {len(profile.spec.alarms)}\n"]
    type_no = {"RTC_WAKEUP": 0, "RTC": 1, "ELAPSED_WAKEUP": 2, "ELAPSED": 3}
    for n, a in enumerate(profile.spec.alarms):
        interval_ms = a.repeat_seconds * 1000
        delay = max(interval_ms, 60000)
        minutes = delay // 60000
        tag = a.tag or _alarm_tag(a)
        o.append(f"    {a.type} #{n}: Alarm{{{_hid('alarm', n)} type {type_no[a.type]} origWhen {now_rtc + delay} "
                 f"whenElapsed {now_elapsed + delay} {a.package}}}\n")
        o.append(f"      tag={tag}\n")
        o.append(f"      type={a.type} origWhen=2022-05-11 08:{minutes % 60:02d}:00.000 window=+{minutes // 2}m0s0ms "
                 f"repeatInterval={interval_ms} count=0 flags=0x0\n")
        o.append(f"      policyWhenElapsed: requester=+{minutes}m0s0ms app_standby=-3h25m25s300ms device_idle=-- "
                 "battery_saver=-- \n")
        o.append(f"      whenElapsed=+{minutes}m0s0ms maxWhenElapsed=+{minutes * 3 // 2}m0s0ms\n")
        o.append(f"      operation=PendingIntent{{{_hid('pi', n)}: PendingIntentRecord{{{_hid('pir', n)} "
                 f"{a.package} broadcastIntent}}}}\n")
    o.append("\n  Pending user blocked background alarms: \n")
    return "".join(o)


def _duration(seconds: int) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return (f"{h}h" if h else "") + f"{m}m{s}s0ms"


def dumpsys_jobscheduler(profile: DeviceProfile) -> str:
    """JobSchedulerService's dump as the phone prints it: `Settings:` and `Registered N jobs:` at column 0 (there is
    no `Current Job Scheduler state:` header), each job two spaces in, its details four."""
    o = ["Settings:\n", "  min_idle_count=1\n", "  min_charging_count=1\n", "\n",
         f"Registered {len(profile.spec.jobs)} jobs:\n"]
    for j in profile.spec.jobs:
        who = uid_name(j.uid)
        o.append(f"  JOB #{who}/{j.job_id}: {_hid('job', j.service)} {j.service}\n")
        o.append(f"    {who} tag=*job*/{j.service}\n")
        o.append(f"    Source: uid={who} user={j.uid // 100000} pkg={j.package}\n")
        o.append("    JobInfo:\n")
        o.append(f"      Service: {j.service}\n")
        if j.persisted:
            o.append("      PERSISTED\n")
        if j.period_seconds:
            iv = _duration(j.period_seconds)
            o.append(f"      PERIODIC: interval=+{iv} flex=+{iv}\n")
        o.append("      Requires: charging=false batteryNotLow=false deviceIdle=false\n")
        if j.network:
            o.append("      Network type: NetworkRequest [ NONE id=0, [ Capabilities: "
                     "INTERNET&NOT_RESTRICTED&TRUSTED Uid: " + str(j.uid) + "] ]\n")
        o.append("      Backoff: policy=1 initial=+30s0ms\n")
        if j.network:
            o.append("    Required constraints: CONNECTIVITY\n")
        o.append("    Satisfied constraints: CONNECTIVITY DEADLINE TIMING_DELAY DEVICE_NOT_DOZING\n")
    o.append("\nPending queue:\n")
    return "".join(o)


def ps(profile: DeviceProfile, columns: list[str] | None) -> str:
    procs = profile.spec.processes
    if not columns:
        columns = ["USER", "PID", "PPID", "VSZ", "RSS", "WCHAN", "ADDR", "S", "NAME"]
    widths = {"USER": -12, "PID": 5, "PPID": 5, "VSZ": 7, "RSS": 6, "WCHAN": -20, "ADDR": 1, "S": 1, "NAME": 0}
    values = {"VSZ": "1234567", "RSS": "45678", "WCHAN": "SyS_epoll_wait", "ADDR": "0", "S": "S"}

    def row(get: dict[str, str]) -> str:
        cells = []
        for c in columns:
            w = widths.get(c, 0)
            cells.append(get[c].ljust(-w) if w < 0 else get[c].rjust(w))
        return " ".join(cells).rstrip() + "\n"

    out = [row({c: c for c in columns})]
    for p in procs:
        out.append(row({**values, "USER": p.user, "PID": str(p.pid), "PPID": str(p.ppid), "NAME": p.name}))
    return "".join(out)


_TCP_STATES = {"ESTABLISHED": 1, "SYN_SENT": 2, "SYN_RECV": 3, "FIN_WAIT1": 4, "FIN_WAIT2": 5, "TIME_WAIT": 6,
               "CLOSE": 7, "CLOSE_WAIT": 8, "LAST_ACK": 9, "LISTEN": 10, "CLOSING": 11}


def _split_addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _hex_addr(text: str, v6: bool) -> str:
    """The kernel prints each 32-bit word of the address in host (little-endian) byte order."""
    host, port = _split_addr(text)
    ip = ipaddress.ip_address(host)
    if v6 and ip.version == 4:
        ip = ipaddress.IPv6Address(f"::ffff:{host}")
    raw = ip.packed
    words = "".join(raw[i:i + 4][::-1].hex().upper() for i in range(0, len(raw), 4))
    return f"{words}:{port:04X}"


def proc_net(profile: DeviceProfile, proto: str) -> str:
    v6 = proto.endswith("6")
    if v6:
        header = ("  sl  local_address                         remote_address                        st tx_queue "
                  "rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
    else:
        header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    if proto.startswith("udp"):
        header = " " + header.rstrip("\n") + " ref pointer drops\n"
    socks: list[SocketSpec] = [s for s in profile.spec.sockets if s.proto == proto]
    out = [header]
    for n, s in enumerate(socks):
        state = _TCP_STATES.get(s.state, 7) if proto.startswith("tcp") else 7
        inode = s.inode or 40000 + n
        line = (f"{n:4d}: {_hex_addr(s.local, v6)} {_hex_addr(s.remote, v6)} {state:02X} 00000000:00000000 "
                f"00:00000000 00000000 {s.uid:5d}        0 {inode}")
        line += " 2 0000000000000000 0\n" if proto.startswith("udp") else " 1 0000000000000000 20 4 30 10 -1\n"
        out.append(line)
    return "".join(out)
