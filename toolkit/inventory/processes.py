"""`ps` output → ProcessRecord, with user names mapped to UIDs.

Two formats: toybox (Android 8+) ``ps -A -o USER,PID,PPID,NAME`` (any column set with USER, PID and NAME), and
the old toolbox ``ps`` (Android ≤ 7): ``USER PID PPID VSIZE RSS WCHAN PC NAME`` where every row carries one more
column than the header (the state letter before NAME).
"""

from __future__ import annotations

import re

from toolkit.inventory._common import Problems, split_lines
from toolkit.models.device import ParseProblem, ProcessRecord

# android_filesystem_config.h (AID_*): names ps prints for system UIDs.
ANDROID_IDS: dict[str, int] = {
    "root": 0, "system": 1000, "radio": 1001, "bluetooth": 1002, "graphics": 1003, "input": 1004, "audio": 1005,
    "camera": 1006, "log": 1007, "compass": 1008, "mount": 1009, "wifi": 1010, "adb": 1011, "install": 1012,
    "media": 1013, "dhcp": 1014, "sdcard_rw": 1015, "vpn": 1016, "keystore": 1017, "usb": 1018, "drm": 1019,
    "mdnsr": 1020, "gps": 1021, "media_rw": 1023, "mtp": 1024, "drmrpc": 1026, "nfc": 1027, "sdcard_r": 1028,
    "clat": 1029, "loop_radio": 1030, "mediadrm": 1031, "package_info": 1032, "sdcard_pics": 1033,
    "sdcard_av": 1034, "sdcard_all": 1035, "logd": 1036, "shared_relro": 1037, "dbus": 1038, "tlsdate": 1039,
    "mediaex": 1040, "audioserver": 1041, "metrics_coll": 1042, "metricsd": 1043, "webserv": 1044,
    "debuggerd": 1045, "mediacodec": 1046, "cameraserver": 1047, "firewall": 1048, "trunks": 1049, "nvram": 1050,
    "dns": 1051, "dns_tether": 1052, "webview_zygote": 1053, "vehicle_network": 1054, "media_audio": 1055,
    "media_video": 1056, "media_image": 1057, "tombstoned": 1058, "media_obb": 1059, "ese": 1060,
    "ota_update": 1061, "automotive_evs": 1062, "lowpan": 1063, "hsm": 1064, "reserved_disk": 1065,
    "statsd": 1066, "incidentd": 1067, "secure_element": 1068, "lmkd": 1069, "llkd": 1070, "iorapd": 1071,
    "gpu_service": 1072, "network_stack": 1073, "gsid": 1074, "fsverity_cert": 1075, "credstore": 1076,
    "external_storage": 1077, "ext_data_rw": 1078, "ext_obb_rw": 1079, "context_hub": 1080, "virtualizationservice": 1081,
    "artd": 1082, "uwb": 1083, "thread_network": 1084, "diced": 1085, "dmesgd": 1086, "jc_weaver": 1087,
    "jc_strongbox": 1088, "jc_identitycred": 1089, "sdk_sandbox": 1090, "security_log_writer": 1091, "prng_seeder": 1092,
    "shell": 2000, "cache": 2001, "diag": 2002, "oem_reserved_start": 2900, "net_bt_admin": 3001, "net_bt": 3002,
    "inet": 3003, "net_raw": 3004, "net_admin": 3005, "net_bw_stats": 3006, "net_bw_acct": 3007,
    "readproc": 3009, "wakelock": 3010, "uhid": 3011, "readtracefs": 3012, "everybody": 9997, "misc": 9998,
    "nobody": 9999,
}
_APP_USER = re.compile(r"^u(?P<user>\d+)_(?P<kind>a|i|ai)(?P<n>\d+)$")
_USER_SYSTEM = re.compile(r"^u(?P<user>\d+)_(?P<name>[a-z_]+)$")


def uid_for_user(name: str) -> int | None:
    """Map a ps user name to its UID: u0_a123 → 10123, u10_a5 → 1010005, u0_i7 → 99007, system → 1000."""
    if name.isdigit():
        return int(name)
    if name in ANDROID_IDS:
        return ANDROID_IDS[name]
    m = _APP_USER.match(name)
    if m:
        base = {"a": 10000, "i": 99000, "ai": 90000}[m["kind"]]
        return int(m["user"]) * 100000 + base + int(m["n"])
    m = _USER_SYSTEM.match(name)
    if m and m["name"] in ANDROID_IDS:
        return int(m["user"]) * 100000 + ANDROID_IDS[m["name"]]
    return None


def user_for_uid(uid: int) -> str:
    """The name ps prints for a UID (inverse of uid_for_user)."""
    user, app = divmod(uid, 100000)
    if app >= 99000:
        return f"u{user}_i{app - 99000}"
    if app >= 90000:
        return f"u{user}_ai{app - 90000}"
    if app >= 10000:
        return f"u{user}_a{app - 10000}"
    names = {v: k for k, v in ANDROID_IDS.items()}
    name = names.get(app, str(app))
    return name if user == 0 else f"u{user}_{name}"


def parse_ps(text: str, problems: list[ParseProblem] | None = None, source: str = "ps") -> list[ProcessRecord]:
    """Parse toybox or toolbox ps output (the header line says which columns are where)."""
    sink = Problems(source, problems)
    header: list[str] | None = None
    name_start = 0
    out: list[ProcessRecord] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if header is None:
            if "PID" not in fields or "USER" not in fields or not ({"NAME", "CMD", "ARGS", "COMMAND"} & set(fields)):
                sink.add("no ps header with USER, PID and NAME columns", number, line)
                return out
            header = fields
            name_col = next(c for c in ("NAME", "CMD", "ARGS", "COMMAND") if c in header)
            name_start = header.index(name_col)
            # toolbox ps: rows have an unlabelled state column (S) just before NAME.
            if "PC" in header and "S" not in header and name_col == "NAME":
                name_start += 1
            continue
        parts = line.split(None, name_start)
        if len(parts) <= name_start:
            sink.add(f"ps row has {len(parts)} columns, expected at least {name_start + 1}", number, line)
            continue
        try:
            pid = int(parts[header.index("PID")])
            ppid = int(parts[header.index("PPID")]) if "PPID" in header else None
        except ValueError:
            sink.add("ps row with a non-numeric PID/PPID", number, line)
            continue
        user = parts[header.index("USER")]
        out.append(ProcessRecord(user=user, pid=pid, ppid=ppid, name=parts[name_start].strip(), uid=uid_for_user(user)))
    if header is None:
        sink.add("empty ps output")
    return out
