"""The evidence attached to a flow: endpoints (URLs, hosts, IPs, phone numbers, files, intent targets) and
triggers (what makes the code run: launcher, boot, SMS, alarms and their periods, jobs, callbacks)."""

from __future__ import annotations

import ipaddress
import re
from collections import deque
from collections.abc import Iterable
from urllib.parse import urlsplit

from toolkit.analysis.dataflow.app import App
from toolkit.analysis.dataflow.cells import IccRouting
from toolkit.analysis.dataflow.entries import Entry, component_triggers
from toolkit.analysis.dataflow.limits import Limits
from toolkit.analysis.dataflow.program import Loc, desc_to_dotted, dotted_to_desc
from toolkit.analysis.dataflow.summary import Fact, SinkHit
from toolkit.analysis.dataflow.values import Label
from toolkit.models import CodeLocation, Endpoint, Trigger

_HOST_RE = re.compile(r"^(?=.{4,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{2,19}$")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s]+$")
_PATH_RE = re.compile(r"^(/[^\s/]+)+/?$|^[\w.-]+\.[A-Za-z0-9]{1,8}$")
MAX_TRIGGER_SEARCH = 20000  # (method, via-callback) states of the reverse search from a flow to its entries


def code_location(loc: Loc) -> CodeLocation:
    return CodeLocation(class_name=desc_to_dotted(loc[0]), method=loc[1], descriptor=loc[2], offset=loc[3])


def classify_endpoint(value: str, found_in: str = "dex") -> Endpoint | None:
    """An Endpoint for a constant that looks like a URL, IP, host or phone number (None otherwise)."""
    value = value.strip()
    if not value or len(value) > 2048:
        return None
    if _URL_RE.match(value):
        try:
            parts = urlsplit(value)
        except ValueError:
            return None
        try:
            host, port = parts.hostname, parts.port
        except ValueError:  # e.g. a port that is not a number
            host, port = None, None
        return Endpoint(kind="url", value=value, host=host, port=port, scheme=parts.scheme or None,
                        hard_coded_ip=is_ip(host), found_in=[found_in])
    if is_ip(value):
        return Endpoint(kind="ip", value=value, host=value, hard_coded_ip=True, found_in=[found_in])
    if "@" in value and _HOST_RE.match(value.split("@", 1)[1]) and " " not in value:
        return Endpoint(kind="email", value=value, found_in=[found_in])
    if _HOST_RE.match(value) and not value.startswith(("android.", "com.android.", "java.", "javax.")):
        return Endpoint(kind="host", value=value, host=value, found_in=[found_in])
    if _PHONE_RE.match(value) and sum(c.isdigit() for c in value) >= 3:
        return Endpoint(kind="phone_number", value=value, found_in=[found_in])
    return None


def is_ip(value: str | None) -> bool:
    if not value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def merge_endpoints(into: list[Endpoint], new: Iterable[Endpoint]) -> None:
    known = {(e.kind, e.value) for e in into}
    for e in new:
        if (e.kind, e.value) not in known:
            into.append(e)
            known.add((e.kind, e.value))


def _strip_open_query(url: str) -> str:
    """'http://h/p?id=' + value: the constant part names the endpoint without its half-built query."""
    if "?" in url and url.endswith(("=", "&", "?")):
        return url.split("?", 1)[0]
    return url


def endpoints_of(app: App, hit: SinkHit, labels: set[Label]) -> list[Endpoint]:
    """Endpoints among the resolved labels of a sink's endpoint arguments (and its stream's constants)."""
    out: list[Endpoint] = []
    if hit.kind == "icc":
        pkgs = sorted(str(lab[2]) for lab in labels if lab[0] == "IT" and lab[1] == "pkg")
        for lab in sorted(labels, key=repr):
            if lab[0] != "IT":
                continue
            if lab[1] == "action":
                out.append(Endpoint(kind="intent_action", value=str(lab[2]), found_in=["dex"]))
            elif lab[1] == "class" and not app.program.is_app(str(lab[2])):
                dotted = desc_to_dotted(str(lab[2]))
                value = f"{pkgs[0]}/{dotted}" if pkgs else dotted
                out.append(Endpoint(kind="component", value=value, found_in=["dex"]))
        if not out:
            out.extend(Endpoint(kind="component", value=p, found_in=["dex"]) for p in pkgs)
        return out
    for lab in sorted(labels, key=repr):
        if lab[0] != "C" or not isinstance(lab[1], str):
            continue
        if hit.kind == "file":
            if _PATH_RE.match(lab[1]):
                merge_endpoints(out, [Endpoint(kind="file", value=lab[1], found_in=["dex"])])
            continue
        ep = classify_endpoint(_strip_open_query(lab[1]))
        if ep is None or (hit.kind == "sms") != (ep.kind == "phone_number"):
            continue
        if ep.kind in ("host", "ip"):
            ports = sorted(int(x[1]) for x in labels if x[0] == "N" and 0 < int(x[1]) < 65536)
            if ports:
                ep.port = ports[0]
                scheme = "udp" if "Datagram" in hit.api else ("tls" if ("SCHEME", "tls") in labels else "tcp")
                url = f"{scheme}://{ep.value}:{ports[0]}"
                merge_endpoints(out, [Endpoint(kind="url", value=url, host=ep.value, port=ports[0], scheme=scheme,
                                               hard_coded_ip=ep.hard_coded_ip, found_in=["dex"])])
        merge_endpoints(out, [ep])
    return out


