"""The store check's data files: signer pins, AOSP test keys, check metadata (apk_rules/signers/) and tracker
signatures (apk_rules/trackers/). Every file is schema-checked when loaded; a bad file raises StoreDataError
naming the file and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import Field, ValidationError, field_validator

from toolkit import yamlio
from toolkit.models import RuleInfo
from toolkit.models.common import PhModel
from toolkit.resources import rules_dir

RULES_ROOT = rules_dir()
SIGNERS_DIR = RULES_ROOT / "signers"
TRACKERS_DIR = RULES_ROOT / "trackers"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_M = TypeVar("_M", bound=PhModel)


class StoreDataError(Exception):
    """A data file of the store check is missing or malformed; the message names the file and the reason."""


def normalise_digest(value: str) -> str:
    """'AB:CD:...' or 'abcd...' -> lowercase hex without separators."""
    return value.replace(":", "").replace(" ", "").strip().lower()


def _digest_list(values: list[str]) -> list[str]:
    out = []
    for value in values:
        digest = normalise_digest(value)
        if not _HEX64.match(digest):
            raise ValueError(f"not a SHA-256 hex digest: {value!r}")
        out.append(digest)
    return out


class SignerPin(PhModel):
    package: str
    name: str | None = None
    sha256: list[str] = Field(min_length=1)
    source: str = Field(min_length=1, description="Public source of the value (required)")
    file: str | None = Field(None, description="Pin file it came from (set when loaded)")

    @field_validator("sha256")
    @classmethod
    def _digests(cls, values: list[str]) -> list[str]:
        return _digest_list(values)


class PinFile(PhModel):
    version: int
    pins: list[SignerPin] = Field(default_factory=list)


class TestKey(PhModel):
    __test__ = False  # not a pytest class

    name: str
    sha256: str
    subject: str | None = None
    pem: str | None = None
    note: str | None = None

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        return _digest_list([value])[0]


class TestKeyFile(PhModel):
    __test__ = False

    version: int
    source: str
    keys: list[TestKey]


class CheckRulesFile(PhModel):
    version: int
    rules: list[RuleInfo]


class TrackerSignature(PhModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    categories: list[str] = Field(min_length=1)
    code: list[str] = Field(default_factory=list, description="Dotted Java package prefixes")
    hosts: list[str] = Field(default_factory=list)
    website: str

    @field_validator("code")
    @classmethod
    def _prefixes(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", value):
                raise ValueError(f"not a dotted Java package prefix: {value!r}")
        return values

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, values: list[str]) -> list[str]:
        return [v.lower().strip(".") for v in values]


class TrackerFile(PhModel):
    version: str
    trackers: list[TrackerSignature]


def _load_yaml(path: Path) -> object:
    try:
        return yamlio.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StoreDataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise StoreDataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    except yaml.YAMLError as exc:
        # One line: where and what (PyYAML's own message spans several lines with a source excerpt).
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StoreDataError(f"{path}: not valid YAML: {where}{what}") from exc


def _validate(model: type[_M], path: Path) -> _M:
    data = _load_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StoreDataError(f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from exc


def load_pins(extra: Iterable[Path] = (), include_builtin: bool = True) -> list[SignerPin]:
    """Signer pins: the shipped apk_rules/signers/pins.yml plus user files (same format)."""
    files = ([SIGNERS_DIR / "pins.yml"] if include_builtin else []) + list(extra)
    pins: list[SignerPin] = []
    for path in files:
        for pin in _validate(PinFile, path).pins:
            pins.append(pin.model_copy(update={"file": str(path)}))
    return pins


def load_test_keys() -> TestKeyFile:
    """The publicly known AOSP test certificates."""
    return _validate(TestKeyFile, SIGNERS_DIR / "aosp_test_keys.yml")


def load_check_rules() -> dict[str, RuleInfo]:
    """Metadata of the signer and store-copy findings, by rule id."""
    rules = _validate(CheckRulesFile, SIGNERS_DIR / "checks.yml").rules
    return {r.id: r for r in rules}


def load_trackers(extra: Iterable[Path] = ()) -> tuple[list[TrackerSignature], str]:
    """Tracker and library signatures from apk_rules/trackers/*.yml plus user files, and a version label."""
    signatures: list[TrackerSignature] = []
    versions: list[str] = []
    seen: dict[str, Path] = {}
    for path in sorted(TRACKERS_DIR.glob("*.yml")) + list(extra):
        parsed = _validate(TrackerFile, path)
        versions.append(f"{path.stem}@{parsed.version}")
        for signature in parsed.trackers:
            if signature.id in seen:
                raise StoreDataError(f"{path}: tracker id {signature.id!r} already defined in {seen[signature.id]}")
            seen[signature.id] = path
            signatures.append(signature)
    return signatures, ", ".join(versions)
