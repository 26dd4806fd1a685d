"""A small writer of Android binary XML (the compiled AndroidManifest.xml format), for hostile-manifest tests.

It follows the chunk layout of AOSP's ResourceTypes.h (ResXMLTree_header, ResStringPool_header,
ResXMLTree_node/attrExt/attribute); `terminate=False` leaves out the UTF-16 null terminators that Android does not
need and androguard insists on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

ANDROID = "http://schemas.android.com/apk/res/android"
NO_INDEX = 0xFFFFFFFF
TYPE_STRING, TYPE_INT_DEC, TYPE_BOOLEAN = 0x03, 0x10, 0x12


@dataclass
class El:
    """One element: tag, attributes (`android:` prefix for the android namespace) and children."""

    tag: str
    attrs: dict[str, str | int | bool] = field(default_factory=dict)
    children: list[El] = field(default_factory=list)


class _Pool:
    def __init__(self) -> None:
        self.strings: list[str] = []

    def idx(self, text: str) -> int:
        if text not in self.strings:
            self.strings.append(text)
        return self.strings.index(text)

    def chunk(self, terminate: bool) -> bytes:
        data = bytearray()
        offsets = []
        for text in self.strings:
            offsets.append(len(data))
            encoded = text.encode("utf-16-le")
            data += struct.pack("<H", len(encoded) // 2) + encoded + (b"\0\0" if terminate else b"")
        while len(data) % 4:
            data += b"\0"
        header = 28
        start = header + 4 * len(offsets)
        body = struct.pack(f"<{len(offsets)}I", *offsets) + bytes(data)
        return struct.pack("<HHIIIIII", 0x0001, header, header + len(body), len(offsets), 0, 0, start, 0)[:28] + body


def _node(ctype: int, ext: bytes) -> bytes:
    return struct.pack("<HHIII", ctype, 16, 16 + len(ext), 1, NO_INDEX) + ext


def write_axml(root: El, terminate: bool = True, deep_chain: int = 0) -> bytes:
    """Binary XML for `root`; `deep_chain` nests that many extra <deep> elements inside the root (a depth bomb)."""
    pool = _Pool()
    ns_prefix, ns_uri = pool.idx("android"), pool.idx(ANDROID)
    nodes = [_node(0x0100, struct.pack("<II", ns_prefix, ns_uri))]

    def start(el: El) -> None:
        attrs = b""
        for key, value in el.attrs.items():
            ns = ns_uri if key.startswith("android:") else NO_INDEX
            name = pool.idx(key.removeprefix("android:"))
            if isinstance(value, bool):
                raw, vtype, vdata = NO_INDEX, TYPE_BOOLEAN, 0xFFFFFFFF if value else 0
            elif isinstance(value, int):
                raw, vtype, vdata = NO_INDEX, TYPE_INT_DEC, value
            else:
                raw = vdata = pool.idx(value)
                vtype = TYPE_STRING
            attrs += struct.pack("<IIIHBBI", ns, name, raw, 8, 0, vtype, vdata)
        count = len(el.attrs)
        nodes.append(_node(0x0102, struct.pack("<IIHHHHHH", NO_INDEX, pool.idx(el.tag), 20, 20, count, 0, 0, 0) + attrs))

    def end(el: El) -> None:
        nodes.append(_node(0x0103, struct.pack("<II", NO_INDEX, pool.idx(el.tag))))

    def walk(el: El, top: bool) -> None:
        start(el)
        for child in el.children:
            walk(child, False)
        if top and deep_chain:
            deep = El("deep")
            for _ in range(deep_chain):
                start(deep)
            for _ in range(deep_chain):
                end(deep)
        end(el)

    walk(root, True)
    nodes.append(_node(0x0101, struct.pack("<II", ns_prefix, ns_uri)))
    body = pool.chunk(terminate) + b"".join(nodes)
    return struct.pack("<HHI", 0x0003, 8, 8 + len(body)) + body


def launcher_manifest(package: str, activity: str, permissions: list[str]) -> El:
    """<manifest> with one launcher activity and the given permissions."""
    intent = El("intent-filter", children=[El("action", {"android:name": "android.intent.action.MAIN"}),
                                           El("category", {"android:name": "android.intent.category.LAUNCHER"})])
    return El("manifest", {"package": package, "android:versionCode": 3, "android:versionName": "1.2"}, [
        El("uses-sdk", {"android:minSdkVersion": 19, "android:targetSdkVersion": 22}),
        *[El("uses-permission", {"android:name": p}) for p in permissions],
        El("application", {"android:label": "Hostile"}, [El("activity", {"android:name": activity}, [intent])]),
    ])
