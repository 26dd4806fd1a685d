"""The abstract value domain of the data-flow engine.

A value is a frozenset of labels; the join of two values is their union (`join`). Each kind of label is a class
below: a label is still a tuple whose first item is its kind's tag, so that sets of labels hash and compare at C
speed (the engine builds millions of them on a big app), while code reads `Source(n)`, `isinstance(lab, Cell)`
and `lab.occ` instead of `("S", n)` and `lab[0] == "S"`.

Three families matter for the rest of the engine:
- data: what may carry a sensitive value (`DATA`): sources, parameters, global cells, keyed contents ...
- symbolic: what a caller must substitute (`SYMBOLIC`): parameters, parameter objects, fields of them ...
- identity: which object a register holds (`IDENTITY`), never data by itself: mutating the object is a side
  effect that the holders of the same object must see.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, ClassVar

CellKey = Any  # a global cell: a field (class, name), ("icc", class), ("prefs", "file:key"), ("file", name) ...


UNCAUGHT: CellKey = ("uncaught", "default")  # the exceptions escaping entry points (default crash handler)


def channel_cell(name: str) -> CellKey:
    """The global cell of a channel (models.yml `channels`): what every send on it carried."""
    return ("channel", name)


def passed_cell(name: str) -> CellKey:
    """The cell a callback's `pass_cell` names: the uncaught exceptions, or a channel."""
    return UNCAUGHT if name == "uncaught" else channel_cell(name)


class Label(tuple):  # type: ignore[type-arg,unused-ignore]
    """One element of an abstract value: a tuple (tag, fields...)."""

    __slots__ = ()
    tag: ClassVar[str] = "?"

    @property
    def kind(self) -> str:
        return str(self[0])


# --- data ---------------------------------------------------------------------------------------------------
class Source(Label):
    """A sensitive value read at source occurrence `occ` (an index into Engine.occurrences)."""

    __slots__ = ()
    tag = "S"

    def __new__(cls, occ: int) -> Source:
        return tuple.__new__(cls, ("S", occ))

    @property
    def occ(self) -> int:
        return int(self[1])


class Param(Label):
    """Whatever the caller passed as parameter `index` (0 = receiver): substituted at call sites."""

    __slots__ = ()
    tag = "P"

    def __new__(cls, index: int) -> Param:
        return tuple.__new__(cls, ("P", index))

    @property
    def param(self) -> int:
        return int(self[1])


class Cell(Label):
    """The content of a global cell (a field, the extras arriving at a component, preferences ...): resolved
    once the whole program is analysed."""

    __slots__ = ()
    tag = "G"

    def __new__(cls, key: CellKey) -> Cell:
        return tuple.__new__(cls, ("G", key))

    @property
    def key(self) -> CellKey:
        return self[1]


class Transform(Label):
    """The value went through a transformation (base64, aes, string_builder, array ...)."""

    __slots__ = ()
    tag = "X"

    def __new__(cls, name: str) -> Transform:
        return tuple.__new__(cls, ("X", name))

    @property
    def name(self) -> str:
        return str(self[1])


class Keyed(Label):
    """`inner` was stored under the constant key `key` of a key-value container (Bundle, Map, JSONObject)."""

    __slots__ = ()
    tag = "KV"

    def __new__(cls, key: object, inner: Label) -> Keyed:
        if inner[0] == "KV" and inner[2][0] == "KV":
            # two keys deep at most (json.getJSONObject("a").getString("b")): a recursion that nests containers
            # (a view tree serialised to JSON) would otherwise make a new, deeper label every round
            deepest = inner[2]
            while deepest[0] == "KV":
                deepest = deepest[2]
            inner = tuple.__new__(Keyed, ("KV", inner[1], deepest))
        return tuple.__new__(cls, ("KV", key, inner))

    @property
    def key(self) -> object:
        return self[1]

    @property
    def inner(self) -> Label:
        return self[2]  # type: ignore[no-any-return,unused-ignore]


class CellAt(Label):
    """What a global cell holds under constant key `at` (intent.getStringExtra("k") of incoming extras)."""

    __slots__ = ()
    tag = "GK"

    def __new__(cls, key: CellKey, at: object) -> CellAt:
        return tuple.__new__(cls, ("GK", key, at))

    @property
    def key(self) -> CellKey:
        return self[1]

    @property
    def at(self) -> object:
        return self[2]


