"""Global cells: static and instance fields, the extras arriving at the app's own components, activity results,
saved state, preferences, files and WorkManager data. A method writes a cell (its summary's writes) and other
methods read it (a Cell label), so cells join the methods' results into one constraint system:

- `TaintTracker` (during the analysis): which cells may hold a sensitive value, kept up to date incrementally
  as methods are analysed, so the driver knows whose readers to analyse next;
- `CellTables` (when flows are built): what each cell holds, with every value's expansion memoised until a
  table changes (expansion used to be recomputed for every use, which dominated the time on some apps);
- `IccRouting`: which own components an Intent reaches (explicit class, action filters, receivers registered
  at run time, setResult back to onActivityResult).
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.limits import Limits
from toolkit.analysis.dataflow.summary import IccSend, MethodResult
from toolkit.analysis.dataflow.values import Cell, CellKey, Keyed, Label

_NOT_RESOLVED = frozenset(("P", "A", "F", "PK"))
_KEYED_KEPT = frozenset(("S", "X"))
MAX_EXPANSION = 50000  # labels in one resolved value (more: the rest is dropped and the limit recorded)


def carries(value: Iterable[Label], tainted: set[CellKey]) -> bool:
    """The value holds a source, or a cell known to hold one."""
    for lab in value:
        kind = lab[0]
        if kind == "S" or (kind in ("G", "GK") and lab[1] in tainted) or (kind == "FR" and lab[2] in tainted):
            return True
        if kind == "KV" and carries((lab[2],), tainted):
            return True
    return False


def cell_refs(value: Iterable[Label]) -> set[CellKey]:
    """The cells a value reads."""
    out: set[CellKey] = set()
    for lab in value:
        kind = lab[0]
        if kind in ("G", "GK"):
            out.add(lab[1])
        elif kind == "FR":
            out.add(lab[2])
        elif kind == "KV":
            out |= cell_refs((lab[2],))
    return out


class IccRouting:
    """Where an Intent sent by the app goes among its own components."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.dynamic_receivers: dict[str, set[str]] = {}  # action -> receiver classes registered at run time

    def absorb_facts(self, res: MethodResult) -> None:
        for fact in res.facts:
            if fact[0] == "dynrecv":
                for action in fact[2]:
                    self.dynamic_receivers.setdefault(action, set()).add(str(fact[1]))

    def internal_targets(self, icc: IccSend, intent: Iterable[Label]) -> list[str]:
        """Own components the intent is delivered to (explicit class or a matching filter)."""
        own: list[str] = []
        if icc.always_external:
            return own
        labels = list(intent)
        types = [str(lab[2]) for lab in labels if lab[0] == "IT" and lab[1] == "type"]
        for lab in labels:
            if lab[0] != "IT":
                continue
            if lab[1] == "class" and self.app.program.is_app(lab[2]):
                own.append(lab[2])
            elif lab[1] == "action":
                own.extend(self.action_handlers(lab[2], types))
        return own

    def result_targets(self, sender_sig: str, icc: IccSend) -> list[str] | None:
        """setResult in an activity nobody else can start: the result goes back to the app's own activities
        (onActivityResult). None when the intent may leave the app."""
        cm = self.app.cat.components
        if not icc.api.split("(")[0].endswith("->" + cm.result_setter):
            return None
        sender = self.app.components.get(sender_sig.split("->", 1)[0])
        if sender is None or sender.exported:
            return None
        return sorted(d for d, c in self.app.components.items()
                      if c.kind in ("activity", "activity-alias")
                      and any(m.name == cm.activity_result for m in self.app.class_methods(d)))

    def action_handlers(self, action: str, types: list[str] | None = None) -> list[str]:
        """Own components whose intent filters accept this action (and MIME type, when the intent sets one)."""
        out = [d for d, c in self.app.components.items() if c.enabled and any(
            action in f.actions and type_matches(f.data_mime_types, types or []) for f in c.intent_filters)]
        out.extend(sorted(self.dynamic_receivers.get(action, ())))
        return out


