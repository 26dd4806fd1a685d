"""Where phonehome's run-time data lives: found through `importlib.resources`, never relative to a checkout.

`apk_rules/` stays at the top of the repository (the design keeps knowledge as data beside the code);
`toolkit/apk_rules` is a link to it, so the same lookup works in a checkout, an editable install and a wheel
(setuptools copies the files behind the link into the wheel and the sdist as package data of `toolkit`).
The demo handset's APKs are package data of `toolkit.simulator` the same way (links to fixtures/apks/).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


class DataMissingError(Exception):
    """Data phonehome needs at run time is not installed: a broken installation, never an empty result."""


def _package_dir(package: str, *parts: str) -> Path:
    # phonehome is installed as files (not zip-safe): the resource root is a real folder.
    return Path(str(resources.files(package).joinpath(*parts)))


def rules_dir() -> Path:
    """The apk_rules/ folder: sources, sinks, models, rules, signer pins, trackers."""
    return _package_dir("toolkit", "apk_rules")


def profiles_dir() -> Path:
    """The built-in simulator profiles (the demo handset and its APKs)."""
    return _package_dir("toolkit.simulator", "profiles")


# What a working installation must hold; checked before a scan so that missing data is an error (exit 2), not an
# analysis that silently finds nothing.
REQUIRED_RULE_FILES = ("sources.yml", "sinks.yml", "models.yml", "rules", "signers/pins.yml",
                       "signers/checks.yml", "signers/aosp_test_keys.yml", "trackers")


def check_installed_data() -> None:
    """Raise DataMissingError naming the first missing file of apk_rules/ (one line, for `error: ...`)."""
    root = rules_dir()
    if not root.is_dir():
        raise DataMissingError(f"{root}: rule catalogue not installed (a broken phonehome installation)")
    for name in REQUIRED_RULE_FILES:
        if not (root / name).exists():
            raise DataMissingError(f"{root / name}: missing from the rule catalogue (a broken phonehome installation)")
    if not any((root / "rules").glob("*.yml")):
        raise DataMissingError(f"{root / 'rules'}: no rule files (a broken phonehome installation)")
