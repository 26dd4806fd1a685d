"""YAML reading for the whole toolkit: libyaml's C parser when PyYAML was built with it, the pure-Python one
otherwise. Both build the same documents; a file that does not parse is read again by the Python one, for its
clearer message. Every analysis worker loads the rule and model files: the C parser does it ~7 times faster."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """The document in `text` (plain data only, like yaml.safe_load)."""
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError:
        if _LOADER is yaml.SafeLoader:
            raise
    # a broken file: parse again with the Python loader, whose messages say more ("expected ',' or ']', but got
    # '<stream end>'") than libyaml's, so every error reads the same on every machine
    return yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506
