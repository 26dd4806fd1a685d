"""The semantics registry: how a call into library code (framework, JDK, bundled SDKs) moves data.

What data can say lives in `apk_rules/` (sources, sinks, models.yml: transforms, tags, callbacks, keyed
containers, families ...). The handlers here hold the logic for each family, one family per module, and are
tried in the order of HANDLERS: a handler returns the call's result to end the call, or None to let the next
one look (side effects such as a sink hit or a field write do not end it). The default propagation closes the
list: the result carries the receiver's and the arguments' data, and a mutator adds its arguments to the
receiver.

To add a library model: add it to the data file and a fixture case; add a handler only for behaviour the data
cannot express.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    cands: list[str] = field(default_factory=list)  # lib and its known framework supertypes
    keys: list[str] = field(default_factory=list)  # "Class;->name" for each candidate
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

    def matches(self, apis: frozenset[str] | dict[str, object] | set[str]) -> bool:
        return any(k in apis for k in self.keys)

    def in_family(self, classes: list[str]) -> bool:
        return self.lib in classes


Handler = Callable[[LibraryCall], "frozenset[Label] | None"]


def _handlers() -> list[Handler]:
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
        sources.read_source,
        reflection.reflect,
        containers.keyed,
        containers.array_factory,
        strings.clear_builder,
        containers.positional_list,
        containers.preferences,
        strings.resource_string,
        sinks.sink_and_icc,
        intents.intent_plumbing,
        intents.work_manager,
        callbacks.run_callbacks,
        io.tags_and_transforms,
        io.copy_between_arguments,
        io.files,
        io.serialise,
        strings.to_string,
        strings.constant_operations,
        strings.fold_constants,
        default.clean_or_propagate,
    ]


HANDLERS: list[Handler] = []


def apply_library(
    it: MethodInterpreter, lib: str, ref_cls: str, name: str, proto: str, args: list[frozenset[Label]],
    arg_regs: list[int | None], st: State, where: Loc, static: bool,
) -> frozenset[Label]:
    """The result of a library call, after its side effects on the state and the method's effects."""
    if not HANDLERS:
        HANDLERS.extend(_handlers())
    cands = it.cat.candidates(lib)
    if ref_cls != lib and ref_cls not in cands:
        cands = [ref_cls, *cands]
    call = LibraryCall(it, lib, ref_cls, name, proto, args, arg_regs, st, where, static, cands,
                       [f"{c}->{name}" for c in cands], f"{lib}->{name}{proto}")
    for handler in HANDLERS:
        result = handler(call)
        if result is not None:
            return result
    return EMPTY  # pragma: no cover - the default handler always answers
