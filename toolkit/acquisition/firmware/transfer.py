"""Non-A/B block OTAs: `X.transfer.list` + `X.new.dat` (or `.new.dat.br`, or split `.new.dat.N`).

Transfer list versions 1 to 4 are read; only the commands of a full OTA (new, zero, erase) are applied.
Incremental commands (move, bsdiff, imgdiff, stash, free) need the source image and are refused.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.limits import Budget

BLOCK = 4096
INCREMENTAL = {"move", "bsdiff", "imgdiff", "stash", "free"}


def parse_ranges(text: str, label: str) -> list[tuple[int, int]]:
    """'4,0,10,20,30' -> [(0, 10), (20, 30)]."""
    try:
        nums = [int(x) for x in text.split(",")]
    except ValueError as e:
        raise FirmwareError(label, f"bad block range '{text[:40]}'") from e
    if not nums or nums[0] != len(nums) - 1 or nums[0] % 2:
        raise FirmwareError(label, f"bad block range '{text[:40]}'")
    pairs = [(nums[i], nums[i + 1]) for i in range(1, len(nums), 2)]
    for a, b in pairs:
        if a < 0 or b < a:
            raise FirmwareError(label, f"bad block range {a}-{b}")
    return pairs


def apply_transfer_list(text: str, data: BinaryIO, out_path: str, budget: Budget, label: str) -> int:
    """Rebuild the partition image at out_path; returns its size. data yields the new.dat bytes in order."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        raise FirmwareError(label, "transfer list is too short")
    try:
        version = int(lines[0])
        total_blocks = int(lines[1])
    except ValueError as e:
        raise FirmwareError(label, "transfer list header is not numeric") from e
    if version not in (1, 2, 3, 4):
        raise FirmwareError(label, f"transfer list version {version} is not supported (1 to 4 are)")
    cmds = lines[2:] if version == 1 else lines[4:]
    size = total_blocks * BLOCK
    budget.check_file_size(size, label)
    plan: list[tuple[str, list[tuple[int, int]]]] = []
    end_block = 0
    for ln in cmds:
        parts = ln.split()
        cmd = parts[0]
        if cmd in INCREMENTAL:
            raise FirmwareError(
                label, f"incremental block OTA (command '{cmd}'): it needs the source image; use a full OTA"
            )
        if cmd not in ("new", "zero", "erase") or len(parts) != 2:
            raise FirmwareError(label, f"unknown transfer list command '{ln[:40]}'")
        rng = parse_ranges(parts[1], label)
        end_block = max([end_block] + [b for _a, b in rng])
        plan.append((cmd, rng))
    size = max(size, end_block * BLOCK)
    budget.check_file_size(size, label)
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    written = 0
    try:
        os.ftruncate(fd, size)
        for cmd, rng in plan:
            if cmd != "new":
                continue  # zero/erase: the new file is already zero
            for a, b in rng:
                for blk in range(a, b, 256):
                    n = min(256, b - blk) * BLOCK
                    chunk = data.read(n)
                    while len(chunk) < n:
                        more = data.read(n - len(chunk))
                        if not more:
                            raise FirmwareError(label, "new.dat is shorter than the transfer list needs (truncated)")
                        chunk += more
                    budget.take(n, label)
                    written += n
                    os.pwrite(fd, chunk, blk * BLOCK)
        if data.read(1):
            raise FirmwareError(label, "new.dat holds more data than the transfer list uses (wrong pair?)")
    finally:
        os.close(fd)
    return size
