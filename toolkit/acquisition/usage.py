"""The usage-record collectors: what the phone recorded about what its apps did, and the settings that give an app
power. Each is a (key, commands) pair; device.py turns them into Collectors and its allow-list (the one place the
read-only rule is enforced) holds the exact patterns. Why each command is read-only:

- ``dumpsys appops`` / ``usagestats`` / ``accessibility`` / ``device_policy`` / ``iphonesubinfo`` and
  ``dumpsys activity services``: plain dumps of service state, no arguments that act.
- ``dumpsys netstats --full --uid`` (``detail`` on some builds): prints the complete per-UID history. ``--poll``
  (which makes the service poll and persist counters) is deliberately not allowed.
- ``dumpsys batterystats -c``: the checkin format. NOT ``--checkin``: that is a "real check-in" which prints the
  saved check-in file and then DELETES it (/data/system/batterystats-checkin.bin); ``-c`` prints the same format
  and deletes nothing. ``--reset``, ``--write``, ``enable``/``disable`` are not allowed either.
- ``cmd role get-role-holders android.app.role.SMS|DIALER`` (Android 10+; older versions answer "Can't find service:
  role" and the secure settings ``sms_default_application`` / ``dialer_default_application`` are used instead).
- ``logcat -d ... -t N``: dump and exit, last N lines (``-c`` clears and ``-G`` resizes: not allowed). Android 7+
  take the comma-separated buffer list; the fallback names each buffer with its own ``-b``.
- ``cat /sys/class/net/wlan0/address``: the Wi-Fi MAC (Android 10+ deny it to the shell user: recorded).

Notification listeners, accessibility services, the defaults before roles and the always-on VPN are secure settings
already collected by ``settings list secure``.
"""

from __future__ import annotations

from toolkit.inventory.logcat import LOGCAT_LINES

USAGE_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dumpsys_appops", ("dumpsys appops",)),
    ("dumpsys_netstats", ("dumpsys netstats --full --uid", "dumpsys netstats detail")),
    ("dumpsys_usagestats", ("dumpsys usagestats",)),
    ("dumpsys_batterystats", ("dumpsys batterystats -c",)),
    ("dumpsys_activity_services", ("dumpsys activity services",)),
    ("dumpsys_accessibility", ("dumpsys accessibility",)),
    ("dumpsys_device_policy", ("dumpsys device_policy",)),
    ("dumpsys_iphonesubinfo", ("dumpsys iphonesubinfo",)),
    ("role_sms", ("cmd role get-role-holders android.app.role.SMS",)),
    ("role_dialer", ("cmd role get-role-holders android.app.role.DIALER",)),
    ("logcat", (f"logcat -d -b main,system,crash,events -t {LOGCAT_LINES}",
                f"logcat -d -b main -b system -b crash -b events -t {LOGCAT_LINES}",
                f"logcat -d -t {LOGCAT_LINES}")),
    ("wifi_mac", ("cat /sys/class/net/wlan0/address",)),
)
