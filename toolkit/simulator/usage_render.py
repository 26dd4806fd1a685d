"""Render a profile's usage records as Android 10 prints them: dumpsys appops / netstats / usagestats /
batterystats -c / activity services / accessibility / device_policy / iphonesubinfo, cmd role, logcat.

Everything derives from the profile's `usage:` section and its fixed `now`, so the outputs are consistent with each
other (the netstats buckets hold the same transmissions the batterystats totals and the demo capture show) and the
same on every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from toolkit.simulator.profile import DeviceProfile, TrafficSpec, UsageSpec

_FMT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Transmission:
    """One burst of a UID's traffic: when (epoch seconds, UTC), bytes sent and received."""

    at: int
    tx: int
    rx: int


def now_of(usage: UsageSpec) -> datetime:
    return datetime.strptime(usage.now, _FMT)


def now_epoch(usage: UsageSpec) -> int:
    """The dump time as epoch seconds: local `now` minus the UTC offset."""
    from datetime import UTC

    return int((now_of(usage) - timedelta(minutes=usage.utc_offset_minutes)).replace(tzinfo=UTC).timestamp())


def transmissions(usage: UsageSpec, traffic: TrafficSpec) -> list[Transmission]:
    """The UID's bursts over the profile's history window, periodic or irregular (seeded by the UID)."""
    end = now_epoch(usage)
    start = end - usage.history_hours * 3600
    out: list[Transmission] = []
    if traffic.period_seconds:
        t = start + traffic.offset_seconds
        i = 0
        while t < end:
            tx = traffic.tx_bytes[i % len(traffic.tx_bytes)]
            out.append(Transmission(t, tx, int(tx * traffic.rx_ratio)))
            t += traffic.period_seconds
            i += 1
    if traffic.random_per_day:
        rnd = random.Random(traffic.uid * 7919 + len(traffic.set))
        count = traffic.random_per_day * usage.history_hours // 24
        for t in sorted(rnd.randrange(start, end) for _ in range(count)):
            tx = rnd.choice(traffic.tx_bytes) + rnd.randrange(0, 5000)
            out.append(Transmission(t, tx, int(tx * traffic.rx_ratio)))
    return sorted(out, key=lambda x: x.at)


def _duration(seconds: float) -> str:
    """TimeUtils.formatDuration of a negative offset: -1h2m3s456ms."""
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    text = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s{ms}ms"
    return "-" + text


