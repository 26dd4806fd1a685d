"""A tolerant reader of Android binary XML (AXML), for manifests androguard rejects, and a cheap depth check.

Android's own parser (libandroidfw ResXMLTree) is lenient: a UTF-16 string without its null terminator, a string
offset past the pool or an unknown chunk does not stop an install. Malware uses exactly these to make analysis
tools give up, so this reader reads what can be read: bad strings become "", unknown chunks are skipped, elements
nested deeper than a cap are dropped (and counted), and every offset is bounds-checked. It is the fallback behind
androguard, not a replacement: androguard stays the first choice.

Written here rather than taken from apkInspector (already installed with androguard): apkInspector renders the
manifest as XML text, invents random names for nameless attributes (non-deterministic reports) and has no depth
bound; phonehome needs a deterministic element tree and a bound.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS_ANDROID_URI = "http://schemas.android.com/apk/res/android"
MAX_DEPTH = 256  # real manifests nest 5-6 deep (manifest/application/activity/intent-filter/action)

RES_XML = 0x0003
RES_STRING_POOL = 0x0001
RES_XML_RESOURCE_MAP = 0x0180
RES_XML_START_ELEMENT = 0x0102
RES_XML_END_ELEMENT = 0x0103

# android:* attribute resource ids, for attributes whose name string was blanked (a known obfuscation).
ANDROID_ATTR_IDS = {
    0x01010003: "name", 0x01010001: "label", 0x01010006: "permission", 0x0101000b: "sharedUserId",
    0x0101000d: "persistent", 0x0101000e: "enabled", 0x0101000f: "debuggable", 0x01010010: "exported",
    0x0101001c: "priority", 0x01010026: "mimeType", 0x01010027: "scheme", 0x01010202: "targetActivity",
    0x0101020c: "minSdkVersion", 0x0101021b: "versionCode", 0x0101021c: "versionName",
    0x01010270: "targetSdkVersion",
}

TYPE_REFERENCE = 0x01
TYPE_STRING = 0x03
TYPE_INT_DEC = 0x10
TYPE_INT_HEX = 0x11
TYPE_BOOLEAN = 0x12


class AxmlError(Exception):
    """Not binary XML at all (wrong header): nothing could be read."""


@dataclass
class AxmlResult:
    """The element tree read (None when no element was found), and what had to be skipped or cut."""

    root: ET.Element | None
    max_depth: int
    dropped_deep: int
    bad_strings: int
    skipped_chunks: int


def max_depth(data: bytes, stop_at: int = MAX_DEPTH) -> int:
    """Deepest element nesting in an AXML document, counted over chunk headers only (no string decoding); stops
    counting once `stop_at` is passed, so a 100,000-deep manifest costs one linear scan."""
    depth = deepest = 0
    for ctype, _off, _size in _chunks(data):
        if ctype == RES_XML_START_ELEMENT:
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_at:
                break
        elif ctype == RES_XML_END_ELEMENT:
            depth = max(depth - 1, 0)
    return deepest


def read_axml(data: bytes, depth_cap: int = MAX_DEPTH) -> AxmlResult:
    """Parse AXML leniently into an ElementTree element (attributes namespaced as `{uri}name`)."""
    strings: list[str] = []
    bad = 0
    res_ids: list[int] = []
    root: ET.Element | None = None
    stack: list[ET.Element] = []
    depth = deepest = dropped = skipped = 0
    for ctype, off, size in _chunks(data):
        if ctype == RES_STRING_POOL and not strings:
            strings, bad = _string_pool(data, off, size)
        elif ctype == RES_XML_RESOURCE_MAP:
            header = _u16(data, off + 2)
            count = max(size - header, 0) // 4
            res_ids = list(struct.unpack_from(f"<{count}I", data, off + header))
        elif ctype == RES_XML_START_ELEMENT:
            depth += 1
            deepest = max(deepest, depth)
            if depth > depth_cap or (depth > 1 and len(stack) != depth - 1):
                dropped += 1
                continue
            element = _element(data, off, size, strings, res_ids)
            if element is None:
                dropped += 1
                continue
            if stack:
                stack[-1].append(element)
            elif root is None:
                root = element
            else:
                dropped += 1  # a second root element: Android reads the first
                continue
            stack.append(element)
        elif ctype == RES_XML_END_ELEMENT:
            if depth > 0 and len(stack) == depth:
                stack.pop()
            depth = max(depth - 1, 0)
        elif ctype not in (0x0100, 0x0101, 0x0104):  # namespaces and CDATA carry nothing the analysis needs
            skipped += 1
    return AxmlResult(root=root, max_depth=deepest, dropped_deep=dropped, bad_strings=bad, skipped_chunks=skipped)


def _chunks(data: bytes) -> _ChunkIter:
    return _ChunkIter(data)


class _ChunkIter:
    """(type, offset, size) of each chunk after the XML file header; stops at the first chunk that does not fit."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 8:
            raise AxmlError("binary XML too short")
        ctype, header = struct.unpack_from("<HH", data, 0)
        if ctype != RES_XML and ctype != 0x0000:  # type 0 in the file header is accepted by Android
            raise AxmlError(f"not binary XML (chunk type {ctype:#06x})")
        self.data = data
        self.pos = header if 8 <= header < len(data) else 8

    def __iter__(self) -> _ChunkIter:
        return self

    def __next__(self) -> tuple[int, int, int]:
        data = self.data
        if self.pos + 8 > len(data):
            raise StopIteration
        ctype, header, size = struct.unpack_from("<HHI", data, self.pos)
        if size < 8 or header < 8 or header > size or self.pos + size > len(data):
            raise StopIteration
        off = self.pos
        self.pos += size
        return ctype, off, size


