"""Constant endpoints of an app: URLs, host names, IP addresses, phone numbers and e-mail addresses.

Where they are looked for (`Endpoint.found_in`):
  dex        every string constant of every classes*.dex (read from the DEX string table, no androguard pass)
  dex:base64 a DEX constant that is Base64 of printable text holding the endpoint (decoded at run time by the app)
  resources  AndroidManifest.xml, resources.arsc and res/* (binary XML and string pools: ASCII and UTF-16 runs)
  assets     assets/* (configs, JS bundles, embedded HTML ...)
  native     lib/*/*.so (printable strings)
  other      any other entry (root-level files, kotlin/ metadata ...); META-INF and media files are not read

What is left out, on purpose: XML namespaces and schema URLs (schemas.android.com, www.w3.org ...), licence and
documentation links (apache.org/licenses, developer.android.com ...), bare scheme prefixes ("http://"), and dotted
strings that are Java package or class names of the app itself (a host name must end in a known top-level domain
and must not be one of the app's package names). A hard-coded IP is marked `hard_coded_ip` and gets its country
from the offline geo database. A URL whose host is built at run time ("http://%s/report") is kept with no host.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import urlsplit

from toolkit.analysis.dex import DexFormatError, read_dex_tables
from toolkit.analysis.geo import country_for_ip
from toolkit.models.flow import Endpoint, EndpointKind

log = logging.getLogger(__name__)

MAX_SCAN_BYTES = 64 * 1024 * 1024  # per entry: a bigger native library or asset is read up to here only
MIN_RUN = 6  # shortest printable run taken from binary files

URL_SCHEMES = (
    "http", "https", "ws", "wss", "ftp", "ftps", "tcp", "udp", "ssl", "tls", "mqtt", "mqtts", "rtmp", "rtsp",
    "socks5", "xmpp",
)
_URL_RE = re.compile(r"\b(?:" + "|".join(URL_SCHEMES) + r")://[^\s\"'<>\\^`{|}\x00]*", re.IGNORECASE)
_PHONE_URI_RE = re.compile(r"\b(?:tel|sms|smsto|mms|mmsto):(\+?[0-9][0-9 ()-]{2,20}[0-9])")
_PHONE_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_IP_RE = re.compile(r"(?<![\w.])((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})(?::(\d{1,5}))?(?![\w.])")
_HOST_RE = re.compile(
    r"(?<![\w.@/-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?::(\d{1,5}))?(?![\w.@-])"
)
_EMAIL_RE = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-]{1,64}@((?:[a-z0-9-]{1,63}\.)+[a-z]{2,24}))(?![\w.-])")
_ASCII_RUN = re.compile(rb"[\x20-\x7e]{%d,}" % MIN_RUN)
_UTF16_RUN = re.compile(rb"(?:[\x20-\x7e]\x00){%d,}" % MIN_RUN)

# Hosts whose URLs are markup, schemas, licences or documentation, never app traffic.
NOISE_HOSTS = frozenset({
    "schemas.android.com", "www.w3.org", "w3.org", "xmlpull.org", "www.xmlpull.org", "ns.adobe.com",
    "schemas.microsoft.com", "purl.org", "json-schema.org", "www.apache.org", "apache.org", "xml.org",
    "www.xml.org", "java.sun.com", "xml.apache.org", "developer.android.com", "source.android.com",
    "www.android.com", "android.com", "schemas.xmlsoap.org", "www.opengis.net", "relaxng.org",
    "www.gnu.org", "gnu.org", "opensource.org", "www.opensource.org", "creativecommons.org",
    "www.mozilla.org", "tools.ietf.org", "www.ietf.org", "www.iana.org", "xmlns.jcp.org", "ns.google.com",
    "schema.org", "www.unicode.org", "unicode.org", "issuetracker.google.com", "goo.gl",
})
NOISE_URL_PREFIXES = ("http://schemas.", "https://schemas.", "http://www.w3.org/", "https://www.w3.org/")

# Common top-level domains (generic and every two-letter country code) plus the RFC 2606/6761 reserved names
# used in test data. A dotted lowercase string ending in anything else is not taken as a host name.
_GENERIC_TLDS = {
    "com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "arpa", "app", "dev", "cloud", "xyz",
    "top", "site", "online", "club", "shop", "store", "tech", "mobi", "asia", "pro", "name", "link", "live",
    "news", "world", "space", "website", "work", "life", "today", "email", "services", "network", "host",
    "press", "fun", "icu", "vip", "win", "bid", "loan", "ltd", "group", "company", "global", "digital",
    "media", "games", "game", "xxx", "cyou", "buzz", "run", "one", "wang", "ren", "ink",
    "example", "test", "invalid", "localhost", "local", "onion", "lan", "internal",
}
# Two-letter country-code TLDs (IANA root zone), less those that are far more often file extensions or code
# tokens than hosts (.so, .js, .py, .sh, .md, .rs, .pl, .cs, .ps, .id ...).
_CC_TLDS = frozenset(
    """
ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by bz ca cc
cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi fj fk fm fo fr ga gd
ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu ie il im in io iq ir is it je jm jo jp ke kg kh
ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc me mg mh ml mm mn mo mp mq mr ms mt mu mv mw mx
my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pm pn pr pt pw qa re ro ru rw sa sb se sg si sk
sl sm sn sr ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va ve vg vi
vn vu wf ws ye yt za zm zw
""".split())  # noqa: SIM905
_FILE_EXTENSIONS = {
    "json", "xml", "html", "htm", "txt", "png", "jpg", "jpeg", "gif", "webp", "svg", "java", "class", "dex",
    "zip", "apk", "jar", "properties", "proto", "kotlin_module", "bin", "dat", "css", "ttf", "otf", "mp3",
    "mp4", "ogg", "wav", "pem", "crt", "der", "key", "conf", "cfg", "ini", "yml", "yaml", "log", "tmp",
    "sqlite", "lock", "version", "arsc", "odex", "vdex", "oat", "pdf", "csv", "tar", "gzip", "bak",
}
# First labels of reverse-DNS package names that are never the first label of a host name.
_PACKAGE_ROOTS = {
    "java", "javax", "kotlin", "kotlinx", "android", "androidx", "dalvik", "sun", "jdk", "libcore", "junit",
    "okhttp3", "okio", "retrofit2", "dagger", "butterknife", "lombok", "scala", "groovy",
}
# A host name does not start with a TLD; a package name does.
_REVERSE_DNS_FIRST = {"com", "org", "net", "edu", "gov", "mil", "int", "info", "biz"}
_MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".ogg", ".mp3", ".mp4", ".wav", ".ttf", ".otf", ".9.png")


_ICU_DATA_SUFFIXES = (".res", ".icu", ".dict", ".brk", ".nrm", ".spp", ".cfu", ".cnv", ".dat", ".lstm")


def _known_tld(tld: str) -> bool:
    if tld in _FILE_EXTENSIONS:
        return False
    return tld in _CC_TLDS or tld in _GENERIC_TLDS


class ApkFiles(Protocol):
    """What endpoint extraction needs of an opened APK (LoadedApk satisfies it)."""

    def file_names(self) -> list[str]: ...

    def file_bytes(self, name: str) -> bytes: ...


@dataclass
class _Collector:
    """Accumulates endpoints by (kind, value), merging where they were found."""

    package_names: set[str] = field(default_factory=set)
    found: dict[tuple[str, str], Endpoint] = field(default_factory=dict)

    def add(self, endpoint: Endpoint, where: str) -> None:
        key = (endpoint.kind, endpoint.value)
        existing = self.found.get(key)
        if existing is None:
            endpoint.found_in = [where]
            self.found[key] = endpoint
        elif where not in existing.found_in:
            existing.found_in.append(where)

    def scan_text(self, text: str, where: str, whole_constant: bool) -> None:
        """Find endpoints in one string (a DEX constant, or a printable run of a binary file)."""
        if len(text) < 4 or ("." not in text and ":" not in text and not (whole_constant and text[0] == "+")):
            return  # every endpoint has a dot (host, IP, e-mail) or a colon (tel:/sms:), or is a +number constant
        spans: list[tuple[int, int]] = []
        for match in _URL_RE.finditer(text):
            spans.append(match.span())
            endpoint = url_endpoint(match.group(0))
            if endpoint is not None:
                self.add(endpoint, where)
        for match in _PHONE_URI_RE.finditer(text):
            spans.append(match.span())
            number = re.sub(r"[ ()-]", "", match.group(1))
            self.add(Endpoint(kind="phone_number", value=number), where)
        if whole_constant and _PHONE_RE.match(text.strip()):
            self.add(Endpoint(kind="phone_number", value=text.strip()), where)
            return
        rest = _blank(text, spans)
        for match in _EMAIL_RE.finditer(rest):
            if _known_tld(match.group(2).rsplit(".", 1)[1]) and where != "native":
                self.add(Endpoint(kind="email", value=match.group(1), host=match.group(2)), where)
            rest = rest[: match.start()] + " " * (match.end() - match.start()) + rest[match.end() :]
        lone = rest.strip(" \t\"'=:;,")
        for match in _IP_RE.finditer(rest):
            # In a printable run of a binary file a dotted quad is often vector path data or a version; take it
            # only when it stands alone or carries a port.
            if not whole_constant and match.group(2) is None and lone != match.group(1):
                continue
            endpoint = ip_endpoint(match.group(1), match.group(2))
            if endpoint is not None:
                self.add(endpoint, where)
        for match in _HOST_RE.finditer(rest):
            host = match.group(1)
            if not whole_constant and host.count(".") == 1 and host.rsplit(".", 1)[1] in _CC_TLDS and lone != match.group(0):
                continue  # "sinx.ni yoqish": translated text, not a host (two-label ccTLD names must stand alone)
            if self._is_host(host):
                port = _port(match.group(2))
                value = host if port is None else f"{host}:{port}"
                self.add(Endpoint(kind="host", value=value, host=host, port=port), where)

    def _is_host(self, host: str) -> bool:
        labels = host.split(".")
        if len(labels) < 2 or not _known_tld(labels[-1]) or host in NOISE_HOSTS:
            return False
        if labels[0] in _PACKAGE_ROOTS or (labels[0] in _REVERSE_DNS_FIRST and len(labels) > 2):
            return False  # java.io, com.vendor.media, org.foo.app: reverse-DNS package names, not hosts
        # The app's own packages and classes (from the DEX type table) are code, not destinations.
        return host not in self.package_names and not any(p.startswith(host + ".") for p in self.package_names)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _port(raw: str | None) -> int | None:
    if not raw:
        return None
    port = int(raw)
    return port if 0 < port < 65536 else None


def ip_endpoint(address: str, port_text: str | None = None) -> Endpoint | None:
    """An `ip` endpoint for a literal IPv4/IPv6 address, with its country; None for 0.x / masks / garbage."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 4 and (address.startswith("0.") or address.startswith("255.")):
        return None
    port = _port(port_text)
    value = address if port is None else f"{address}:{port}"
    return Endpoint(kind="ip", value=value, host=address, port=port, hard_coded_ip=True, country=country_for_ip(address))