def dumpsys_appops(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    lines = ["Current AppOps Service state:", "  Settings:", "    top_state_settle_time=+30s0ms",
             "    fg_service_state_settle_time=+10s0ms", "    bg_state_settle_time=+1s0ms", ""]
    if usage is None:
        return "\n".join(lines) + "\n"
    now = now_of(usage)
    by_uid: dict[int, dict[str, list[str]]] = {}
    for op in usage.appops:
        pkg = profile.package(op.package)
        uid = pkg.uid if pkg else 1000
        block = by_uid.setdefault(uid, {}).setdefault(op.package, [])
        block.append(f"      {op.op} ({op.mode}):")
        if op.minutes_ago is not None:
            when = now - timedelta(minutes=op.minutes_ago)
            block.append(f"        Access: [{op.state}-s] {when.strftime(_FMT)}.{when.microsecond // 1000:03d} "
                         f"({_duration(op.minutes_ago * 60)})")
    for uid in sorted(by_uid):
        lines += [f"  Uid {uid}:", "    state=pers" if uid < 10000 else "    state=cch"]
        for pkg_name, block in by_uid[uid].items():
            lines.append(f"    Package {pkg_name}:")
            lines += block
    return "\n".join(lines) + "\n"


def _buckets(usage: UsageSpec, traffic: TrafficSpec) -> dict[int, tuple[int, int, int, int]]:
    size = usage.bucket_seconds
    out: dict[int, tuple[int, int, int, int]] = {}
    for t in transmissions(usage, traffic):
        st = t.at - t.at % size
        rb, rp, tb, tp = out.get(st, (0, 0, 0, 0))
        out[st] = (rb + t.rx, rp + t.rx // 1400 + 2, tb + t.tx, tp + t.tx // 1400 + 3)
    return out


_IDENT = {"WIFI": '{type=WIFI, subType=COMBINED, networkId="HomeNet", metered=false, defaultNetwork=true}',
          "MOBILE": "{type=MOBILE, subType=COMBINED, subscriberId=999990..., metered=true, defaultNetwork=true}"}


def dumpsys_netstats(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    lines = ["Active interfaces:", f"  iface=wlan0 ident=[{_IDENT['WIFI']}]", "Dev stats:", "  Pending bytes: 0",
             "  Complete history:", "Xt stats:", "  Pending bytes: 0", "  Complete history:", "UID stats:",
             "  Pending bytes: 0", "  Complete history:"]
    for traffic in (usage.traffic if usage else []):
        lines += [f"  ident=[{_IDENT[traffic.network]}] uid={traffic.uid} set={traffic.set} tag=0x0",
                  f"    NetworkStatsHistory: bucketDuration={usage.bucket_seconds if usage else 7200}"]
        for st, (rb, rp, tb, tp) in sorted(_buckets(usage, traffic).items()) if usage else []:
            lines.append(f"      st={st} rb={rb} rp={rp} tb={tb} tp={tp} op=0")
    lines += ["UID tag stats:", "  Pending bytes: 0", "  Complete history:"]
    return "\n".join(lines) + "\n"


def dumpsys_usagestats(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    lines = ["user=0"]
    if usage is None:
        return "user=0\n"
    now = now_of(usage)
    lines.append("  Last 24 hour events (timeRange=\"…\")")
    for pkg, minutes in sorted(usage.last_used.items(), key=lambda kv: -kv[1]):
        start = now - timedelta(minutes=minutes + 2)
        end = now - timedelta(minutes=minutes)
        for when, kind in ((start, "ACTIVITY_RESUMED"), (end, "ACTIVITY_PAUSED")):
            lines.append(f'    time="{when.strftime(_FMT)}" type={kind} package={pkg} class={pkg}.MainActivity '
                         f"instanceId=1 taskRootPackage={pkg} taskRootClass={pkg}.MainActivity")
    lines += ["  In-memory daily stats", "  packages"]
    for pkg, minutes in sorted(usage.last_used.items()):
        end = now - timedelta(minutes=minutes)
        lines.append(f'    package={pkg} totalTimeUsed="02:00" lastTimeUsed="{end.strftime(_FMT)}" '
                     f'totalTimeVisible="02:00" lastTimeVisible="{end.strftime(_FMT)}" totalTimeFS="00:00" '
                     f'lastTimeFS="1970-01-01 01:00:00" appLaunchCount=1')
    return "\n".join(lines) + "\n"


def dumpsys_batterystats(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    lines = ["9,0,i,vers,35,188,QP1A.190711.020,QP1A.190711.020"]
    for p in profile.spec.packages:
        lines.append(f"9,0,i,uid,{p.uid},{p.name}")
    for traffic in (usage.traffic if usage else []):
        sent = transmissions(usage, traffic) if usage else []
        tx, rx = sum(t.tx for t in sent), sum(t.rx for t in sent)
        wifi = traffic.network == "WIFI"
        lines.append(f"9,{traffic.uid},l,nt,{0 if wifi else rx},{0 if wifi else tx},{rx if wifi else 0},"
                     f"{tx if wifi else 0},0,0,0,0,0,0,0,0,0,0,0,0,0,0")
        if traffic.period_seconds:
            lines.append(f"9,{traffic.uid},l,wl,*alarm*,0,f,0,{len(sent) * 40},p,{len(sent)},0,bp,0,0,w,0")
    for alarm in profile.spec.alarms:
        pkg = profile.package(alarm.package)
        if pkg is not None and usage is not None and alarm.repeat_seconds:
            fired = usage.history_hours * 3600 // alarm.repeat_seconds
            lines.append(f"9,{pkg.uid},l,wua,*walarm*:{alarm.action or alarm.tag},{fired}")
    return "\n".join(lines) + "\n"


def dumpsys_activity_services(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    lines = ["ACTIVITY MANAGER SERVICES (dumpsys activity services)", "  User 0 active services:"]
    for comp in (usage.services if usage else []):
        pkg_name = comp.split("/", 1)[0]
        pkg = profile.package(pkg_name)
        lines += [f"  * ServiceRecord{{5a1b2c3 u0 {comp}}}", f"    intent={{cmp={comp}}}",
                  f"    packageName={pkg_name}", f"    processName={pkg_name}",
                  f"    app=ProcessRecord{{1b2c3d4 1184:{pkg_name}/{pkg.uid if pkg else 1000}}}",
                  "    createTime=-4h2m11s302ms startingBgTimeout=--",
                  "    lastActivity=-4m12s40ms restartTime=-4h2m11s302ms createdFromFg=false",
                  "    startRequested=true delayedStop=false stopIfKilled=false callStart=true lastStartId=9"]
    return "\n".join(lines) + "\n"


def dumpsys_accessibility(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    enabled = ", ".join("{" + c + "}" for c in (usage.accessibility if usage else []))
    return ("ACCESSIBILITY MANAGER (dumpsys accessibility)\n\nUser state[\n     attributes:{id=0, "
            "touchExplorationEnabled=false}\n     Bound services:{}\n"
            f"     Enabled services:{{{enabled}}}\n     Binding services:{{}}\n]\n")


def dumpsys_device_policy(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    lines = ["Current Device Policy Manager state:", "  Enabled Device Admins (User 0, provisioningState: 3):"]
    for comp in (usage.device_admins if usage else []):
        pkg = profile.package(comp.split("/", 1)[0])
        lines += [f"    {comp}:", f"      uid={pkg.uid if pkg else 1000}", "      testOnlyAdmin=false",
                  "      policies:", "        force-lock"]
    lines.append("  mPasswordOwner=-1")
    return "\n".join(lines) + "\n"


def dumpsys_iphonesubinfo(profile: DeviceProfile) -> str:
    usage = profile.spec.usage
    if usage is None or not usage.subscriber_info:
        return ""
    return "Phone Subscriber Info:\n  Phone Type = GSM\n" + "".join(
        f"  {k} = {v}\n" for k, v in usage.subscriber_info.items())


def role_holders(profile: DeviceProfile, role: str) -> str | None:
    """Holders of an SMS/DIALER role, or None when the simulated version has no role service (< Android 10)."""
    usage = profile.spec.usage
    if int(profile.prop("ro.build.version.sdk", "29") or 29) < 29:
        return None
    holder = (usage.role_sms if role.endswith(".SMS") else usage.role_dialer) if usage else None
    return (holder or "") + "\n"


def logcat(profile: DeviceProfile, max_lines: int | None) -> str:
    usage = profile.spec.usage
    if usage is None:
        return ""
    now = now_of(usage)
    body = [f"{(now - timedelta(seconds=len(usage.logcat) - i)).strftime('%m-%d %H:%M:%S')}.000  1184  1201 I {m}"
            for i, m in enumerate(usage.logcat)]
    if max_lines is not None:
        body = body[-max_lines:]
    return "--------- beginning of main\n" + "".join(line + "\n" for line in body)