def _u16(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<H", data, off)[0]) if off + 2 <= len(data) else 0


def _string_pool(data: bytes, off: int, size: int) -> tuple[list[str], int]:
    end = off + size
    if off + 28 > end:
        return [], 0
    _t, header, _s, count, _styles, flags, start = struct.unpack_from("<HHIIIII", data, off)
    utf8 = bool(flags & 0x100)
    count = min(count, max(end - off - header, 0) // 4)
    offsets = struct.unpack_from(f"<{count}I", data, off + header)
    base = off + start
    out: list[str] = []
    bad = 0
    for rel in offsets:
        pos = base + rel
        text = _utf8_at(data, pos, end) if utf8 else _utf16_at(data, pos, end)
        if text is None:
            bad += 1
            text = ""
        out.append(text)
    return out, bad


def _utf16_at(data: bytes, pos: int, end: int) -> str | None:
    if pos + 2 > end:
        return None
    length = _u16(data, pos)
    pos += 2
    if length & 0x8000:
        length = ((length & 0x7FFF) << 16) | _u16(data, pos)
        pos += 2
    if pos + 2 * length > end:
        return None  # no null-terminator check: Android does not need one either
    return data[pos : pos + 2 * length].decode("utf-16-le", "replace")


def _utf8_at(data: bytes, pos: int, end: int) -> str | None:
    if pos + 2 > end:
        return None
    first = data[pos]
    pos += 2 if first & 0x80 else 1  # UTF-16 length, unused
    if pos >= end:
        return None
    length = data[pos]
    pos += 1
    if length & 0x80:
        if pos >= end:
            return None
        length = ((length & 0x7F) << 8) | data[pos]
        pos += 1
    if pos + length > end:
        return None
    return data[pos : pos + length].decode("utf-8", "replace")


def _string(strings: list[str], index: int) -> str | None:
    return strings[index] if 0 <= index < len(strings) else None


def _element(data: bytes, off: int, size: int, strings: list[str], res_ids: list[int]) -> ET.Element | None:
    header = _u16(data, off + 2)
    ext = off + header
    if ext + 20 > off + size:
        return None
    _ns, name_i, attr_start, attr_size, attr_count = struct.unpack_from("<IIHHH", data, ext)
    tag = _string(strings, name_i)
    if not tag:
        return None
    element = ET.Element(tag)
    attr_size = attr_size or 20
    for k in range(attr_count):
        a = ext + attr_start + k * attr_size
        if a + 20 > off + size:
            break
        ns_i, aname_i, raw_i, _vsize, _res0, vtype, vdata = struct.unpack_from("<IIIHBBI", data, a)
        aname = _string(strings, aname_i) or ""
        uri = _string(strings, ns_i) or ""
        if not aname and 0 <= aname_i < len(res_ids):
            aname = ANDROID_ATTR_IDS.get(res_ids[aname_i], "")
            uri = NS_ANDROID_URI if aname else uri
        if not aname or not aname.replace("_", "a").replace("-", "a").isalnum():
            continue
        value = _value(strings, raw_i, vtype, vdata)
        element.set(f"{{{uri}}}{aname}" if uri else aname, value)
    return element


def _value(strings: list[str], raw_i: int, vtype: int, vdata: int) -> str:
    if vtype == TYPE_STRING:
        return _string(strings, vdata) or _string(strings, raw_i) or ""
    if vtype == TYPE_BOOLEAN:
        return "true" if vdata else "false"
    if vtype == TYPE_REFERENCE:
        return f"@{vdata:08x}"
    if vtype == TYPE_INT_HEX:
        return f"0x{vdata:08x}"
    if vtype == TYPE_INT_DEC:
        return str(vdata - (1 << 32) if vdata & 0x80000000 else vdata)
    raw = _string(strings, raw_i)
    return raw if raw is not None else str(vdata)
