"""Shared enums and the base model every phonehome model derives from."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class PhModel(BaseModel):
    """Base for all phonehome models: unknown fields are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class Severity(str, Enum):
    """How bad a finding is if true. Ordered: info < low < medium < high < critical."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = [Severity.info, Severity.low, Severity.medium, Severity.high, Severity.critical]


class Confidence(str, Enum):
    """How sure the engine is that the finding is real."""

    low = "low"
    medium = "medium"
    high = "high"


class Status(str, Enum):
    """Outcome of analysing one APK."""

    analysed = "analysed"
    partial = "partial"  # something was analysed, something not (time budget, unreadable DEX ...): see reason
    not_analysed = "not_analysed"  # nothing about the code could be said: see reason
