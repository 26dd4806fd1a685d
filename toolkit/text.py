"""Text from phones, images and APKs may be hostile: make it safe to show on a terminal."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with control characters (ESC, BEL, NUL, ...) and undecodable bytes shown as escapes (\\x1b, \\ufffd):
    text from a phone or an image may be hostile, and an excerpt must not drive the investigator's terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


def printable_lines(text: str) -> str:
    """`printable` line by line, keeping the line breaks the caller put there on purpose."""
    return "\n".join(printable(line) for line in text.split("\n"))