class TaintTracker:
    """Which global cells may hold a sensitive value, updated as method results come in."""

    def __init__(self, routing: IccRouting) -> None:
        self.routing = routing
        self.tainted: set[CellKey] = set()
        self.fresh: list[CellKey] = []  # newly tainted, not yet handed to the driver
        self.writes: dict[CellKey, set[Label]] = {}
        self._users: dict[CellKey, set[CellKey]] = {}  # cell -> cells whose writes read it
        self._waiting_iccs: dict[CellKey, list[tuple[str, IccSend]]] = {}
        self._iccs_seen: set[tuple[str, IccSend]] = set()

    def absorb(self, res: MethodResult) -> None:
        """Take a method's (new) writes and intents into account."""
        for key, val in res.writes:
            cell = self.writes.setdefault(key, set())
            new = [lab for lab in val if lab not in cell]
            if not new:
                continue
            cell.update(new)
            if key in self.tainted:
                continue
            if carries(new, self.tainted):
                self._taint(key)
            else:
                for ref in cell_refs(new):
                    self._users.setdefault(ref, set()).add(key)
        sig = res.method.sig
        for icc in res.iccs:
            if (sig, icc) in self._iccs_seen:
                continue
            self._iccs_seen.add((sig, icc))
            if carries(icc.intent, self.tainted):
                self._route(sig, icc)
            else:
                for ref in cell_refs(icc.intent):
                    self._waiting_iccs.setdefault(ref, []).append((sig, icc))

    def take_fresh(self) -> list[CellKey]:
        fresh, self.fresh = self.fresh, []
        return fresh

    def _taint(self, key: CellKey) -> None:
        todo = [key]
        while todo:
            k = todo.pop()
            if k in self.tainted:
                continue
            self.tainted.add(k)
            self.fresh.append(k)
            for user in sorted(self._users.pop(k, ()), key=repr):
                if user not in self.tainted and carries(self.writes.get(user, ()), self.tainted):
                    todo.append(user)
            for sig, icc in self._waiting_iccs.pop(k, []):
                if carries(icc.intent, self.tainted):
                    todo.extend(self._targets(sig, icc))

    def _route(self, sig: str, icc: IccSend) -> None:
        for key in self._targets(sig, icc):
            self._taint(key)

    def _targets(self, sig: str, icc: IccSend) -> list[CellKey]:
        out: list[CellKey] = [("result", t) for t in self.routing.result_targets(sig, icc) or []]
        out.extend(("icc", t) for t in self.routing.internal_targets(icc, icc.intent))
        return out