class ParamAt(Label):
    """What the caller's parameter `index` holds under constant key `at`."""

    __slots__ = ()
    tag = "PK"

    def __new__(cls, index: int, at: object) -> ParamAt:
        return tuple.__new__(cls, ("PK", index, at))

    @property
    def param(self) -> int:
        return int(self[1])

    @property
    def at(self) -> object:
        return self[2]


class ParamField(Label):
    """Field `key` of the object passed as parameter `index` (resolved at the call site, else field-based)."""

    __slots__ = ()
    tag = "FR"

    def __new__(cls, index: int, key: CellKey) -> ParamField:
        return tuple.__new__(cls, ("FR", index, key))

    @property
    def param(self) -> int:
        return int(self[1])

    @property
    def key(self) -> CellKey:
        return self[2]


# --- constants ----------------------------------------------------------------------------------------------
class Const(Label):
    """A constant string (endpoint, action, preferences key, file name ...)."""

    __slots__ = ()
    tag = "C"

    def __new__(cls, text: str) -> Const:
        return tuple.__new__(cls, ("C", text))

    @property
    def text(self) -> str:
        return self[1]  # type: ignore[no-any-return,unused-ignore]


class Num(Label):
    """A numeric constant (a period, a port, a resource id)."""

    __slots__ = ()
    tag = "N"

    def __new__(cls, value: int) -> Num:
        return tuple.__new__(cls, ("N", value))

    @property
    def value(self) -> int:
        return int(self[1])


class SmallInt(Label):
    """A small integer constant: an array or list index, not data."""

    __slots__ = ()
    tag = "I"

    def __new__(cls, value: int) -> SmallInt:
        return tuple.__new__(cls, ("I", value))

    @property
    def value(self) -> int:
        return int(self[1])


def int_label(value: int) -> Label:
    """The label of an integer constant: small ones are indexes (SmallInt), larger ones numbers (Num)."""
    return SmallInt(value) if abs(value) < 20 else Num(value)


class ConcatParam(Label):
    """Constant `prefix` followed by parameter `index`: completes to a constant at the call site."""

    __slots__ = ()
    tag = "CAT"

    def __new__(cls, prefix: str, index: int) -> ConcatParam:
        return tuple.__new__(cls, ("CAT", prefix, index))

    @property
    def prefix(self) -> str:
        return str(self[1])

    @property
    def param(self) -> int:
        return int(self[2])


class NotConstant(Label):
    """The string was built from something that is not a constant (its constants are prefixes only)."""

    __slots__ = ()
    tag = "NC"

    def __new__(cls) -> NotConstant:
        return tuple.__new__(cls, ("NC",))


class ClassConst(Label):
    """A class constant (`Foo.class`, Class.forName("...")): a type descriptor."""

    __slots__ = ()
    tag = "K"

    def __new__(cls, desc: str) -> ClassConst:
        return tuple.__new__(cls, ("K", desc))

    @property
    def desc(self) -> str:
        return str(self[1])


class ReflectedMethod(Label):
    """A java.lang.reflect.Method for `name` of class `desc`."""

    __slots__ = ()
    tag = "M"

    def __new__(cls, desc: str, name: str) -> ReflectedMethod:
        return tuple.__new__(cls, ("M", desc, name))

    @property
    def desc(self) -> str:
        return str(self[1])

    @property
    def name(self) -> str:
        return str(self[2])


class StreamTag(Label):
    """An object of a tagged kind (a stream to the network, to a file, an SMS manager ...), from apk_rules tags."""

    __slots__ = ()
    tag = "T"

    def __new__(cls, name: str) -> StreamTag:
        return tuple.__new__(cls, ("T", name))

    @property
    def name(self) -> str:
        return str(self[1])


class ProviderUri(Label):
    """A content-provider URI of a sensitive kind (contacts, sms, call_log ...)."""

    __slots__ = ()
    tag = "U"

    def __new__(cls, kind: str) -> ProviderUri:
        return tuple.__new__(cls, ("U", kind))

    @property
    def source_kind(self) -> str:
        return str(self[1])


