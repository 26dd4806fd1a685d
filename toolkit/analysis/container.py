"""First look at an APK as a zip container, before any parser touches it.

Hostile APKs are a real thing (malware uses malformed zips to break analysis tools), so the central directory is
checked for what would make a parser crash, lie, or exhaust memory. Android itself tolerates some oddities
(e.g. duplicate entries are rejected by the package manager since Android 9), which are recorded as problems.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# An entry that inflates more than this is not read at all (classes.dex of real apps stays far below).
MAX_ENTRY_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
# Deflate cannot do better than ~1032:1; anything beyond a few hundred is a bomb, not an app.
MAX_RATIO = 200


@dataclass
class ContainerCheck:
    """Result of the zip-level check: `fatal` set means the APK must not be parsed."""

    fatal: str | None = None
    problems: list[str] = field(default_factory=list)
    dex_entries: list[str] = field(default_factory=list)
    has_manifest: bool = False


def check_container(path: Path) -> ContainerCheck:
    """Inspect the zip central directory of `path` without inflating anything."""
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
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        result.fatal = f"not a readable zip (truncated or corrupt): {exc}"
        return result
    except OSError as exc:
        result.fatal = f"cannot read zip: {exc}"
        return result
    with archive:
        infos = archive.infolist()
        seen: set[str] = set()
        total = 0
        for info in infos:
            name = info.filename
            if name in seen:
                result.problems.append(f"duplicate zip entry {name!r} (Android 9+ refuses to install such an APK)")
            seen.add(name)
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                result.problems.append(f"unsafe entry name {name!r} (absolute or path traversal)")
            total += info.file_size
            if info.file_size > MAX_ENTRY_BYTES:
                result.problems.append(f"entry {name!r} claims {info.file_size} bytes uncompressed")
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20:
                result.fatal = (
                    f"compression bomb: entry {name!r} inflates {info.file_size // info.compress_size}:1 "
                    f"to {info.file_size} bytes"
                )
                return result
        if total > MAX_TOTAL_BYTES:
            result.fatal = f"zip claims {total} bytes uncompressed in total (limit {MAX_TOTAL_BYTES})"
            return result
        result.has_manifest = "AndroidManifest.xml" in seen
        result.dex_entries = sorted(n for n in seen if _is_dex_entry(n))
    if not result.has_manifest:
        result.fatal = "not an APK: the zip has no AndroidManifest.xml"
    return result


def _is_dex_entry(name: str) -> bool:
    if not (name.startswith("classes") and name.endswith(".dex")):
        return False
    middle = name[len("classes") : -len(".dex")]
    return middle == "" or middle.isdigit()
