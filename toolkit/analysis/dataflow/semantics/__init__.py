"""The semantics registry: how a call into library code (framework, JDK, bundled SDKs) moves data.

What data can say lives in `apk_rules/` (sources, sinks, models.yml: transforms, tags, callbacks, keyed
containers, families ...). The handlers here hold the logic for each family, one family per module, and are
tried in the order of HANDLERS, each with a guard that tells from the API alone (class, name, descriptor) whether
the handler can act on it at all (decided once per API). A handler returns the call's result to end the call, or
None to let the next one look (side effects such as a sink hit or a field write do not end it). The default
propagation closes the list: the result carries the receiver's and the arguments' data, and a mutator adds its
arguments to the receiver.

To add a library model: add it to the data file and a fixture case; add a handler only for behaviour the data
cannot express.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.analysis.dataflow.program import Loc
from toolkit.analysis.dataflow.summary import State
from toolkit.analysis.dataflow.values import EMPTY, Label

if TYPE_CHECKING:
    from toolkit.analysis.catalogue import Catalogue
    from toolkit.analysis.dataflow.calls import CallOps as MethodInterpreter


@dataclass
class LibraryCall:
    """One call into library code, as the handlers see it."""

    it: MethodInterpreter
    lib: str  # the library class the call resolves to
    ref_cls: str  # the class named at the call site
    name: str
    proto: str
    args: list[frozenset[Label]]  # [receiver (EMPTY when static), arguments...]
    arg_regs: list[int | None]
    st: State
    where: Loc
    static: bool
    cands: tuple[str, ...] = ()  # lib and its known framework supertypes
    keys: tuple[str, ...] = ()  # "Class;->name" for each candidate
    api_sig: str = ""
    # accumulated by handlers that do not end the call, used by the default propagation
    tagged: frozenset[Label] = EMPTY
    xform: str | None = None
    extra: frozenset[Label] = EMPTY

    @property
    def cat(self) -> Catalogue:
        return self.it.cat

    @property
    def recv(self) -> frozenset[Label]:
        return EMPTY if self.static else self.args[0]

    def arg(self, ref: int | str) -> frozenset[Label]:
        """Argument by 1-based index, or "this"."""
        if ref == "this":
            return self.recv
        assert isinstance(ref, int)
        return self.args[ref] if 0 < ref < len(self.args) else EMPTY

    def matches(self, apis: Container[str]) -> bool:
        """One of the names the call may resolve to is in apis (as Api.named, for the handler)."""
        return any(k in apis for k in self.keys)

    def in_family(self, classes: list[str]) -> bool:
        return self.lib in classes


Handler = Callable[[LibraryCall], "frozenset[Label] | None"]


@dataclass(frozen=True)
class Api:
    """What a call site says about the library API it calls, before any value is known: a handler's guard
    decides from it alone whether the handler can ever act on the call."""

    lib: str
    ref_cls: str
    name: str
    proto: str
    static: bool
    cands: tuple[str, ...]
    keys: tuple[str, ...]  # "Class;->name" for each candidate
    api_sig: str

    def named(self, apis: Container[str]) -> bool:
        """One of the names the call may resolve to is in apis."""
        return any(k in apis for k in self.keys)


# A handler's guard: False only when the handler returns None and has no effect for every call of this API.
Guard = Callable[[Api, "Catalogue"], bool]


def always(api: Api, cat: Catalogue) -> bool:
    return True


@dataclass
class Plan:
    """The handlers that can act on one API as called, and what the call site says of it."""

    api: Api
    handlers: tuple[Handler, ...]  # those whose guard holds, in HANDLERS order


def _handlers() -> list[tuple[Handler, Guard]]:
    from toolkit.analysis.dataflow.semantics import (
        callbacks,
        containers,
        default,
        intents,
        io,
        reflection,
        sinks,
        sources,
        strings,
    )

    return [
        (sources.read_source, sources.reads_source),
        (reflection.reflect, reflection.reflective),
        (containers.keyed, containers.keyed_container),
        (containers.array_factory, containers.allocates_array),
        (strings.clear_builder, strings.clears_builder),
        (containers.positional_list, containers.list_operation),
        (containers.preferences, containers.preferences_operation),
        (strings.resource_string, strings.reads_resource),
        (sinks.sink_and_icc, sinks.sink_or_icc),
        (intents.intent_plumbing, intents.intent_related),
        (intents.work_manager, intents.work_related),
        (callbacks.run_callbacks, callbacks.may_run_callbacks),
        (callbacks.send_on_channel, callbacks.sends_on_channel),
        (io.tags_and_transforms, io.tags_or_transforms),
        (io.copy_between_arguments, io.copies_arguments),
        (io.files, io.file_related),
        (io.serialise, io.serialises),
        (strings.to_string, strings.calls_to_string),
        (strings.constant_operations, strings.constant_operation),
        (strings.fold_constants, strings.folds_constants),
        (default.clean_or_propagate, always),
    ]


HANDLERS: list[tuple[Handler, Guard]] = []
# per catalogue: the plan of each API as called (cands, keys, the handlers that can act): computed once
_PLANS: dict[int, tuple[Catalogue, dict[tuple[str, str, str, str, bool], Plan]]] = {}


def apply_library(
    it: MethodInterpreter, lib: str, ref_cls: str, name: str, proto: str, args: list[frozenset[Label]],
    arg_regs: list[int | None], st: State, where: Loc, static: bool,
) -> frozenset[Label]:
    """The result of a library call, after its side effects on the state and the method's effects."""
    plan = plan_for(it.cat, lib, ref_cls, name, proto, static)
    api = plan.api
    call = LibraryCall(it, lib, ref_cls, name, proto, args, arg_regs, st, where, static, api.cands, api.keys,
                       api.api_sig)
    for handler in plan.handlers:
        result = handler(call)
        if result is not None:
            return result
    return EMPTY  # pragma: no cover - the default handler always answers


def plan_for(cat: Catalogue, lib: str, ref_cls: str, name: str, proto: str, static: bool) -> Plan:
    """The plan of one API as called (cached per catalogue): the library calls of an app are a few thousand
    APIs called a hundred thousand times, and most handlers can tell from the API alone that they have nothing
    to do."""
    if not HANDLERS:
        HANDLERS.extend(_handlers())
    entry = _PLANS.get(id(cat))
    if entry is None or entry[0] is not cat:
        entry = _PLANS[id(cat)] = (cat, {})
    plans = entry[1]
    key = (lib, ref_cls, name, proto, static)
    plan = plans.get(key)
    if plan is None:
        cands = cat.candidates(lib)
        if ref_cls != lib and ref_cls not in cands:
            cands = [ref_cls, *cands]
        api = Api(lib, ref_cls, name, proto, static, tuple(cands), tuple(f"{c}->{name}" for c in cands),
                  f"{lib}->{name}{proto}")
        plan = plans[key] = Plan(api, tuple(h for h, guard in HANDLERS if guard(api, cat)))
    return plan