class TriggerFinder:
    """What makes a method run: the entry points reaching it (reverse search over analysed call edges)."""

    def __init__(self, app: App, routing: IccRouting, reverse: dict[str, set[tuple[str, str]]],
                 entries: dict[str, list[Entry]], facts: list[Fact], limits: Limits | None = None) -> None:
        self.app = app
        self.routing = routing
        self.reverse = reverse
        self.entries = entries
        self.facts = facts
        self.limits = limits
        self._reaching: dict[str, tuple[dict[str, bool], frozenset[str]]] = {}
        self._memo: dict[frozenset[str], list[Trigger]] = {}

    def triggers(self, sigs: set[str]) -> list[Trigger]:
        """The triggers of a flow whose code runs in the methods `sigs` (a new list; equal inputs, equal lists)."""
        key = frozenset(sigs)
        cached = self._memo.get(key)
        if cached is None:
            cached = self._memo[key] = self._triggers(key)
        return list(cached)

    def _triggers(self, sigs: frozenset[str]) -> list[Trigger]:
        found, visited = self._entries_reaching(sigs)
        out: list[Trigger] = []
        components: set[str] = set()
        for sig, via_cb in sorted(found.items()):
            for entry in self.entries[sig]:
                if via_cb:
                    _add(out, Trigger(kind="callback"))
                if entry.kind == "static_init":
                    continue
                if entry.kind == "fragment":
                    _add(out, Trigger(kind="activity", detail=f"fragment {self.app.program.methods[sig].class_desc}"))
                    continue
                if entry.kind == "layout_callback":
                    _add(out, Trigger(kind="callback", detail="android:onClick in a layout"))
                if entry.kind == "application":
                    _add(out, Trigger(kind="application", component=self.app.meta.application_class))
                    continue
                comp = entry.component
                assert comp is not None
                components.add(dotted_to_desc(comp.target_activity or comp.name) if comp.kind == "activity-alias" else dotted_to_desc(comp.name))
                for t in component_triggers(self.app, comp):
                    _add(out, t)
        self._scheduled(out, components)
        self._repeating_and_dynamic(out, visited)
        return out

    def _entries_reaching(self, sigs: Iterable[str]) -> tuple[dict[str, bool], set[str]]:
        """Entries reaching any of sigs, and whether a callback edge was on the way; every method visited."""
        found: dict[str, bool] = {}
        visited: set[str] = set()
        for start in sorted(sigs):
            one = self._reaching.get(start)
            if one is None:
                one = self._reaching[start] = self._entries_reaching_one(start)
            for sig, via_cb in one[0].items():
                found[sig] = found.get(sig, False) or via_cb
            visited |= one[1]
        return found, visited

    def _entries_reaching_one(self, start: str) -> tuple[dict[str, bool], frozenset[str]]:
        found: dict[str, bool] = {}
        visited: set[str] = set()
        todo: deque[tuple[str, bool]] = deque([(start, False)])
        seen: set[tuple[str, bool]] = {(start, False)}
        while todo:
            cur, via_cb = todo.popleft()
            visited.add(cur)
            if cur in self.entries:
                found[cur] = found.get(cur, False) or via_cb
            for caller, kind in sorted(self.reverse.get(cur, ())):
                nxt = (caller, via_cb or kind == "callback")
                if nxt in seen:
                    continue
                if len(seen) >= MAX_TRIGGER_SEARCH:
                    if self.limits is not None:
                        self.limits.hit("trigger_search", start)
                    break
                seen.add(nxt)
                todo.append(nxt)
        return found, frozenset(visited)

    def _scheduled(self, out: list[Trigger], components: set[str]) -> None:
        """Alarms and jobs whose PendingIntent/JobInfo targets one of the components reaching the flow."""
        for fact in self.facts:
            if fact[0] not in ("alarm", "job"):
                continue
            targets = fact[1]
            hit = any(
                (t[1] == "class" and t[2] in components)
                or (t[1] == "action" and set(self.routing.action_handlers(t[2])) & components)
                for t in targets
            )
            if hit:
                period = fact[2]
                secs = int(period) // 1000 if isinstance(period, int) and period > 0 else None
                _add(out, Trigger(kind=str(fact[0]), component=desc_to_dotted(next(iter(components))) if len(components) == 1 else None,
                                  period_seconds=secs, detail=f"set in {code_location(fact[3])}"))

    def _repeating_and_dynamic(self, out: list[Trigger], visited: set[str]) -> None:
        cm = self.app.cat.components
        for fact in self.facts:
            if fact[0] == "periodic" and fact[1] in visited:
                _add(out, Trigger(kind="callback", period_seconds=int(fact[2]),
                                  detail=f"repeats, scheduled in {code_location(fact[3])}"))
        for sig in sorted(visited):
            m = self.app.program.methods.get(sig)
            if m is None:
                continue
            for fact in self.facts:
                if fact[0] == "dynrecv" and fact[1] == m.class_desc:
                    actions = list(fact[2])
                    kind = ("sms_received" if set(actions) & set(cm.sms_actions)
                            else ("boot" if set(actions) & set(cm.boot_actions) else "receiver"))
                    _add(out, Trigger(kind=kind, component=desc_to_dotted(m.class_desc), exported=True, actions=actions,
                                      detail="registered at run time"))


def trigger_key(t: Trigger) -> tuple[object, ...]:
    """Equal keys: equal triggers (hashable, unlike the model)."""
    return (t.kind, t.component, t.exported, t.period_seconds, tuple(t.actions), t.detail)


def add_triggers(into: list[Trigger], new: Iterable[Trigger]) -> None:
    """Append the triggers of `new` that `into` does not have yet, in order."""
    have = {trigger_key(t) for t in into}
    for t in new:
        k = trigger_key(t)
        if k not in have:
            have.add(k)
            into.append(t)


def _add(out: list[Trigger], t: Trigger) -> None:
    add_triggers(out, (t,))