class CellTables:
    """What each global cell holds (resolved labels), and memoised expansion of values through them."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits
        self.tables: dict[CellKey, set[Label]] = {}
        self._memo: dict[tuple[frozenset[Label], int], frozenset[Label]] = {}
        self._sourceful: set[CellKey] | None = None  # cells from which a Source label can be reached

    def add(self, key: CellKey, labels: Iterable[Label]) -> bool:
        """Add labels to a cell; True when it grew (memoised expansions are then dropped)."""
        cell = self.tables.setdefault(key, set())
        before = len(cell)
        cell.update(labels)
        if len(cell) != before:
            self._memo.clear()
            self._sourceful = None
            return True
        return False

    def may_carry_source(self, value: frozenset[Label]) -> bool:
        """Whether expanding value could give a Source label (an over-approximation that ignores keys, found
        in one pass over the cell graph): most sink values carry none, and need no expansion at all."""
        if self._sourceful is None:
            self._sourceful = self._solve_sourceful()
        return _reaches(value, self._sourceful)

    def _solve_sourceful(self) -> set[CellKey]:
        users: dict[CellKey, list[CellKey]] = {}  # cell -> the cells whose content refers to it
        todo: list[CellKey] = []
        for key, labels in self.tables.items():
            for lab in labels:
                for ref, is_source in _refs(lab):
                    if is_source:
                        todo.append(key)
                    else:
                        users.setdefault(ref, []).append(key)
        found: set[CellKey] = set()
        while todo:
            key = todo.pop()
            if key in found:
                continue
            found.add(key)
            todo.extend(users.get(key, ()))
        return found

    def expand(self, value: frozenset[Label]) -> frozenset[Label]:
        """Resolve cells (Cell), keyed reads of them (CellAt) and keyed contents (Keyed) into concrete labels."""
        return self._expand(value, 0)

    def _expand(self, value: frozenset[Label], depth: int) -> frozenset[Label]:
        key = (value, depth)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._expand_uncached(value, depth)
        return hit

    def _expand_uncached(self, value: frozenset[Label], depth: int) -> frozenset[Label]:
        out: set[Label] = set()
        stack = list(value)
        seen: set[CellKey] = set()
        tables = self.tables
        while stack:
            lab = stack.pop()
            kind = lab[0]
            if kind == "G":
                if lab[1] in seen:
                    continue
                seen.add(lab[1])
                stack.extend(tables.get(lab[1], ()))
            elif kind == "GK":
                if depth > 6:
                    continue
                for inner in self._expand(frozenset((Cell(lab[1]),)), depth + 1):
                    if inner[0] == "KV":
                        if inner[1] == lab[2]:
                            stack.append(inner[2])
                    elif inner[0] in ("S", "X"):
                        out.add(inner)
            elif kind == "KV":
                if depth > 6:
                    continue
                # what a keyed content is used for: a keyed read finding data under its key, and data reaching a
                # sink or an intent; so only data (and nested keyed data) is kept under the key
                # (a container inside a container keeps the outer key only: the nested keys multiplied the labels
                # by every key of every level, and a read by the outer key still finds the data)
                for inner in self._expand(frozenset((lab[2],)), depth + 1):
                    if inner[0] == "KV":
                        inner = inner[2]
                    if inner[0] in _KEYED_KEPT:
                        out.add(Keyed(lab[1], inner))
                if len(out) > MAX_EXPANSION:
                    break
            elif kind == "FR":
                stack.append(Cell(lab[2]))  # a parameter object's field never resolved by a caller: field-based
            elif kind in _NOT_RESOLVED:
                continue
            else:
                out.add(lab)
            if len(out) > MAX_EXPANSION:
                if self.limits is not None:
                    self.limits.hit("cell_expansion", None, f"a resolved value passed {MAX_EXPANSION} labels; the rest was dropped")
                break
        return frozenset(out)


def _refs(lab: Label) -> list[tuple[CellKey, bool]]:
    """The cells a label refers to, and (None, True) for a Source in it."""
    kind = lab[0]
    if kind == "S":
        return [(None, True)]
    if kind in ("G", "GK"):
        return [(lab[1], False)]
    if kind == "FR":
        return [(lab[2], False)]
    if kind == "KV":
        return _refs(lab[2])
    return []


def _reaches(value: Iterable[Label], sourceful: set[CellKey]) -> bool:
    for lab in value:
        for ref, is_source in _refs(lab):
            if is_source or ref in sourceful:
                return True
    return False


def flatten(value: frozenset[Label]) -> frozenset[Label]:
    """Contents of key-value containers count as data when the container itself reaches a sink."""
    out: set[Label] = set()
    stack = list(value)
    while stack:
        lab = stack.pop()
        if lab[0] == "KV":
            stack.append(lab[2])
        else:
            out.add(lab)
    return frozenset(out)


def type_matches(filter_types: list[str], intent_types: list[str]) -> bool:
    """Intent resolution by MIME type: a filter without types takes untyped intents only; text/* matches text/plain."""
    if not intent_types:
        return not filter_types
    for it in intent_types:
        for ft in filter_types:
            if ft in ("*/*", "*") or ft == it or (ft.endswith("/*") and it.split("/", 1)[0] == ft[:-2]):
                return True
    return False