class IntentTarget(Label):
    """What an Intent is addressed to: `what` is class, action, pkg or type."""

    __slots__ = ()
    tag = "IT"

    def __new__(cls, what: str, value: str) -> IntentTarget:
        return tuple.__new__(cls, ("IT", what, value))

    @property
    def what(self) -> str:
        return str(self[1])

    @property
    def value(self) -> str:
        return str(self[2])


class JobPeriod(Label):
    """A periodic job's period in milliseconds (JobInfo.Builder.setPeriodic)."""

    __slots__ = ()
    tag = "PER"

    def __new__(cls, ms: int) -> JobPeriod:
        return tuple.__new__(cls, ("PER", ms))

    @property
    def ms(self) -> int:
        return int(self[1])


class TimeUnitConst(Label):
    """A java.util.concurrent.TimeUnit constant (SECONDS, MINUTES ...)."""

    __slots__ = ()
    tag = "UNIT"

    def __new__(cls, name: str) -> TimeUnitConst:
        return tuple.__new__(cls, ("UNIT", name))

    @property
    def name(self) -> str:
        return str(self[1])


class Scheme(Label):
    """The transport a stream or socket uses (tls)."""

    __slots__ = ()
    tag = "SCHEME"

    def __new__(cls, name: str) -> Scheme:
        return tuple.__new__(cls, ("SCHEME", name))

    @property
    def name(self) -> str:
        return str(self[1])


# --- objects and identity -----------------------------------------------------------------------------------
class AppObject(Label):
    """An object of the app's class `desc`; `site` (the new-instance offset) when allocated in this method,
    which gives it fields of its own (object sensitivity for local objects)."""

    __slots__ = ()
    tag = "O"

    def __new__(cls, desc: str, site: int | None = None) -> AppObject:
        return tuple.__new__(cls, ("O", desc) if site is None else ("O", desc, site))

    @property
    def desc(self) -> str:
        return str(self[1])

    @property
    def site(self) -> int | None:
        return int(self[2]) if len(self) == 3 else None


class LibObject(Label):
    """A library object or array allocated in this method at code offset `site` (its aliases share it)."""

    __slots__ = ()
    tag = "L"

    def __new__(cls, site: int) -> LibObject:
        return tuple.__new__(cls, ("L", site))

    @property
    def site(self) -> int:
        return int(self[1])


class ParamObject(Label):
    """The object IS parameter `index`: mutating it is a side effect the caller sees."""

    __slots__ = ()
    tag = "A"

    def __new__(cls, index: int) -> ParamObject:
        return tuple.__new__(cls, ("A", index))

    @property
    def param(self) -> int:
        return int(self[1])


class FieldObject(Label):
    """The object held in global field `key`: mutating it writes that field."""

    __slots__ = ()
    tag = "F"

    def __new__(cls, key: CellKey) -> FieldObject:
        return tuple.__new__(cls, ("F", key))

    @property
    def key(self) -> CellKey:
        return self[1]


class SlotObject(Label):
    """The object held in a local object's field slot of the state: mutating it updates that slot."""

    __slots__ = ()
    tag = "OF"

    def __new__(cls, slot: object) -> SlotObject:
        return tuple.__new__(cls, ("OF", slot))

    @property
    def slot(self) -> object:
        return self[1]


class ArrayRow(Label):
    """Row `row` (-1: a row at an index not known) of an array allocated in this method at code offset `site`:
    what `table[i]` of a multi-dimensional array reads. Writing into the row writes into the array too."""

    __slots__ = ()
    tag = "AR"

    def __new__(cls, site: int, row: int) -> ArrayRow:
        return tuple.__new__(cls, ("AR", site, row))

    @property
    def site(self) -> int:
        return int(self[1])

    @property
    def row(self) -> int:
        return int(self[2])


# --- families ------------------------------------------------------------------------------------------------
def tags(*kinds: type[Label]) -> frozenset[str]:
    return frozenset(k.tag for k in kinds)


