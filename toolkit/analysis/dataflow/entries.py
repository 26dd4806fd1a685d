"""Entry points: the app methods the framework calls (component lifecycle methods, the Application, static
initialisers of classes some code names, fragments the app shows, android:onClick handlers of layouts), and the
triggers they stand for."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.program import desc_to_dotted, dotted_to_desc
from toolkit.analysis.dex import MethodDef
from toolkit.models import Component, Trigger

PRIVATE = 0x2
PUBLIC = 0x1


@dataclass
class Entry:
    component: Component | None
    kind: str  # activity / service / receiver / provider / application / static_init / fragment / layout_callback


def compute_entries(app: App) -> dict[str, list[Entry]]:
    """Method signature -> the ways the framework enters it."""
    p = app.program
    cm = app.cat.components
    entries: dict[str, list[Entry]] = {}
    for desc, comp in app.components.items():
        if not comp.enabled or not p.is_app(desc):
            continue
        for m in app.class_methods(desc):
            if m.access & PRIVATE:
                continue  # private: the framework never calls it
            if (m.name.startswith(cm.entry_prefix) or m.name in cm.application_entries
                    or (comp.kind == "provider" and m.name in cm.provider_entries)):
                entries.setdefault(m.sig, []).append(Entry(comp, comp.kind))
    for desc, comp in app.components.items():
        if comp.enabled and p.is_app(desc):
            for m in p.classes[desc].methods.values():
                if m.name == "<init>" and m.code_off:
                    entries.setdefault(m.sig, []).append(Entry(None, "static_init"))
    app_cls = app.meta.application_class
    if app_cls:
        desc = dotted_to_desc(app_cls)
        for m in p.classes[desc].methods.values() if desc in p.classes else []:
            if m.name == "<init>" and m.code_off:
                entries.setdefault(m.sig, []).append(Entry(None, "static_init"))
        for m in app.class_methods(desc):
            if m.name.startswith(cm.entry_prefix) or m.name in cm.application_entries:
                entries.setdefault(m.sig, []).append(Entry(None, "application"))
    initialised = app.initialised_classes()
    for sig, m in p.methods.items():
        if m.name == "<clinit>" and m.code_off and m.class_desc in initialised:
            entries.setdefault(sig, []).append(Entry(None, "static_init"))
    # fragments the app shows (declared in a layout or created in code) run their lifecycle methods
    for base in cm.fragments:
        for desc in p.all_subtypes(base, 500):
            if not p.is_app(desc) or not (app.in_layout(desc_to_dotted(desc)) or app.instantiated(desc)):
                continue
            for m in app.class_methods(desc):
                if m.name.startswith(cm.entry_prefix) and not m.access & PRIVATE:
                    entries.setdefault(m.sig, []).append(Entry(None, "fragment"))
    # android:onClick="name" in a layout: public void name(View) of an activity is a UI callback
    if app.layout_blob:
        for desc, comp in app.components.items():
            if comp.kind not in ("activity", "activity-alias") or not comp.enabled:
                continue
            for m in app.class_methods(desc):
                if m.proto == cm.layout_callback_proto and m.access & PUBLIC and app.in_layout(m.name):
                    entries.setdefault(m.sig, []).append(Entry(comp, "layout_callback"))
    return entries


def component_entry_methods(app: App, desc: str) -> list[MethodDef]:
    """The methods an intent delivered to component `desc` may run."""
    cm = app.cat.components
    return [m for m in app.class_methods(desc)
            if m.name.startswith(cm.entry_prefix) or m.name in cm.provider_entries or m.name == "run"]


def component_triggers(app: App, comp: Component) -> list[Trigger]:
    """What starts a component: the launcher, boot, an SMS arriving, any broadcast, a service start ..."""
    cm = app.cat.components
    actions = comp.actions
    kinds: list[str] = []
    if comp.kind in ("activity", "activity-alias"):
        launcher = any(cm.launcher.action in f.actions and cm.launcher.category in f.categories for f in comp.intent_filters)
        kinds.append("launcher" if launcher else "activity")
    elif comp.kind == "receiver":
        if set(actions) & set(cm.boot_actions):
            kinds.append("boot")
        if set(actions) & set(cm.sms_actions):
            kinds.append("sms_received")
        if not kinds:
            kinds.append("receiver")
    else:
        kinds.append(comp.kind)
    return [Trigger(kind=k, component=comp.name, exported=comp.exported, actions=actions) for k in kinds]
