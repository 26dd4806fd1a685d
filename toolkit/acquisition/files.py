"""Local files: their SHA-256 (the one implementation acquisition uses), APK inputs from files and folders, and a
walk and a removal of folder trees that never recurse (a hostile image can nest thousands of folders)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
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
    for dirpath, dirnames, filenames in walk(root, onerror=onerror):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(".apk") and not (Path(dirpath) / name).is_dir():  # a symlink to a folder
                yield Path(dirpath) / name


def walk(top: str | os.PathLike[str], onerror: Callable[[OSError], None] | None = None,
         ) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk (top-down, never following symlinks) with an explicit stack instead of recursion.

    Python 3.11's os.walk recurses once per folder level, so 1,000 nested folders in an extracted image raise
    RecursionError. Symbolic links, to folders too, are listed among the files (the caller records them);
    dirnames may be pruned or reordered in place as with os.walk.
    """
    stack = [os.fspath(top)]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except OSError as exc:
            if onerror is not None:
                onerror(exc)
            continue
        dirnames: list[str] = []
        filenames: list[str] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            (dirnames if is_dir else filenames).append(entry.name)
        yield current, dirnames, filenames
        stack.extend(os.path.join(current, d) for d in reversed(dirnames))


def make_dirs(path: str | os.PathLike[str]) -> None:
    """os.makedirs(path, exist_ok=True) without recursion (Path.mkdir(parents=True) recurses once per level)."""
    path = os.path.abspath(os.fspath(path))
    missing: list[str] = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise


def remove_tree(top: str | os.PathLike[str]) -> bool:
    """Delete a folder tree without recursion and without following symlinks; True when nothing is left.

    Best effort like shutil.rmtree(ignore_errors=True), but never a RecursionError on a deeply nested tree.
    """
    top = os.fspath(top)
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.unlink(top)
        except OSError:
            return False
        return True
    folders: list[str] = []
    for dirpath, _dirnames, filenames in walk(top):
        folders.append(dirpath)
        for name in filenames:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(dirpath, name))
    for folder in reversed(folders):  # children were listed after their parents: remove them first
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    return not os.path.lexists(top)