IDENTITY = tags(ParamObject, FieldObject, LibObject, SlotObject, ArrayRow)
# not carried by a library call's result by default (Scheme labels do travel)
NOT_PROPAGATED = IDENTITY | tags(StreamTag, SmallInt)
DATA = tags(Source, Param, Cell, Transform, Keyed, CellAt, ParamAt, ParamField)
SYMBOLIC = tags(Param, ParamObject, ConcatParam, ParamAt, ParamField)
TAINTING = tags(Source, Param, Cell, CellAt, ParamAt, ParamField)  # may be (or become) a sensitive value
ENDPOINT_PARTS = tags(Const, Cell, Param, IntentTarget, Num, ConcatParam, ParamField, Scheme)
# kept first when a value must be cut to MAX_LABELS: what decides whether a flow exists
ESSENTIAL = tags(Source, Param, ParamObject, FieldObject, Cell, StreamTag, Transform, AppObject)

Value = frozenset  # frozenset[Label]
EMPTY: frozenset[Label] = frozenset()
MAX_LABELS = 256


def join(*values: Iterable[Label]) -> frozenset[Label]:
    """The least upper bound of values: their union."""
    out: set[Label] = set()
    for v in values:
        out.update(v)
    return frozenset(out)


def without(value: Iterable[Label], kinds: frozenset[str]) -> frozenset[Label]:
    """The labels of value whose kind is not in kinds."""
    return frozenset(lab for lab in value if lab[0] not in kinds)


def only(value: Iterable[Label], kinds: frozenset[str]) -> frozenset[Label]:
    """The labels of value whose kind is in kinds."""
    return frozenset(lab for lab in value if lab[0] in kinds)


def has(value: Iterable[Label], kind: type[Label]) -> bool:
    tag = kind.tag
    return any(lab[0] == tag for lab in value)


def is_symbolic(value: Iterable[Label]) -> bool:
    """Depends on what a caller passes (must be substituted at call sites)."""
    for lab in value:
        kind = lab[0]
        if kind in SYMBOLIC or (kind == "KV" and is_symbolic((lab[2],))):
            return True
    return False


def is_tainted(value: Iterable[Label]) -> bool:
    """May be a sensitive value now or once parameters and cells are resolved."""
    for lab in value:
        kind = lab[0]
        if kind in TAINTING or (kind == "KV" and is_tainted((lab[2],))):
            return True
    return False


def consts(value: Iterable[Label]) -> list[str]:
    """The constant strings of a value."""
    return [lab[1] for lab in value if lab[0] == "C" and isinstance(lab[1], str)]


_CONSTANT_KINDS = frozenset(("C", "N", "I", "K", "IT", "UNIT", "PER", "NC", "CAT"))
_TAINT_KINDS = frozenset(("FR", "GK", "PK"))

# Which analysis a cut is charged to: the solver sets it for the APK it analyses (a value cut to MAX_LABELS
# drops constants, never what decides a flow, but an endpoint may then be missing, so the report says so).
CUT_COUNTER: ContextVar[list[int] | None] = ContextVar("CUT_COUNTER", default=None)


def cap(value: frozenset[Label]) -> frozenset[Label]:
    """Bound the size of a value to MAX_LABELS, keeping every ESSENTIAL label; a cut is counted.

    A value over the bound loses all its constants (then, if still over, everything but what decides a flow or
    may be sensitive data),
    not the first ones in some order: as a value grows through a fixpoint, a cut that kept "the first 256" would
    keep a different subset each round and the summaries would never settle."""
    if len(value) <= MAX_LABELS:
        return value
    counter = CUT_COUNTER.get()
    if counter is not None:
        counter[0] += 1
    out = frozenset(lab for lab in value if lab[0] not in _CONSTANT_KINDS)
    if len(out) > MAX_LABELS:
        # what may still be sensitive data stays even over the bound (fields of parameter objects, keyed reads
        # of cells and parameters), and keyed contents holding data lose their key, not their data: dropping
        # them would lose flows, not only endpoints
        kept: set[Label] = set()
        for lab in out:
            if lab[0] in ESSENTIAL or lab[0] in _TAINT_KINDS:
                kept.add(lab)
            elif lab[0] == "KV":
                inner = lab[2]
                while inner[0] == "KV":
                    inner = inner[2]
                if is_tainted((inner,)):
                    kept.add(inner)
        out = frozenset(kept)
    return out
