"""Search captured payloads for the phone's identifiers: raw, URL-encoded, Base64, and as MD5/SHA-1/SHA-256 hex.

All forms of all identifiers are compiled into one Aho-Corasick automaton, so a payload is scanned once (in native
code) whatever the number of identifiers. Base64 depends on where the value sits in the encoded string: for each
of the three alignments the characters that depend only on the value are searched (at least 8 of them).
TCP streams are searched in sequence order with a carry-over of `longest - 1` bytes (toolkit/traffic/stream.py), so
a value split across segments is found.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from urllib.parse import quote

import ahocorasick_rs

from toolkit.models.usage import DeviceIdentifier

MIN_LENGTH = 6  # shorter values (a 4-digit PIN-like serial) would match everywhere


@dataclass(frozen=True)
class Needle:
    kind: str
    value: str
    encoding: str  # raw / url / base64 / md5 / sha1 / sha256
    text: bytes


def _b64_cores(value: bytes) -> list[bytes]:
    cores = []
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + value)
        start = 4 if shift else 0
        end = len(enc) if (shift + len(value)) % 3 == 0 else len(enc) - 4
        core = enc[start:end]
        if len(core) >= 8:
            cores.append(core)
    return cores


def _forms(value: str) -> list[str]:
    forms = [value]
    if value.startswith("+"):
        forms.append(value[1:])  # numbers are often sent without the plus
    return forms


def needles(identifiers: list[DeviceIdentifier]) -> list[Needle]:
    out: list[Needle] = []
    seen: set[bytes] = set()

    def add(ident: DeviceIdentifier, encoding: str, text: bytes) -> None:
        if len(text) >= MIN_LENGTH and text not in seen:
            seen.add(text)
            out.append(Needle(ident.kind, ident.value, encoding, text))

    for ident in identifiers:
        if len(ident.value) < MIN_LENGTH:
            continue
        for form in _forms(ident.value):
            raw = form.encode()
            add(ident, "raw", raw)
            if ident.kind == "wifi_mac":
                add(ident, "raw", form.upper().encode())
                add(ident, "raw", form.replace(":", "").encode())
                add(ident, "raw", form.replace(":", "").upper().encode())
            url = quote(form, safe="").encode()
            if url != raw:
                add(ident, "url", url)
                add(ident, "url", url.replace(b"%3A", b"%3a").replace(b"%2B", b"%2b"))
            for core in _b64_cores(raw):
                add(ident, "base64", core)
            for name in ("md5", "sha1", "sha256"):
                digest = hashlib.new(name, raw).hexdigest()
                add(ident, name, digest.encode())
                add(ident, name, digest.upper().encode())
    return out


class Matcher:
    """Every needle in one Aho-Corasick automaton; `find` returns (needle, start, end) for each hit in a payload.

    ahocorasick-rs (Python bindings of the Rust `aho-corasick` crate, maintained, wheels without system libraries)
    scans at ~300-380 MB/s on this project's bench machine whatever the number of needles; one `re` alternation of
    the same needles ran at 55 MB/s with one identifier (10 needles) and 14-17 MB/s with seven (85 needles), which
    made the search, not the reading, the limit of `traffic scan`. Leftmost-longest, non-overlapping: the same
    matches as the alternation with the longest needles first (a digest before a raw prefix)."""

    def __init__(self, identifiers: list[DeviceIdentifier]) -> None:
        self.needles = needles(identifiers)
        self._ac = ahocorasick_rs.BytesAhoCorasick(
            [n.text for n in self.needles], matchkind=ahocorasick_rs.MatchKind.LeftmostLongest) if self.needles \
            else None
        self.longest = max((len(n.text) for n in self.needles), default=0)

    def find(self, payload: bytes) -> list[tuple[Needle, int, int]]:
        if self._ac is None or not payload:
            return []
        found = self._ac.find_matches_as_indexes(payload)
        return [(self.needles[i], start, end) for i, start, end in found] if found else []


def mask(value: str) -> str:
    """Keep the first two and last two characters: 358240051111110 -> 35***********10."""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def context(payload: bytes, start: int, end: int, width: int = 32) -> str:
    """The bytes around a match, printable ASCII kept and the rest escaped as \\xNN."""
    chunk = payload[max(0, start - width):end + width]
    return "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in chunk)
