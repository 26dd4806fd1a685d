"""Offline country of an IP address.

Backed by `iptocc` (PyPI, MIT OR Apache-2.0): a Rust lookup table built from the five Regional Internet
Registries' delegation files (public data), embedded in the wheel and refreshed by its maintainer nightly. No
network is used at run time. The country is the one the RIR *assigned* the block to, which is what an
investigator needs to say "this address was registered to a party in country X"; it is not where the server
physically stands. The database's date is that of the installed iptocc release (see `database_info`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from functools import lru_cache

from toolkit.models.common import PhModel
from toolkit.models.device import SocketRecord
from toolkit.models.flow import Endpoint

log = logging.getLogger(__name__)

GEO_PACKAGE = "iptocc"


class GeoDatabaseInfo(PhModel):
    """Which offline database answered, so a report can be reproduced."""

    package: str = GEO_PACKAGE
    version: str | None = None
    available: bool = False
    data_source: str = "Regional Internet Registries' delegated statistics (AFRINIC, APNIC, ARIN, LACNIC, RIPE NCC)"
    licence: str = "MIT OR Apache-2.0 (package); RIR statistics are published for public use"

    @property
    def label(self) -> str:
        return f"{self.package} {self.version}" if self.available else f"{self.package} (not installed)"


@lru_cache(maxsize=1)
def database_info() -> GeoDatabaseInfo:
    """Name and version of the geo database in use (version = data date proxy: it is rebuilt nightly)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return GeoDatabaseInfo(version=version(GEO_PACKAGE), available=_lookup() is not None)
    except PackageNotFoundError:
        return GeoDatabaseInfo()


@lru_cache(maxsize=1)
def _lookup() -> Callable[[str], str | None] | None:
    try:
        from iptocc import country_code
    except ImportError:
        log.warning("iptocc is not installed: IP addresses get no country (pip install iptocc)")
        return None
    return country_code


def is_public_ip(value: str) -> bool:
    """True for a globally routable IPv4/IPv6 address (not private, loopback, link-local, reserved ...)."""
    try:
        return ipaddress.ip_address(value).is_global
    except ValueError:
        return False


@lru_cache(maxsize=4096)
def country_for_ip(value: str) -> str | None:
    """ISO 3166-1 alpha-2 code of the country an IP address is registered to, or None (not an IP, not public,
    unknown to the database, or no database installed)."""
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d as /proc/net/tcp6 shows IPv4 peers
    if not address.is_global:
        return None
    lookup = _lookup()
    if lookup is None:
        return None
    try:
        code = lookup(str(address))
    except Exception as exc:  # a lookup must never stop an analysis
        log.warning("geo lookup failed for %s: %s", value, exc)
        return None
    return str(code).upper() if code else None


def annotate_sockets(sockets: Iterable[SocketRecord]) -> int:
    """Fill `remote_country` of live sockets (from /proc/net) with a remote public IP; returns how many got one."""
    done = 0
    for socket in sockets:
        if socket.is_remote:
            socket.remote_country = country_for_ip(socket.remote_address)
            done += socket.remote_country is not None
    return done


def annotate_endpoints(endpoints: Iterable[Endpoint]) -> int:
    """Fill `country` (and `hard_coded_ip`) of endpoints whose host is a literal IP; returns how many got a country.
    For endpoints made elsewhere (the flow engine's), so every IP endpoint in a report carries its country."""
    done = 0
    for endpoint in endpoints:
        if endpoint.country is None and endpoint.host:
            try:
                ipaddress.ip_address(endpoint.host.strip("[]"))
            except ValueError:
                continue
            endpoint.hard_coded_ip = True
            endpoint.country = country_for_ip(endpoint.host)
            done += endpoint.country is not None
    return done
