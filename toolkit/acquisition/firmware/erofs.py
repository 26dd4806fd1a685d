"""EROFS images, extracted with Debian's erofs-utils (`fsck.erofs --extract`) after a superblock check.

The superblock's incompatible feature bits and compression algorithms are checked first, so an image
that needs a newer erofs-utils gets a sentence naming the version instead of a bare tool failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from toolkit.acquisition.files import make_dirs, remove_tree, walk
from toolkit.acquisition.firmware.dev import Dev, u16, u32
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.fsresult import FsResult

EROFS_MAGIC = 0xE0F5E1E2
SB = 1024
# incompat bit -> (feature, first erofs-utils release that reads it)
INCOMPAT = {
    0x1: ("zero_padding (lz4_0padding)", "1.0"),
    0x2: ("compr_cfgs / big_pcluster", "1.3"),
    0x4: ("chunked_file", "1.4"),
    0x8: ("device_table", "1.4"),
    0x10: ("ztailpacking", "1.5"),
    0x20: ("fragments / dedupe", "1.6"),
    0x40: ("xattr_prefixes", "1.7"),
    0x80: ("48bit", "1.8.6"),
    0x100: ("metabox", "1.9"),
}
ALGORITHMS = {0: ("lz4", "1.0"), 1: ("lzma", "1.6"), 2: ("deflate", "1.7"), 3: ("zstd", "1.8")}


def is_erofs(dev: Dev) -> bool:
    return dev.size >= SB + 128 and u32(dev.read(SB, 4), 0) == EROFS_MAGIC


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def erofs_utils_version() -> str | None:
    """Version of the installed fsck.erofs, e.g. '1.5', or None if it is not installed."""
    exe = shutil.which("fsck.erofs")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", out.stdout + out.stderr)
    return m.group(1) if m else "unknown"


def check_superblock(dev: Dev, installed: str | None) -> str:
    """Raise FirmwareError if the installed erofs-utils cannot read this image; return a summary."""
    sb = dev.read(SB, 128)
    blkszbits = sb[12]
    incompat = u32(sb, 80)
    algs = u16(sb, 84) if incompat & 0x2 else 1
    if blkszbits < 9 or blkszbits > 16:
        raise FirmwareError(dev.name, f"EROFS superblock has an impossible block size (2^{blkszbits})")
    needed: list[tuple[str, str]] = []
    unknown = incompat & ~sum(INCOMPAT)
    if unknown:
        raise FirmwareError(
            dev.name,
            f"EROFS image uses incompatible feature bits 0x{unknown:x} unknown to phonehome and to erofs-utils "
            f"up to 1.9: a newer erofs-utils is needed",
        )
    names = []
    for bit, (feat, ver) in INCOMPAT.items():
        if incompat & bit:
            names.append(feat)
            needed.append((feat, ver))
    for alg, (aname, ver) in ALGORITHMS.items():
        if algs & (1 << alg):
            needed.append((f"{aname} compression", ver))
    if installed is None:
        raise FirmwareError(dev.name, "EROFS image found but fsck.erofs is not installed (apt-get install erofs-utils)")
    have = _version_tuple(installed)
    if have:
        missing = [(f, v) for f, v in needed if _version_tuple(v) > have]
        if missing:
            f, v = max(missing, key=lambda x: _version_tuple(x[1]))
            raise FirmwareError(
                dev.name,
                f"EROFS image uses '{f}', which needs erofs-utils {v} or newer (installed: {installed})",
            )
    return "erofs features: " + (", ".join(names) or "none")


def extract_erofs(dev: Dev, image_path: str, dest: Path, workdir: Path,
                  want: Callable[[str, bytes, int], bool] | None = None) -> FsResult:
    """Extract an EROFS image file with fsck.erofs into dest, then make the tree safe.

    fsck.erofs recreates symlinks; they are recorded and removed so nothing in the output points outside.
    want(name, first bytes, size): when given, the regular files it refuses are deleted again (counted in skipped).
    """
    installed = erofs_utils_version()
    detail = check_superblock(dev, installed)
    res = FsResult(detail=detail)
    tmp = workdir / (dest.name + ".erofs-tmp")
    if tmp.exists():
        remove_tree(tmp)
    make_dirs(tmp)
    cmd = ["fsck.erofs", f"--extract={tmp}", "--no-preserve", image_path]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired as e:
        remove_tree(tmp)
        raise FirmwareError(dev.name, "fsck.erofs took more than an hour") from e
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        remove_tree(tmp)
        raise FirmwareError(dev.name, f"fsck.erofs failed: {msg[-1] if msg else proc.returncode}")
    # Record symlinks and special files, keep only regular files and directories.
    for root, dirs, files in walk(tmp):
        for n in list(dirs) + files:
            p = Path(root) / n
            rel = "/" + str(p.relative_to(tmp))
            if p.is_symlink():
                res.symlinks.append((rel, os.readlink(p)))
                p.unlink()
                if n in dirs:
                    dirs.remove(n)
            elif p.is_dir():
                res.dirs += 1
            elif p.is_file():
                if want is not None:
                    with open(p, "rb") as f:
                        head = f.read(8192)
                    if not want(n, head, p.stat().st_size):
                        p.unlink()
                        res.skipped += 1
                        continue
                res.files += 1
                res.bytes += p.stat().st_size
            else:
                res.special += 1
                p.unlink()
    make_dirs(dest.parent)
    if dest.exists():
        for child in tmp.iterdir():
            shutil.move(str(child), str(dest / child.name))
        tmp.rmdir()
    else:
        tmp.rename(dest)
    return res
