"""Local files: their SHA-256 (the one implementation acquisition uses), and APK inputs from files and folders."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from toolkit.models import ApkInput, InputError, Provenance


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's content, read in blocks (APKs and images can be gigabytes)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def collect_apk_inputs(paths: Iterable[str | Path]) -> tuple[list[ApkInput], list[InputError]]:
    """Expand files and folders into APK inputs (sorted, de-duplicated) and errors for unusable paths."""
    inputs: list[ApkInput] = []
    errors: list[InputError] = []
    seen: set[str] = set()

    def add(file: Path, chain: list[str]) -> None:
        key = str(file.resolve())
        if key in seen:
            return
        seen.add(key)
        inputs.append(ApkInput(path=str(file), provenance=Provenance(origin="file", chain=chain)))

    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            errors.append(InputError(path=str(raw), reason="no such file or directory"))
        elif path.is_dir():
            unreadable: list[OSError] = []
            found = sorted(_walk_apks(path, unreadable.append))
            # os.walk skips a folder it cannot list; say which, so nothing under it goes missing silently.
            errors.extend(InputError(path=exc.filename or str(raw), reason=f"folder not readable: {exc.strerror or exc}")
                          for exc in unreadable)
            if not found and not unreadable:
                errors.append(InputError(path=str(raw), reason="folder contains no .apk files"))
            for file in found:
                add(file, [str(file.relative_to(path))])
        elif path.is_file():
            add(path, [path.name])
        else:
            errors.append(InputError(path=str(raw), reason="not a regular file or folder"))
    return inputs, errors


def _walk_apks(root: Path, onerror: Callable[[OSError], None]) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(".apk"):
                yield Path(dirpath) / name
