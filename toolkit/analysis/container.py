"""First look at an APK as a zip container, and the one place that inflates its entries.

Hostile APKs are a real thing (malware uses malformed zips to break analysis tools), so the central directory is
checked for what would make a parser crash, lie, or exhaust memory.

- Compression bombs: what is *actually inflated* is bounded (per entry, per APK, and a separate pool for entries
  the code analysis does not need, such as assets), streaming, stopping at the cap. A highly compressible entry is
  normal in real apps and is never refused for its ratio alone; a cap that cuts an entry is recorded by name.
- Duplicate entries (two `classes.dex`, two `AndroidManifest.xml`): the 2013 "Master Key" technique. Android's
  installer and its tools disagree on which copy counts, so every copy is hashed, reported as a finding of its own
  and (for DEX) analysed.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.models import Confidence, Finding, RuleInfo, Severity
from toolkit.models.finding import finding_fingerprint

# Caps on bytes actually inflated. A real classes.dex stays far below the per-entry cap (the 64k-method limit keeps
# DEX files in the tens of MiB); the pools bound one APK's memory and time whatever its central directory claims.
MAX_ENTRY_BYTES = 128 * 1024 * 1024
MAX_APK_BYTES = 1024 * 1024 * 1024
# Entries the code analysis does not need (assets, native libraries, layouts ...) share a smaller pool, so that no
# asset can use up the budget of classes.dex.
MAX_AUX_BYTES = 256 * 1024 * 1024
# An auxiliary entry is read up to here (endpoint extraction looks at the first 64 MiB of an entry anyway).
MAX_AUX_ENTRY_BYTES = 64 * 1024 * 1024
# The manifest is read whole by the XML parser; real ones are kilobytes.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
CHUNK = 1 << 20

MANIFEST = "AndroidManifest.xml"
DUPLICATE_RULE = RuleInfo(
    id="duplicate-zip-entry",
    title="APK holds two different copies of the same entry",
    description=(
        "The zip central directory lists the same entry name (classes*.dex, AndroidManifest.xml ...) more than once "
        "with different content. Tools and Android versions disagree on which copy counts, so what one checks is not "
        "what another runs. phonehome analyses every DEX copy."
    ),
    why=(
        "This is the 'Master Key' tampering technique (Android bug 8219321, 2013): an app can show a reviewer or a "
        "scanner a clean copy while the phone installs the other one. An honest build never contains it."
    ),
    severity=Severity.high,
    confidence=Confidence.high,
    references=["CVE-2013-4787", "CWE-345", "OWASP MASVS-RESILIENCE-2"],
    tags=["tampering", "container"],
)
CONTAINER_RULES = [DUPLICATE_RULE]


class InflateLimit(Exception):
    """An entry was cut at an inflation cap; `cap` names which one."""

    def __init__(self, name: str, cap: str, limit: int) -> None:
        super().__init__(f"{name}: inflation stopped at {limit} bytes ({cap})")
        self.name = name
        self.cap = cap
        self.limit = limit

    @property
    def limit_name(self) -> str:
        """Stable name for AnalysisLimit.name."""
        if self.cap == "per-entry cap":
            return "inflate_entry_bytes"
        return "inflate_apk_bytes" if self.cap == "per-APK cap" else "inflate_aux_bytes"


@dataclass
class DuplicateEntry:
    """One entry name the central directory lists more than once, with the SHA-256 of every copy in order."""

    name: str
    sha256: list[str]
    sizes: list[int]

    @property
    def differs(self) -> bool:
        return len(set(self.sha256)) > 1


@dataclass
class ContainerCheck:
    """Result of the zip-level check: `fatal` set means the APK must not be parsed."""

    fatal: str | None = None
    problems: list[str] = field(default_factory=list)
    dex_entries: list[str] = field(default_factory=list)
    has_manifest: bool = False
    duplicates: list[DuplicateEntry] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)  # caps that cut a duplicate copy while hashing it


def check_container(path: Path) -> ContainerCheck:
    """Inspect the zip central directory of `path`; only duplicate copies are inflated (streamed, capped) to hash
    them."""
    result = ContainerCheck()
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        result.fatal = f"cannot read file: {exc.strerror or exc}"
        return result
    if magic[:2] != b"PK":
        result.fatal = "not an APK: no zip signature at the start of the file"
        return result
    try:
        archive = ApkArchive(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        result.fatal = f"not a readable zip (truncated or corrupt): {exc}"
        return result
    except OSError as exc:
        result.fatal = f"cannot read zip: {exc}"
        return result
    with archive:
        seen: set[str] = set()
        for info in archive.infos:
            name = info.filename
            if name in seen and name not in {d.name for d in result.duplicates}:
                result.duplicates.append(_hash_copies(archive, name, result))
            seen.add(name)
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                result.problems.append(f"unsafe entry name {name!r} (absolute or path traversal)")
        for dup in result.duplicates:
            same = "identical" if not dup.differs else "different"
            result.problems.append(
                f"duplicate zip entry {dup.name!r}: {len(dup.sha256)} copies, {same} content "
                f"(Android 9+ refuses to install such an APK)"
            )
        result.has_manifest = MANIFEST in seen
        result.dex_entries = sorted(n for n in seen if is_dex_entry(n))
    if not result.has_manifest:
        result.fatal = "not an APK: the zip has no AndroidManifest.xml"
    return result


def _hash_copies(archive: ApkArchive, name: str, result: ContainerCheck) -> DuplicateEntry:
    digests: list[str] = []
    sizes: list[int] = []
    for info in archive.copies(name):
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in archive.stream(info, MAX_ENTRY_BYTES, "per-entry cap"):
                digest.update(chunk)
                size += len(chunk)
        except InflateLimit as exc:
            result.limits.append(f"{exc} while hashing a duplicate copy")
        except (zlib.error, OSError, ValueError) as exc:
            result.problems.append(f"{name}: a duplicate copy is unreadable ({exc})")
        digests.append(digest.hexdigest())
        sizes.append(size)
    return DuplicateEntry(name=name, sha256=digests, sizes=sizes)


def duplicate_findings(check: ContainerCheck, package: str | None, apk_sha256: str | None) -> list[Finding]:
    """One high-severity finding per entry name held twice with different content."""
    out: list[Finding] = []
    for dup in check.duplicates:
        if not dup.differs:
            continue
        evidence = [f"copy {i + 1} of {dup.name!r}: sha256 {h}, {s} bytes" for i, (h, s) in
                    enumerate(zip(dup.sha256, dup.sizes, strict=True))]
        if is_dex_entry(dup.name):
            evidence.append("every copy was analysed; copy N is named '" + dup.name + "#N' in flows and dex_files")
        out.append(Finding(
            rule_id=DUPLICATE_RULE.id, title=DUPLICATE_RULE.title, severity=DUPLICATE_RULE.severity,
            confidence=DUPLICATE_RULE.confidence,
            message=f"{len(dup.sha256)} different copies of {dup.name!r}: " +
                    ", ".join(h[:16] for h in dup.sha256),
            package=package, apk_sha256=apk_sha256, evidence=evidence,
            fingerprint=finding_fingerprint(DUPLICATE_RULE.id, package, apk_sha256, dup.name, *dup.sha256),
        ))
    return out


class ApkArchive:
    """Zip entries read the way Android reads them (any method but STORED is inflated as raw deflate, CRC is not
    trusted), streamed, and never more than the caps: per entry, per APK, and a pool for auxiliary entries."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("rb")
        try:
            self._zip = zipfile.ZipFile(self._fh)
        except BaseException:
            self._fh.close()
            raise
        self.infos = self._zip.infolist()
        self.inflated = 0
        self.aux_inflated = 0
        self.limits: list[str] = []  # every cap that cut something, once per entry
        self.hits: list[InflateLimit] = []
        self.pool_skipped = 0  # entries not read (or cut) because a per-APK pool was already used up

    def __enter__(self) -> ApkArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._fh.close()

    def names(self) -> list[str]:
        """Entry names, each once, in central-directory order."""
        return list(dict.fromkeys(i.filename for i in self.infos))

    def copies(self, name: str) -> list[zipfile.ZipInfo]:
        """Every central-directory record of `name`, in order (more than one = duplicate entry)."""
        return [i for i in self.infos if i.filename == name]

    def stream(self, info: zipfile.ZipInfo, limit: int, cap: str, aux: bool = False) -> Iterator[bytes]:
        """The inflated bytes of one record, in chunks; raises InflateLimit once `limit` bytes (or a pool) are
        exceeded, after yielding everything up to it."""
        self._fh.seek(info.header_offset)
        header = self._fh.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise ValueError(f"{info.filename}: local header missing at offset {info.header_offset}")
        name_len, extra_len = struct.unpack_from("<HH", header, 26)
        self._fh.seek(info.header_offset + 30 + name_len + extra_len)
        remaining = info.compress_size
        # Android inflates any method but STORED; a "method" that is neither, with equal sizes, is stored data
        # (a known anti-analysis trick that tools disagree on).
        stored = info.compress_type == zipfile.ZIP_STORED or (
            info.compress_type != zipfile.ZIP_DEFLATED and info.compress_size == info.file_size)
        inflater = None if stored else zlib.decompressobj(-15)
        produced = 0
        while True:
            room = self._room(limit - produced, aux)
            if inflater is not None and inflater.unconsumed_tail:
                data = inflater.decompress(inflater.unconsumed_tail, min(CHUNK, room + 1))
            elif remaining > 0:
                raw = self._fh.read(min(CHUNK, remaining))
                if not raw:
                    break  # truncated file: keep what was there
                remaining -= len(raw)
                data = raw if inflater is None else inflater.decompress(raw, min(CHUNK, room + 1))
            elif inflater is not None and not inflater.eof:
                data = inflater.flush()
                if not data:
                    break
            else:
                break
            if len(data) > room:
                self._count(room, aux)
                yield data[:room]
                raise self._limit_hit(info.filename, limit, aux)
            produced += len(data)
            self._count(len(data), aux)
            if data:
                yield data
            if inflater is not None and inflater.eof:
                break

    def read(self, info: zipfile.ZipInfo, limit: int = MAX_ENTRY_BYTES, aux: bool = False,
             truncate: bool = False) -> bytes:
        """The whole record, bounded. With `truncate`, a cap gives the bytes up to it (and is recorded in
        `limits`); otherwise InflateLimit propagates."""
        out = bytearray()
        try:
            for chunk in self.stream(info, limit, "per-entry cap", aux):
                out += chunk
        except InflateLimit as exc:
            if exc.cap != "per-entry cap" and any(h.cap == exc.cap for h in self.hits):
                self.pool_skipped += 1  # a pool already ran out: one line for it, not one per entry
            elif str(exc) not in self.limits:
                self.limits.append(str(exc))
                self.hits.append(exc)
            if not truncate:
                raise
        return bytes(out)

    def _room(self, entry_room: int, aux: bool) -> int:
        room = min(entry_room, MAX_APK_BYTES - self.inflated)
        if aux:
            room = min(room, MAX_AUX_BYTES - self.aux_inflated)
        return max(room, 0)

    def _count(self, n: int, aux: bool) -> None:
        self.inflated += n
        if aux:
            self.aux_inflated += n

    def _limit_hit(self, name: str, entry_limit: int, aux: bool) -> InflateLimit:
        if self.inflated >= MAX_APK_BYTES:
            return InflateLimit(name, "per-APK cap", MAX_APK_BYTES)
        if aux and self.aux_inflated >= MAX_AUX_BYTES:
            return InflateLimit(name, "per-APK cap for assets and other entries the code analysis does not need",
                                MAX_AUX_BYTES)
        return InflateLimit(name, "per-entry cap", entry_limit)


def is_dex_entry(name: str) -> bool:
    if not (name.startswith("classes") and name.endswith(".dex")):
        return False
    middle = name[len("classes") : -len(".dex")]
    return middle == "" or middle.isdigit()
