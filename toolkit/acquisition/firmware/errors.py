"""The one error type of the firmware source."""

from __future__ import annotations


class FirmwareError(Exception):
    """A firmware file (or a part of one) that cannot be read, with one clear sentence saying why."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class OutputLimitError(FirmwareError):
    """The run's output space or file count cap was reached: the whole unpacking stops."""