def url_endpoint(raw: str) -> Endpoint | None:
    """A `url` endpoint for one URL-looking string, or None when it is noise (schemas, docs, bare scheme)."""
    value = raw.rstrip(".,;:)]}'\"")
    lowered = value.lower()
    if lowered.startswith(NOISE_URL_PREFIXES):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if not netloc and not parts.path:
        return None  # "http://" alone: a prefix for concatenation, the host comes from elsewhere
    host: str | None
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:
        host, port = None, None
    if host is not None and not _valid_host(host):
        host = None  # built at run time ("http://%s/x", "http://" + ip) or otherwise not a literal host
    if host is not None and (host in NOISE_HOSTS or host.endswith(".android.com")):
        return None
    if host is None and not any(c in netloc + parts.path for c in "%{$"):
        return None
    hard_ip = False
    country = None
    if host is not None:
        try:
            ipaddress.ip_address(host)
            hard_ip = True
            country = country_for_ip(host)
        except ValueError:
            pass
    return Endpoint(kind="url", value=value, host=host, port=port, scheme=scheme, hard_coded_ip=hard_ip, country=country)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.split(".")
    return (
        len(labels) >= 2 or host == "localhost"
    ) and all(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|[a-z0-9]", label) for label in labels)


_BASE64_RE = re.compile(r"^[A-Za-z0-9+/_-]{16,}={0,2}$")


def decode_base64_text(text: str) -> str | None:
    """The text a Base64 (standard or URL-safe) constant decodes to, when it is printable ASCII holding a dot or a
    colon (where an endpoint could be); None otherwise."""
    if len(text) > 4096 or not _BASE64_RE.match(text):
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 8 or any(b < 0x20 or b > 0x7E for b in raw):
        return None
    decoded = raw.decode("ascii")
    return decoded if ("." in decoded or ":" in decoded) else None


def printable_strings(data: bytes) -> Iterable[str]:
    """Printable ASCII runs and UTF-16LE runs (binary XML, resources.arsc, native libraries)."""
    for match in _ASCII_RUN.finditer(data):
        run = match.group(0)
        if b"." in run or b":" in run:
            yield run.decode("ascii")
    if b".\x00" not in data and b":\x00" not in data:
        return
    for match in _UTF16_RUN.finditer(data):
        run = match.group(0)
        if b".\x00" in run or b":\x00" in run:
            yield run.decode("utf-16-le")


_RES_STRING_POOL = 0x0001
_RES_TABLE = 0x0002
_RES_XML = 0x0003
_UTF8_FLAG = 0x100


def resource_strings(data: bytes) -> list[str] | None:
    """Strings of the first string pool of a binary XML file or resources.arsc (where every attribute value and
    string resource lives), or None when `data` is not one (the caller then falls back to printable runs).

    Format: frameworks/base/libs/androidfw/include/androidfw/ResourceTypes.h (ResChunk_header, ResStringPool_header).
    """
    if len(data) < 36:
        return None
    kind, header_size = struct.unpack_from("<HH", data, 0)
    if kind not in (_RES_TABLE, _RES_XML) or header_size >= len(data):
        return None
    pool = header_size
    try:
        p_type, p_header, p_size, count, _styles, flags, strings_start, _styles_start = struct.unpack_from(
            "<HHIIIIII", data, pool)
        if p_type != _RES_STRING_POOL or pool + p_size > len(data) or count > p_size:
            return None
        offsets = struct.unpack_from(f"<{count}I", data, pool + p_header)
        base = pool + strings_start
        utf8 = bool(flags & _UTF8_FLAG)
        out: list[str] = []
        for offset in offsets:
            at = base + offset
            if utf8:
                at += 2 if data[at] & 0x80 else 1  # length in characters
                length = data[at]
                if length & 0x80:
                    length = ((length & 0x7F) << 8) | data[at + 1]
                    at += 2
                else:
                    at += 1
                out.append(data[at : at + length].decode("utf-8", "replace"))
            else:
                (length,) = struct.unpack_from("<H", data, at)
                at += 2
                if length & 0x8000:
                    (low,) = struct.unpack_from("<H", data, at)
                    length = ((length & 0x7FFF) << 16) | low
                    at += 2
                out.append(data[at : at + 2 * length].decode("utf-16-le", "replace"))
        return out
    except (struct.error, IndexError):
        return None


def classify_entry(name: str) -> str | None:
    """Where an APK entry counts for `found_in`; None for entries that are not read (signatures, media)."""
    lowered = name.lower()
    if lowered.startswith("meta-inf/") or lowered.endswith(_MEDIA_SUFFIXES):
        return None
    if "icu" in lowered and lowered.endswith(_ICU_DATA_SUFFIXES):
        # Bundled ICU locale data (thousands of binary tables in apps that ship ICU4J): no endpoints, much time.
        return None
    path = PurePosixPath(name)
    if path.parent == PurePosixPath(".") and path.name.startswith("classes") and path.suffix == ".dex":
        return "dex"
    if name in ("AndroidManifest.xml", "resources.arsc") or name.startswith("res/"):
        return "resources"
    if name.startswith("assets/"):
        return "assets"
    if name.startswith("lib/") and lowered.endswith(".so"):
        return "native"
    return "other"


def _dex_package_names(types: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for descriptor in types:
        if descriptor.startswith("L") and descriptor.endswith(";"):
            dotted = descriptor[1:-1].replace("/", ".").lower()
            names.add(dotted)
            parts = dotted.split(".")
            for i in range(1, len(parts)):
                names.add(".".join(parts[:i]))
    return names


def extract_endpoints(apk: ApkFiles) -> list[Endpoint]:
    """Every constant endpoint found in the APK's DEX strings, resources, assets and native libraries.

    Never raises for bad content: an unreadable DEX is scanned as raw bytes instead, with a log line.
    """
    collector = _Collector()
    names = apk.file_names()
    dex_strings: list[tuple[str, list[str]]] = []
    for name in names:
        if classify_entry(name) != "dex":
            continue
        data = apk.file_bytes(name)
        try:
            tables = read_dex_tables(data)
        except DexFormatError as exc:
            log.warning("%s: DEX string table unreadable (%s); scanning raw bytes for endpoints", name, exc)
            dex_strings.append((name, list(printable_strings(data[:MAX_SCAN_BYTES]))))
            continue
        collector.package_names |= _dex_package_names(tables.types)
        dex_strings.append((name, tables.strings))
    for _name, strings in dex_strings:
        for text in strings:
            collector.scan_text(text, "dex", whole_constant=True)
            decoded = decode_base64_text(text)
            if decoded is not None:
                # An endpoint hidden as a Base64 constant and decoded at run time (common in ad/analytics SDKs).
                collector.scan_text(decoded, "dex:base64", whole_constant=True)
    for name in names:
        where = classify_entry(name)
        if where is None or where == "dex":
            continue
        data = apk.file_bytes(name)
        if len(data) > MAX_SCAN_BYTES:
            log.info("%s: %d bytes, endpoints looked for in the first %d only", name, len(data), MAX_SCAN_BYTES)
            data = data[:MAX_SCAN_BYTES]
        if name.startswith("assets/") and _looks_text(data):
            collector.scan_text(data.decode("utf-8", "replace"), where, whole_constant=False)
            continue
        if where == "resources":
            pool = resource_strings(data)
            if pool is not None:
                for text in pool:
                    collector.scan_text(text, where, whole_constant=False)
                continue
        for text in printable_strings(data):
            collector.scan_text(text, where, whole_constant=False)
    return sorted(collector.found.values(), key=_sort_key)


def _looks_text(data: bytes) -> bool:
    return b"\x00" not in data[:4096]


_KIND_ORDER: dict[EndpointKind, int] = {"url": 0, "ip": 1, "host": 2, "phone_number": 3, "email": 4}


def _sort_key(endpoint: Endpoint) -> tuple[int, str]:
    return (_KIND_ORDER.get(endpoint.kind, 9), endpoint.value)


def endpoint_hosts(endpoint: Endpoint) -> set[str]:
    """Host (or IP) an endpoint points to, lowercased, for matching flows and tracker host patterns."""
    hosts = set()
    if endpoint.host:
        hosts.add(endpoint.host.lower())
    return hosts


class ZipApkFiles:
    """Plain-zipfile view of an APK for endpoint extraction without androguard (reference APKs, tools)."""

    def __init__(self, path: str | Path) -> None:
        self._zip = zipfile.ZipFile(path)

    def __enter__(self) -> ZipApkFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def file_names(self) -> list[str]:
        return [i.filename for i in self._zip.infolist() if not i.is_dir()]

    def file_bytes(self, name: str) -> bytes:
        try:
            with self._zip.open(name) as fh:
                return fh.read(MAX_SCAN_BYTES + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            log.warning("%s: entry %s unreadable: %s", self._zip.filename, name, exc)
            return b""


def extract_endpoints_from_file(path: str | Path) -> list[Endpoint]:
    """`extract_endpoints` on an APK file read with plain zipfile."""
    with ZipApkFiles(path) as files:
        return extract_endpoints(files)


def endpoints_for_report(apk: ApkFiles, label: str) -> list[Endpoint]:
    """`extract_endpoints` for the analysis pipeline: a failure is logged and yields no endpoints, never an
    exception (endpoints are evidence next to the flows, not a reason to lose the rest of the report)."""
    try:
        return extract_endpoints(apk)
    except Exception as exc:  # hostile archives: the rest of the analysis must go on
        log.warning("%s: endpoint extraction failed: %s: %s", label, type(exc).__name__, exc)
        return []
