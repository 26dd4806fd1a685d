"""The source/sink/library catalogue (`apk_rules/*.yml`), schema-checked with pydantic.

Adding a source, sink or library model is a data change: the engine reads everything it knows about Android and
Java APIs from here. A malformed file raises `CatalogueError` naming the file and the field.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from toolkit import yamlio
from toolkit.models.common import PhModel
from toolkit.resources import rules_dir

RULES_DIR = rules_dir()  # importlib.resources: a checkout and an installed wheel alike

ArgRef = int | Literal["this"]


class CatalogueError(Exception):
    """A catalogue or rule file is missing or malformed."""


class ArgConst(PhModel):
    arg: int
    values: list[str]


class CallbackParam(PhModel):
    method: str = Field(description="name + descriptor of the app method the framework calls")
    param: int


class SourceSpec(PhModel):
    kind: str
    description: str = ""
    permissions: list[str] = Field(default_factory=list)
    apis: list[str] = Field(default_factory=list)
    when_arg_const: ArgConst | None = None
    callback_params: list[CallbackParam] = Field(default_factory=list)


class ProviderQuery(PhModel):
    api: str
    uri_arg: int


class ProviderUri(PhModel):
    kind: str
    prefixes: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)


class Providers(PhModel):
    queries: list[ProviderQuery] = Field(default_factory=list)
    uris: list[ProviderUri] = Field(default_factory=list)


class SourcesFile(PhModel):
    version: int
    sources: list[SourceSpec]
    providers: Providers = Field(default_factory=Providers)


class SinkSpec(PhModel):
    kind: str
    description: str = ""
    apis: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list, description="any class, with receiver_tag")
    receiver_tag: str | None = None
    data: list[ArgRef] | None = None
    endpoint: list[ArgRef] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)


class IccSpec(PhModel):
    api: str
    intent: int
    always_external: bool = False
    internal: bool = False


class SinksFile(PhModel):
    version: int
    sinks: list[SinkSpec]
    icc: list[IccSpec] = Field(default_factory=list)


class CleanSpec(PhModel):
    names: list[str] = Field(default_factory=list)
    apis: list[str] = Field(default_factory=list)


class TransformSpec(PhModel):
    name: str
    apis: list[str]


class TagSpec(PhModel):
    tag: str
    target: Literal["result", "this"]
    apis: list[str]


class CallbackSpec(PhModel):
    apis: list[str]
    object: ArgRef
    methods: list[str]
    pass_all_args: bool = False
    pass_receiver: bool = Field(False, description="the callback receives what the registering object holds")
    receiver_param: int | None = Field(None, description="only this 1-based parameter receives the registering object")
    period_arg: int | None = Field(None, description="1-based parameter with the repeat period (ms unless a TimeUnit is passed)")
    pass_cell: str | None = Field(
        None, description="the callback receives a global cell: `uncaught` (the exceptions escaping entry points) "
                          "or the name of a channel (what every send on it carried)")


class ChannelSpec(PhModel):
    """An API handing its argument to app code registered on the other side, which no value links to the
    sending call (a Messenger's send across a binder): one global cell per channel."""

    name: str
    send: list[str] = Field(description="APIs whose argument `arg` goes into the channel")
    arg: int = Field(1, description="1-based parameter sent")


class AlarmSpec(PhModel):
    api: str
    interval_arg: int


class JobsSpec(PhModel):
    schedule: list[str] = Field(default_factory=list)
    periodic: list[str] = Field(default_factory=list)


class ReflectionSpec(PhModel):
    for_name: list[str] = Field(default_factory=list)
    get_method: list[str] = Field(default_factory=list)
    invoke: list[str] = Field(default_factory=list)
    new_instance: list[str] = Field(default_factory=list)


class IntentsSpec(PhModel):
    classes: list[str] = Field(default_factory=list)
    get_intent: list[str] = Field(default_factory=list)
    register_receiver: list[str] = Field(default_factory=list)
    pending_intents: list[str] = Field(default_factory=list)
    alarms: list[AlarmSpec] = Field(default_factory=list)
    jobs: JobsSpec = Field(default_factory=JobsSpec)
    reflection: ReflectionSpec = Field(default_factory=ReflectionSpec)


class KeyedSpec(PhModel):
    classes: list[str] = Field(default_factory=list)
    put: list[str] = Field(default_factory=list, description="method name prefixes that store (key, value)")
    get: list[str] = Field(default_factory=list, description="method name prefixes that read (key[, default])")


class CopySpec(PhModel):
    api: str
    source: int = Field(description="1-based parameter copied from (0 = the receiver)")
    destination: int = Field(description="1-based parameter copied into")


class FamiliesSpec(PhModel):
    """API families with a semantics handler of their own (see the comments in models.yml)."""

    string_builders: list[str]
    string_class: str
    string_concat: list[str]
    builder_clear: list[str]
    builder_append: list[str]
    builder_reverse: list[str]
    string_substring: list[str]
    string_length: list[str]
    array_factories: list[str]
    lists: list[str]
    preferences: list[str]
    preference_editors: list[str]
    preference_all: list[str]
    resource_holders: list[str]
    resource_getters: list[str]
    file_readers: list[str]
    file_openers: list[str]
    file_writes: list[str]
    serializers: list[str]
    to_string_calls: list[str]
    copies: list[CopySpec]
    object_extras: list[str]
    intent_data_setters: list[str]
    intent_data_getters: list[str]
    tls_class_markers: list[str]
    tls_socket_factories: list[str]
    time_unit_class: str
    time_unit_seconds: dict[str, float]
    work_managers: list[str]
    work_enqueue_prefix: str
    worker_methods: list[str]
    worker_input: list[str]
    http_proxy_markers: list[str]
    lambda_runners: list[str]
    registration_prefixes: list[str]
    not_registration: list[str]
    to_string: str
    not_streams: list[str]
    final_types: list[str]


class LauncherSpec(PhModel):
    action: str
    category: str


class ComponentsSpec(PhModel):
    """The Android component model: entry points and what the framework hands them."""

    intent_type: str
    bundle_type: str
    broadcast_receiver: str
    entry_prefix: str
    provider_entries: list[str]
    application_entries: list[str]
    saved_state_writer: str
    saved_state_readers: list[str]
    activity_result: str
    result_setter: str
    last_callback: str
    fragments: list[str]
    layout_callback_proto: str
    boot_actions: list[str]
    sms_actions: list[str]
    launcher: LauncherSpec


class ModelsFile(PhModel):
    version: int
    library_packages: list[str]
    supertypes: dict[str, list[str]] = Field(default_factory=dict)
    clean: CleanSpec = Field(default_factory=CleanSpec)
    clean_fields: list[str] = Field(default_factory=list)
    mutators: list[str] = Field(default_factory=list)
    transforms: list[TransformSpec] = Field(default_factory=list)
    tags: list[TagSpec] = Field(default_factory=list)
    callbacks: list[CallbackSpec] = Field(default_factory=list)
    channels: list[ChannelSpec] = Field(default_factory=list)
    generic_callback_prefixes: list[str] = Field(default_factory=list)
    wrapper_suffixes: list[str] = Field(default_factory=list)
    keyed: KeyedSpec = Field(default_factory=lambda: KeyedSpec())
    intents: IntentsSpec = Field(default_factory=IntentsSpec)
    families: FamiliesSpec
    components: ComponentsSpec

    @model_validator(mode="after")
    def _cells_known(self) -> ModelsFile:
        names = {"uncaught", *(c.name for c in self.channels)}
        for cb in self.callbacks:
            if cb.pass_cell is not None and cb.pass_cell not in names:
                raise ValueError(f"callback {cb.apis[0]}: pass_cell {cb.pass_cell!r} is neither 'uncaught' nor a channel")
        return self


def _load(path: Path, model: type[PhModel]) -> PhModel:
    try:
        raw = yamlio.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogueError(f"{path}: field {where}: {first['msg']} ({exc.error_count()} error(s))") from exc


class Catalogue:
    """Indexed view of sources.yml, sinks.yml and models.yml."""

    def __init__(self, root: Path = RULES_DIR) -> None:
        self.root = root
        self.sources_file: SourcesFile = _load(root / "sources.yml", SourcesFile)  # type: ignore[assignment]
        self.sinks_file: SinksFile = _load(root / "sinks.yml", SinksFile)  # type: ignore[assignment]
        self.models: ModelsFile = _load(root / "models.yml", ModelsFile)  # type: ignore[assignment]
        self.source_apis: dict[str, SourceSpec] = {}
        self.source_kinds: dict[str, SourceSpec] = {}
        self.callback_sources: dict[str, tuple[SourceSpec, int]] = {}
        for src in self.sources_file.sources:
            self.source_kinds[src.kind] = src
            for api in src.apis:
                self.source_apis[api] = src
            for cb in src.callback_params:
                self.callback_sources[cb.method] = (src, cb.param)
        self.provider_queries = {q.api: q.uri_arg for q in self.sources_file.providers.queries}
        self.provider_fields: dict[str, str] = {}
        self.provider_prefixes: list[tuple[str, str]] = []
        for uri in self.sources_file.providers.uris:
            for f in uri.fields:
                self.provider_fields[f] = uri.kind
            for p in uri.prefixes:
                self.provider_prefixes.append((p, uri.kind))
        self.sink_apis: dict[str, list[SinkSpec]] = {}
        self.sink_names: dict[str, list[SinkSpec]] = {}
        for sink in self.sinks_file.sinks:
            for api in sink.apis:
                self.sink_apis.setdefault(api, []).append(sink)
            for name in sink.names:
                self.sink_names.setdefault(name, []).append(sink)
        self.icc = {i.api: i for i in self.sinks_file.icc}
        m = self.models
        self.library_packages = tuple(m.library_packages)
        self._library_memo: dict[str, bool] = {}
        self.clean_names = frozenset(m.clean.names)
        self.clean_apis = frozenset(m.clean.apis)
        self.clean_fields = frozenset(m.clean_fields)
        self.mutators = tuple(m.mutators)
        self.transforms: dict[str, str] = {api: t.name for t in m.transforms for api in t.apis}
        self.tags: dict[str, tuple[str, str]] = {api: (t.tag, t.target) for t in m.tags for api in t.apis}
        self.callbacks: dict[str, CallbackSpec] = {api: c for c in m.callbacks for api in c.apis}
        self.channel_sends: dict[str, ChannelSpec] = {api: c for c in m.channels for api in c.send}
        self.generic_prefixes = tuple(m.generic_callback_prefixes)
        self.wrapper_suffixes = tuple(m.wrapper_suffixes)
        self.keyed_classes = frozenset(m.keyed.classes)
        self.keyed_put = tuple(m.keyed.put)
        self.keyed_get = tuple(m.keyed.get)
        it = m.intents
        self.intent_classes = frozenset(it.classes)
        self.get_intent = frozenset(it.get_intent)
        self.register_receiver = frozenset(it.register_receiver)
        self.pending_intents = frozenset(it.pending_intents)
        self.alarms = {a.api: a.interval_arg for a in it.alarms}
        self.job_schedule = frozenset(it.jobs.schedule)
        self.job_periodic = frozenset(it.jobs.periodic)
        self.for_name = frozenset(it.reflection.for_name)
        self.get_method = frozenset(it.reflection.get_method)
        self.reflect_invoke = frozenset(it.reflection.invoke)
        self.new_instance = frozenset(it.reflection.new_instance)
        self.supertypes = m.supertypes
        self.families = m.families
        self.components = m.components
        self.copies = {c.api: (c.source, c.destination) for c in m.families.copies}
        self.serializers = frozenset(m.families.serializers)
        self.file_openers = frozenset(m.families.file_openers)
        # Names of source APIs: an APK whose string table holds none of them (nor a provider URI/field) has no
        # source at all, so it gets no data-flow work.
        self.source_names = frozenset(api.split("->", 1)[1] for api in self.source_apis) | frozenset(
            f.split("->", 1)[0] for f in self.provider_fields
        )

    def is_library(self, class_desc: str) -> bool:
        known = self._library_memo.get(class_desc)
        if known is None:
            # asked millions of times per big app (every call and field access): one prefix scan per class
            # (the catalogue outlives one APK: a scan of a whole phone starts the memo again now and then)
            if len(self._library_memo) > 500_000:
                self._library_memo.clear()
            known = self._library_memo[class_desc] = (
                class_desc.startswith(self.library_packages) or class_desc.startswith("["))
        return known

    def candidates(self, class_desc: str) -> list[str]:
        """The class and its known framework supertypes, most specific first."""
        return [class_desc, *self.supertypes.get(class_desc, [])]

    def provider_kind(self, uri: str) -> str | None:
        for prefix, kind in self.provider_prefixes:
            if uri.startswith(prefix):
                return kind
        return None

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name in ("sources.yml", "sinks.yml", "models.yml"):
            digest.update((self.root / name).read_bytes())
        return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def load_catalogue(root: Path = RULES_DIR) -> Catalogue:
    """The catalogue, loaded once per process."""
    return Catalogue(root)
