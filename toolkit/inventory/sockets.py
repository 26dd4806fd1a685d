"""/proc/net/{tcp,tcp6,udp,udp6} → SocketRecord, with the owning UID mapped to packages.

The kernel prints each address as 32-bit words in host byte order (little-endian on every Android ABI), so
``0100007F:1F90`` is 127.0.0.1:8080 and an IPv6 address is four such words. IPv4-mapped IPv6 addresses
(``::ffff:a.b.c.d``, what a dual-stack Java socket to an IPv4 host shows in tcp6) are reported in dotted IPv4
form so that the same remote host reads the same in tcp and tcp6.
"""

from __future__ import annotations

import ipaddress
from typing import Literal, cast

from toolkit.inventory._common import Problems, split_lines
from toolkit.inventory.processes import user_for_uid
from toolkit.models.device import PackageRecord, ParseProblem, SocketRecord

Protocol = Literal["tcp", "tcp6", "udp", "udp6"]
PROTOCOLS: tuple[Protocol, ...] = ("tcp", "tcp6", "udp", "udp6")

# include/net/tcp_states.h
TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE",
    8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
}

# Shared UIDs that are not apps: what to call them when no package is known for them.
WELL_KNOWN_UIDS = {0: "root", 1000: "android.uid.system", 1001: "android.uid.phone", 1002: "android.uid.bluetooth",
                   1010: "wifi", 1013: "media", 1021: "gps", 1027: "android.uid.nfc", 1051: "dns",
                   1073: "android.uid.networkstack", 2000: "android.uid.shell"}


def decode_address(text: str) -> tuple[str, int]:
    """Decode ``HEXADDR:HEXPORT`` from /proc/net/* into (address, port)."""
    hex_addr, sep, hex_port = text.partition(":")
    if not sep or len(hex_addr) not in (8, 32):
        raise ValueError(f"bad address {text!r}")
    raw = bytes.fromhex(hex_addr)
    packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(packed)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(hex_port, 16)


def parse_proc_net(
    text: str, protocol: str, problems: list[ParseProblem] | None = None, source: str | None = None
) -> list[SocketRecord]:
    """Parse one /proc/net table. ``protocol`` is tcp, tcp6, udp or udp6. Packages are not mapped here."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r} (tcp, tcp6, udp or udp6)")
    proto = cast(Protocol, protocol)
    sink = Problems(source or f"proc_net_{protocol}", problems)
    out: list[SocketRecord] = []
    for number, line in enumerate(split_lines(text), start=1):
        fields = line.split()
        if not fields or fields[0] == "sl":
            continue
        if len(fields) < 10 or not fields[0].endswith(":"):
            sink.add("not a socket line (truncated?)", number, line.strip())
            continue
        try:
            local, lport = decode_address(fields[1])
            remote, rport = decode_address(fields[2])
            code = int(fields[3], 16)
            uid = int(fields[7])
            inode = int(fields[9])
        except ValueError as exc:
            sink.add(f"unreadable socket line: {exc}", number, line.strip())
            continue
        state = TCP_STATES.get(code, f"0x{code:02X}")
        if proto.startswith("udp"):
            # UDP reuses the TCP codes: 07 unconnected, 01 connected.
            state = {7: "UNCONNECTED", 1: "CONNECTED"}.get(code, state)
        out.append(SocketRecord(protocol=proto, local_address=local, local_port=lport, remote_address=remote,
                                remote_port=rport, state=state, uid=uid, inode=inode))
    return out


def map_socket_owners(sockets: list[SocketRecord], packages: list[PackageRecord]) -> None:
    """Fill ``packages`` and ``owner`` of each socket from its UID (in place).

    Matches the exact UID, else the app id (uid % 100000) for sockets of secondary users; a shared UID maps to
    every package that uses it. ``owner`` names the UID: the shared user (android.uid.system for 1000, from
    dumpsys or the well-known list), else the name ps shows (u0_a87, root, radio).
    """
    by_uid: dict[int, list[str]] = {}
    shared: dict[int, str] = {}
    for p in packages:
        if p.uid is not None:
            by_uid.setdefault(p.uid, []).append(p.name)
            if p.shared_user:
                shared[p.uid] = p.shared_user
    for s in sockets:
        app_id = s.uid % 100000
        s.packages = sorted(set(by_uid.get(s.uid) or by_uid.get(app_id) or []))
        s.owner = shared.get(s.uid) or shared.get(app_id) or WELL_KNOWN_UIDS.get(app_id) or user_for_uid(s.uid)
