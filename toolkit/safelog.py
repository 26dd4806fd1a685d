"""Log lines that cannot drive the investigator's terminal, and library warnings as one readable line.

File names, a phone's stderr and text inside firmware images are written by the people under investigation. An
OSC or CSI sequence in a logged name could retitle the terminal, hide lines or fake output, so every log line
(message, arguments and traceback) goes through toolkit.text.printable_lines, as the reports already do.

Python warnings from libraries (e.g. cryptography's CryptographyDeprecationWarning for a DSA-signed APK, printed
with two lines of library source per APK) become one log line, or are silenced where they tell the user nothing
about the evidence. Only entry points (the CLI, a worker process) call `install`; the library itself never prints.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any, TextIO

from toolkit.text import printable_lines

FORMAT = "%(levelname)s %(name)s: %(message)s"

# Warnings about a library's own future (deprecations inside cryptography, androguard ...) say nothing about the
# evidence; they are dropped. Anything else becomes one WARNING line.
_SILENCED = ("CryptographyDeprecationWarning",)


class SafeFormatter(logging.Formatter):
    """A Formatter whose output has every control character shown as an escape (line breaks kept)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable_lines(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (pytest and the CLI swap it), and copes with no stderr."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO | None:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if sys.stderr is None:  # pythonw, or a closed stderr: nowhere to write, and not an error
            return
        super().emit(record)


def _showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
    if category.__name__ in _SILENCED:
        return
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    logging.getLogger("py.warnings").warning("%s: %s", category.__name__, text)


def install(level: int = logging.WARNING) -> None:
    """Route the root logger through one sanitising stderr handler at `level`, and warnings into it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(SafeFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    warnings.showwarning = _showwarning
