"""Knobs of one APK analysis."""

from __future__ import annotations

from pydantic import Field

from toolkit.models.common import PhModel


class AnalysisOptions(PhModel):
    """Options for analysing one APK."""

    time_budget_seconds: float = Field(120.0, description="Data-flow work stops here; the result is then `partial`")
