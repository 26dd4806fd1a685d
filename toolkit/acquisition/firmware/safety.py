"""Name safety: nothing read from an archive or a file system may write outside the output directory."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from toolkit.acquisition.firmware.errors import FirmwareError


def safe_component(name: str | bytes) -> str | None:
    """A single path component that is safe to create, or None ('', '.', '..', '/', NUL, undecodable)."""
    if isinstance(name, bytes):
        return None
    if not name or name in (".", "..") or "/" in name or "\0" in name or "\\" in name:
        return None
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return None
    return name


def safe_relpath(member: str, archive: str) -> PurePosixPath:
    """A member name from an archive as a relative path that stays inside the output directory.

    Absolute names and '..' components are refused (not silently rewritten) so the report says so.
    """
    name = member.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise FirmwareError(archive, f"member '{member}' has an absolute path: refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts:
        raise FirmwareError(archive, f"member '{member}' has an empty name")
    for p in parts:
        if p == ".." or safe_component(p) is None:
            raise FirmwareError(archive, f"member '{member}' would escape the output directory: refused")
    return PurePosixPath(*parts)


def inside(root: Path, rel: PurePosixPath) -> Path:
    """root/rel, checking that no existing parent is a symlink (so nothing is written through one)."""
    out = root
    for part in rel.parts:
        out = out / part
        if out.is_symlink():
            raise FirmwareError(str(rel), f"path goes through a symlink at '{part}': refused")
    return out
