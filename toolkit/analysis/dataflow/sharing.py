"""Equal values kept once: the results of a whole app hold each distinct abstract value one time.

A value is a frozenset of up to 256 labels, and the methods of one app produce the same big values again and
again (a runtime whose every call goes through `Object`, like Kawa's, makes most values the same few hundred
labels). Each analysis builds them afresh, so without sharing an app's results held 7.5 million label slots for
1.9 million distinct ones (android_steek: 1.6 GB at its budget). Values are immutable, so sharing changes nothing
but memory.
"""

from __future__ import annotations

from toolkit.analysis.dataflow.summary import IccSend, MethodResult, SinkHit, Summary
from toolkit.analysis.dataflow.values import Label

MIN_SHARED = 8  # smaller values cost less than the table entry
MAX_TABLE = 400_000  # distinct values remembered (past it the table starts again: sharing is only memory)


class ValueTable:
    """Hands back one object per distinct value."""

    def __init__(self) -> None:
        self._table: dict[frozenset[Label], frozenset[Label]] = {}

    def one(self, value: frozenset[Label]) -> frozenset[Label]:
        if len(value) < MIN_SHARED:
            return value
        table = self._table
        kept = table.get(value)
        if kept is None:
            if len(table) >= MAX_TABLE:
                table.clear()
            kept = table[value] = value
        return kept

    def hit(self, h: SinkHit) -> SinkHit:
        return SinkHit(h.kind, h.api, self.one(h.data), None if h.recv is None else self.one(h.recv), h.tag,
                       self.one(h.endpoints), h.path)

    def icc(self, i: IccSend) -> IccSend:
        return IccSend(i.api, self.one(i.intent), i.path, i.always_external, i.internal_only)

    def share(self, res: MethodResult) -> None:
        """Replace the values of one analysed method's result and summary by the shared ones, in place."""
        one = self.one
        res.hits = {self.hit(h) for h in res.hits}
        res.writes = {(k, one(v)) for k, v in res.writes}
        res.iccs = {self.icc(i) for i in res.iccs}
        s = res.summary
        res.summary = Summary(
            ret=one(s.ret), mutations={k: one(v) for k, v in s.mutations.items()},
            hits=frozenset(self.hit(h) for h in s.hits), writes=frozenset((k, one(v)) for k, v in s.writes),
            param_cells=s.param_cells, info_params=s.info_params, iccs=frozenset(self.icc(i) for i in s.iccs),
            facts=s.facts, thrown=one(s.thrown), relw=tuple((k, one(v)) for k, v in s.relw),
            relm=tuple((k, one(v)) for k, v in s.relm), fld_out=tuple((k, one(v)) for k, v in s.fld_out),
        )
