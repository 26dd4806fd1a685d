"""Offline IP -> country with the bundled RIR database (iptocc)."""

from __future__ import annotations

from toolkit.analysis.geo import country_for_ip, database_info, is_public_ip


def test_database_is_bundled_and_versioned() -> None:
    info = database_info()
    assert info.available, "iptocc must be installed (it is a dependency)"
    assert info.version and info.version[0].isdigit()
    assert "iptocc" in info.label


def test_well_known_registrations() -> None:
    # Stable RIR assignments: APNIC's 1.0.16.0/20 to Japan, RIPE NCC's own 193.0.0.0/21 to the Netherlands,
    # ARIN's 47.88.0.0/16 (Alibaba's US entity: the cloudmsg_v2 fixture's hard-coded host) to the US.
    assert country_for_ip("1.0.16.1") == "JP"
    assert country_for_ip("193.0.6.139") == "NL"
    assert country_for_ip("47.88.10.20") == "US"


def test_ipv6() -> None:
    assert country_for_ip("2001:67c:2e8::1") == "NL"  # RIPE NCC's own block


def test_non_public_and_garbage_get_no_country() -> None:
    for value in ("10.1.2.3", "192.168.0.1", "127.0.0.1", "169.254.1.1", "::1", "not-an-ip", "999.1.1.1", ""):
        assert country_for_ip(value) is None, value
    assert not is_public_ip("172.16.0.5")
    assert is_public_ip("8.8.8.8")


def test_live_sockets_get_the_remote_country() -> None:
    from toolkit.analysis.geo import annotate_sockets
    from toolkit.inventory.sockets import parse_proc_net

    # /proc/net/tcp as a phone shows it: 10.0.2.15:41234 -> 47.88.10.20:8080 ESTABLISHED, a listener, and a
    # connection to a private address (addresses are little-endian hex).
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0F02000A:A112 140A582F:1F90 01 00000000:00000000 00:00000000 00000000 10087        0 4242 1\n"
        "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4243 1\n"
        "   2: 0F02000A:A113 0100000A:0050 01 00000000:00000000 00:00000000 00000000 10087        0 4244 1\n"
    )
    sockets = parse_proc_net(text, "tcp")
    assert [s.remote_address for s in sockets] == ["47.88.10.20", "0.0.0.0", "10.0.0.1"]
    assert annotate_sockets(sockets) == 1
    assert [s.remote_country for s in sockets] == ["US", None, None]
    assert country_for_ip("::ffff:47.88.10.20") == "US"


def test_endpoints_made_elsewhere_get_countries() -> None:
    from toolkit.analysis.geo import annotate_endpoints
    from toolkit.models import Endpoint

    endpoints = [
        Endpoint(kind="url", value="http://47.88.10.20:8080/report", host="47.88.10.20", port=8080),
        Endpoint(kind="url", value="http://push.vendor-cloud.example/pns", host="push.vendor-cloud.example"),
        Endpoint(kind="ip", value="203.0.113.7", host="203.0.113.7"),
    ]
    assert annotate_endpoints(endpoints) == 1
    assert [(e.country, e.hard_coded_ip) for e in endpoints] == [("US", True), (None, False), (None, True)]
