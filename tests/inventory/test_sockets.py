from __future__ import annotations

import pytest

from toolkit.inventory.packages import parse_dumpsys_package
from toolkit.inventory.sockets import decode_address, map_socket_owners, parse_proc_net
from toolkit.models.device import PackageRecord, ParseProblem

from .conftest import raw


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0100007F:1F90", ("127.0.0.1", 8080)),
        ("140A582F:1F90", ("47.88.10.20", 8080)),
        ("0000000000000000FFFF0000140A582F:1F90", ("47.88.10.20", 8080)),  # IPv4-mapped IPv6
        ("00000000000000000000000001000000:0035", ("::1", 53)),
        ("B80D012002000400000000001F000000:01BB", ("2001:db8:4:2::1f", 443)),
        ("00000000000000000000000000000000:0000", ("::", 0)),
    ],
)
def test_decode_address(text: str, expected: tuple[str, int]) -> None:
    assert decode_address(text) == expected


def test_decode_address_rejects_bad_length() -> None:
    with pytest.raises(ValueError):
        decode_address("7F01:0050")


def test_tcp6_mapped_remote_vendor_host_android10() -> None:
    socks = parse_proc_net(raw("android10", "proc_net_tcp6"), "tcp6")
    first = socks[0]
    assert (first.protocol, first.local_address, first.local_port) == ("tcp6", "192.168.1.23", 43122)
    assert (first.remote_address, first.remote_port, first.state) == ("47.88.10.20", 8080, "ESTABLISHED")
    assert (first.uid, first.inode) == (1000, 81234)
    assert first.is_remote
    assert socks[1].state == "TIME_WAIT" and socks[1].uid == 0
    assert socks[2].remote_address == "2a00:1450:4001:82b::200e"
    assert socks[3].state == "LISTEN" and not socks[3].is_remote


def test_tcp_and_udp_states() -> None:
    tcp = parse_proc_net(raw("android10", "proc_net_tcp"), "tcp")
    assert [s.state for s in tcp] == ["LISTEN", "LISTEN", "ESTABLISHED"]
    assert tcp[2].remote_address == "203.0.113.9" and tcp[2].remote_port == 443
    udp = parse_proc_net(raw("android10", "proc_net_udp"), "udp")
    assert [s.state for s in udp] == ["UNCONNECTED", "CONNECTED"]
    assert udp[1].remote_address == "192.168.1.1" and udp[1].remote_port == 123
    udp6 = parse_proc_net(raw("android10", "proc_net_udp6"), "udp6")
    assert udp6[1].remote_address == "47.88.10.20" and udp6[1].remote_port == 8888


def test_header_only_tables_are_empty_without_problems() -> None:
    problems: list[ParseProblem] = []
    assert parse_proc_net(raw("android7", "proc_net_udp"), "udp", problems) == []
    assert problems == []


def test_uid_maps_to_all_packages_of_a_shared_uid_android10() -> None:
    packages = parse_dumpsys_package(raw("android10", "dumpsys_package"))
    socks = parse_proc_net(raw("android10", "proc_net_tcp6"), "tcp6")
    map_socket_owners(socks, packages)
    vendor = socks[0]
    assert vendor.remote_address == "47.88.10.20"
    assert vendor.packages == ["android", "com.android.settings", "com.vendor.cloudmsg"]
    assert vendor.owner == "android.uid.system"
    assert socks[2].packages == ["com.brightlight.flashlight"] and socks[2].owner == "u0_a87"
    assert socks[1].packages == [] and socks[1].owner == "root"  # TIME_WAIT sockets belong to no one


def test_secondary_user_socket_maps_through_app_id() -> None:
    packages = parse_dumpsys_package(raw("android12", "dumpsys_package"))
    socks = parse_proc_net(raw("android12", "proc_net_tcp6"), "tcp6")
    map_socket_owners(socks, packages)
    assert socks[1].uid == 1010211
    assert socks[1].packages == ["com.popular.messenger"] and socks[1].owner == "u10_a211"


def test_uid_without_package_gets_well_known_owner() -> None:
    socks = parse_proc_net(raw("android10", "proc_net_tcp"), "tcp")
    map_socket_owners(socks, [PackageRecord(name="com.other", uid=10099)])
    assert socks[0].owner == "root" and socks[0].packages == []
    udp = parse_proc_net(raw("android10", "proc_net_udp"), "udp")
    map_socket_owners(udp, [])
    assert udp[0].owner == "android.uid.system"


def test_garbage_lines_are_reported() -> None:
    problems: list[ParseProblem] = []
    text = raw("android10", "proc_net_tcp") + "   3: ZZZZZZZZ:0050 00000000:0000 0A 0 0 0 0 0 0 0\n   4: 0100007F\n"
    socks = parse_proc_net(text, "tcp", problems)
    assert len(socks) == 3
    assert [p.line for p in problems] == [5, 6]
    assert problems[0].source == "proc_net_tcp"


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError):
        parse_proc_net("", "sctp")
