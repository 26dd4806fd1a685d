"""What extracting one file system (or archive) produced."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FsResult:
    """Counts and records of one file system extraction; paths are relative to the file system root."""

    files: int = 0
    bytes: int = 0
    dirs: int = 0
    symlinks: list[tuple[str, str]] = field(default_factory=list)
    special: int = 0
    skipped: int = 0  # regular files not written because the caller does not need them
    issues: list[tuple[str, str]] = field(default_factory=list)
    detail: str = ""
