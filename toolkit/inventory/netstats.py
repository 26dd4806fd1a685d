"""`dumpsys netstats --full --uid` (or `detail`) → NetstatsHistory: per-UID traffic in time buckets.

NetworkStatsService prints several recorders (``Dev stats:``, ``Xt stats:``, ``UID stats:``, ``UID tag stats:``).
Only ``UID stats:`` is read: one key line per (network identity, uid, set, tag)

    ident=[{type=MOBILE, subType=COMBINED, subscriberId=310260..., metered=true}] uid=10087 set=DEFAULT tag=0x0
      NetworkStatsHistory: bucketDuration=7200
        st=1600581600 rb=2345 rp=12 tb=1203 tp=9 op=0

(Android 12+ prints ``ratType=`` instead of ``subType=``, Android 13/14 ``wifiNetworkKey=``, ``oemManaged=`` and
``subId=``; the key line is the same.) ``st`` is epoch seconds, ``bucketDuration`` seconds. Without ``--full``
only the last 32 buckets of each history are printed, preceded by ``(omitting N buckets)``: that is recorded as a
problem, since the history read is then partial. ``set=DEFAULT`` is background traffic, ``set=FOREGROUND``
traffic while the app was in the foreground.
"""

from __future__ import annotations

import re

from toolkit.inventory._common import Problems, split_lines
from toolkit.models.device import ParseProblem
from toolkit.models.usage import NetstatsBucket, NetstatsHistory

_SECTION = re.compile(r"^\s*(?P<name>[A-Za-z][A-Za-z ]* stats):\s*$")
_KEY = re.compile(r"^\s*ident=\[(?P<ident>.*)\] uid=(?P<uid>-?\d+) set=(?P<set>\S+) tag=(?P<tag>0x[0-9a-fA-F]+)\s*$")
_HISTORY = re.compile(r"^\s*NetworkStatsHistory: bucketDuration=(?P<d>\d+)\s*$")
_BUCKET = re.compile(r"^\s*st=(?P<st>\d+)(?P<rest>(?: [a-z]+=-?\d+)*)\s*$")
_FIELD = re.compile(r" (?P<k>[a-z]+)=(?P<v>-?\d+)")
_OMIT = re.compile(r"^\s*\(omitting (?P<n>\d+) buckets\)")
_SKIP = re.compile(r"^\s*(?:Pending bytes|Complete history|History since boot|History since|Active|mActive|"
                   r"Dev |Xt |Uid |\w[\w ]*:$)")


def parse_dumpsys_netstats(text: str, problems: list[ParseProblem] | None = None,
                           source: str = "dumpsys_netstats") -> list[NetstatsHistory]:
    """The UID histories (tag 0x0: whole-UID traffic) of the ``UID stats:`` section."""
    probs = Problems(source, problems)
    out: list[NetstatsHistory] = []
    section = ""
    current: NetstatsHistory | None = None
    pending_key: dict[str, str] | None = None
    saw_uid_section = False
    for n, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        m = _SECTION.match(line)
        if m:
            section = m["name"]
            saw_uid_section = saw_uid_section or section == "UID stats"
            current, pending_key = None, None
            continue
        if section != "UID stats":
            continue
        m = _KEY.match(line)
        if m:
            pending_key = m.groupdict()
            current = None
            continue
        m = _HISTORY.match(line)
        if m:
            if pending_key is None:
                probs.add("history without an ident= line", n, line)
                continue
            ident = pending_key["ident"]
            t = re.search(r"type=(\w+)", ident)
            metered = re.search(r"metered=(true|false)", ident)
            current = NetstatsHistory(uid=int(pending_key["uid"]), set=pending_key["set"], tag=pending_key["tag"],
                                      network_type=t[1] if t else None,
                                      metered=(metered[1] == "true") if metered else None,
                                      ident_raw=ident[:300], bucket_seconds=int(m["d"]))
            if current.tag.lower() in ("0x0", "0x00000000"):
                out.append(current)  # tagged sub-totals double-count the UID's traffic: not kept
            continue
        m = _BUCKET.match(line)
        if m:
            if current is None:
                if pending_key is None:
                    probs.add("bucket outside a history", n, line)
                continue
            f = {k: int(v) for k, v in _FIELD.findall(m["rest"])}
            current.buckets.append(NetstatsBucket(start=int(m["st"]), rx_bytes=f.get("rb", 0),
                                                  rx_packets=f.get("rp", 0), tx_bytes=f.get("tb", 0),
                                                  tx_packets=f.get("tp", 0), operations=f.get("op", 0)))
            continue
        m = _OMIT.match(line)
        if m:
            probs.add(f"history cut by dumpsys: {m['n']} older buckets omitted (collect with --full)", n, line)
            continue
        if _SKIP.match(line):
            continue
        probs.add("unrecognised line in the UID stats section", n, line)
    if text.strip() and not saw_uid_section:
        probs.add("no 'UID stats:' section: per-UID traffic not in this output")
    return out
