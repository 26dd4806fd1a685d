"""Limits that cut an analysis, recorded by name and place so that a report never calls cut work complete.

Every bound the engine applies (time, method size, fixpoint rounds, dispatch fan-out, value size ...) goes
through `Limits.hit`; `analyse_apk` turns a non-empty record into status `partial` with the limits named in the
reason and listed in `stats.limits`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from toolkit.models import AnalysisLimit

# Names and meanings of the limits, as they appear in reports (stats.limits[].name).
LIMIT_DETAILS = {
    "time_budget": "the per-APK time budget ran out; flows found until then are reported",
    "method_size": "a method larger than the engine decodes was summarised like an unknown library call",
    "block_visits": "a method's control flow did not settle within the visit bound; its summary may be incomplete",
    "fixpoint_rounds": "a method's summary kept changing (recursion), or it was analysed again too often; the last summary was kept",
    "dispatch_fanout": "a virtual call had more possible app targets than the bound (64 by class hierarchy, 512 by known receiver objects); only the first were followed",
    "value_size": "values with more labels than the bound were cut (constants and the keys of keyed contents dropped, never data: an endpoint may be missing)",
    "caller_walk": "the walk from sinks up to the entry points stopped before reaching every caller",
    "cell_expansion": "a value resolved through global cells was too large; part of it was dropped",
    "cell_rounds": "global cells (fields, intents between components) did not settle within the round bound",
    "trigger_search": "the reverse search from a flow to its entry points stopped; some triggers may be missing",
    "summary_hits": "a method reaching many sink sites with its parameters' data told its callers one site per sink API; flows through it name that site, not every one",
}


class BudgetExceeded(Exception):
    """The per-APK time budget ran out."""


@dataclass
class Limits:
    """The limits hit while analysing one APK, and the deadline."""

    deadline: float
    hits: dict[str, AnalysisLimit] = field(default_factory=dict)

    def hit(self, name: str, where: str | None = None, detail: str | None = None) -> None:
        """Record that limit `name` cut the analysis at `where` (the first place is kept, the rest counted)."""
        known = self.hits.get(name)
        if known is None:
            self.hits[name] = AnalysisLimit(name=name, where=where, detail=detail or LIMIT_DETAILS.get(name))
        else:
            known.count += 1

    def check_time(self) -> None:
        """Raise BudgetExceeded once the deadline has passed (recorded as the time_budget limit)."""
        if time.monotonic() > self.deadline:
            if "time_budget" not in self.hits:
                self.hit("time_budget")
            raise BudgetExceeded()

    def recorded(self) -> list[AnalysisLimit]:
        """The limits hit, in a stable order."""
        return [self.hits[k] for k in sorted(self.hits)]

    def reason(self) -> str | None:
        """One line naming every limit hit, or None."""
        if not self.hits:
            return None
        parts = []
        for lim in self.recorded():
            where = f", first at {lim.where}" if lim.where else ""
            parts.append(f"{lim.name} ({lim.detail}; {lim.count}x{where})")
        return "analysis limits hit: " + "; ".join(parts)
