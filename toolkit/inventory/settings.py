"""`settings list system|secure|global` → Setting records.

Each line is ``key=value`` (the value may itself contain ``=``); ``null`` means the row exists with no value.
A value containing a newline continues on following lines that have no ``=``; they are joined back.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from toolkit.inventory._common import Problems, split_lines
from toolkit.models.device import ParseProblem, Setting

Namespace = Literal["system", "secure", "global"]
NAMESPACES: tuple[Namespace, ...] = ("system", "secure", "global")
_KEY = re.compile(r"^[A-Za-z0-9_.:\-/@]+$")


def parse_settings(
    text: str, namespace: str, problems: list[ParseProblem] | None = None, source: str | None = None
) -> list[Setting]:
    """Parse one `settings list <namespace>` output."""
    if namespace not in NAMESPACES:
        raise ValueError(f"unknown settings namespace {namespace!r} (system, secure or global)")
    ns = cast(Namespace, namespace)
    sink = Problems(source or f"settings_{namespace}", problems)
    out: list[Setting] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if sep and _KEY.match(key.strip()):
            out.append(Setting(namespace=ns, key=key.strip(), value=None if value == "null" else value))
            continue
        if out and not sep and out[-1].value is not None:
            # A multi-line value: `settings list` prints values verbatim.
            out[-1].value = f"{out[-1].value}\n{line}"
            continue
        sink.add("not a key=value settings line", number, line)
    return out
