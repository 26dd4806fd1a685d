"""Resource limits: how much the unpacking may write, how deep it may nest, how much data may expand.

Firmware files come from vendors and from strangers. A crafted file can claim terabytes, expand a few
kilobytes into gigabytes (a compression bomb) or nest archives forever; these limits stop all three with
a clear error instead of filling the disk.
"""

from __future__ import annotations

import threading

from pydantic import Field

from toolkit.acquisition.firmware.errors import FirmwareError, OutputLimitError
from toolkit.models.common import PhModel

GiB = 1 << 30
MiB = 1 << 20


class Limits(PhModel):
    """Caps applied to one unpacking run."""

    max_output_bytes: int = Field(64 * GiB, description="Bytes written to the output and temporary space, in all")
    max_expansion: float = Field(
        20.0, description="Bytes written in all, at most this many times the input's size (once past expansion_floor): "
        "a few megabytes of zeros must not fill the disk"
    )
    expansion_floor: int = Field(256 * MiB, description="Output below this many bytes is never held against max_expansion")
    max_file_bytes: int = Field(16 * GiB, description="Largest single file or partition written")
    max_ratio: float = Field(
        500.0, description="Largest expansion of a compressed member (output/input) once it exceeds ratio_floor"
    )
    ratio_floor: int = Field(16 * MiB, description="Expansion below this many bytes is never called a bomb")
    max_depth: int = Field(12, description="Deepest nesting of containers")
    max_entries: int = Field(2_000_000, description="Most files extracted in all")


class Budget:
    """Counts what the unpacking has written against the limits; shared by every reader of one run."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.used = 0
        self.peak = 0
        self.entries = 0
        self.input_size: int | None = None
        self._lock = threading.Lock()

    def set_input_size(self, size: int) -> None:
        """The size of what is unpacked: the relative cap (max_expansion) is counted against it."""
        self.input_size = size

    def relative_cap(self) -> int | None:
        if self.input_size is None:
            return None
        return max(self.limits.expansion_floor, int(self.limits.max_expansion * self.input_size))

    def take(self, n: int, file: str) -> None:
        """Reserve n bytes of output for file, or raise OutputLimitError naming the cap that was reached."""
        with self._lock:
            if self.used + n > self.limits.max_output_bytes:
                raise OutputLimitError(
                    file,
                    f"unpacking would exceed the output limit of {self.limits.max_output_bytes} bytes "
                    "(raise it with --max-output if the firmware is really this large)",
                )
            rel = self.relative_cap()
            if rel is not None and self.used + n > rel:
                raise OutputLimitError(
                    file,
                    f"unpacking would write more than {self.limits.max_expansion:g} times the input's "
                    f"{self.input_size} bytes ({rel} bytes; raise it with --max-expansion if the firmware is really "
                    "this large)",
                )
            self.used += n
            self.peak = max(self.peak, self.used)

    def give_back(self, n: int) -> None:
        """Return space after a temporary file was deleted."""
        with self._lock:
            self.used = max(0, self.used - n)

    def count_entry(self, file: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise OutputLimitError(file, f"more than {self.limits.max_entries} files: refusing to go on")

    def check_file_size(self, size: int, file: str) -> None:
        if size > self.limits.max_file_bytes:
            raise FirmwareError(
                file, f"claims a size of {size} bytes, above the per-file limit of {self.limits.max_file_bytes}"
            )

    def check_ratio(self, produced: int, consumed: int, file: str) -> None:
        """Stop a compression bomb: output far larger than its compressed input."""
        if produced > self.limits.ratio_floor and produced > self.limits.max_ratio * max(consumed, 1):
            raise FirmwareError(
                file,
                f"expands {consumed} compressed bytes to more than {produced} bytes "
                f"(ratio above {self.limits.max_ratio:g}): refusing a likely compression bomb",
            )
