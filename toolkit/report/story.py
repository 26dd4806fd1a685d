"""The story of a scan: the JSON model told in plain sentences, grouped by app and by flow.

Every human-readable format (HTML, terminal, Markdown) renders this one story, so they say the same thing; the
story is computed from the ScanResult alone (the JSON schema stays the source of truth) and adds no fact of its
own: it only groups, joins and words what the model holds.

- Findings are grouped by app (package), then by flow: a rule is a label on the flow it rests on, and no flow is
  told twice. Copies of an APK with the same SHA-256 are one copy with several locations.
- Sentences are generated from flows (data kind, trigger, transformations, endpoint) and from device records; a
  sentence keeps the anchors of the flow cards it rests on, so each renderer can link it to its evidence.
- Raw Dalvik signatures are given readable names (TelephonyManager.getDeviceId()); the raw text is kept beside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath

from toolkit.models import ApkReport, CodeLocation, Endpoint, Finding, Flow, RuleInfo, ScanResult, Severity, Status
from toolkit.models.device import PackageRecord, ScheduledAlarm, ScheduledJob, SocketRecord

# Plain words for the source kinds of apk_rules/sources.yml (unknown kinds are shown with spaces for underscores).
DATA_NAMES = {
    "imei": "IMEI", "imsi": "IMSI (SIM identity)", "phone_number": "phone number", "operator": "mobile operator",
    "contacts": "contacts", "sms": "SMS messages", "call_log": "call log", "location": "location",
    "installed_apps": "list of installed apps", "accounts": "accounts", "android_id": "Android ID",
    "sim_serial": "SIM serial number",
}
# What a sink kind does with the value (apk_rules/sinks.yml); the destination follows when one is known.
SINK_VERBS = {
    "network": "sends {them} over the internet", "sms": "sends {them} by SMS", "log": "writes {them} to the system log",
    "file": "writes {them} to a file", "icc": "hands {them} to another app", "intent": "hands {them} to another app",
}
# Words of the sentences a reader may not know, explained under the summary when a sentence uses them.
GLOSSARY = [
    ("IMEI", "the phone's unique serial number: it identifies the handset for life, even after a factory reset"),
    ("IMSI", "the SIM card's subscriber identity: the mobile network knows the subscriber by it"),
    ("SIM serial number", "the serial number (ICCID) of the SIM card"),
    ("Android ID", "an identifier of the phone and its user that stays until a factory reset"),
    ("preinstalled", "put on the phone by its maker, in the firmware: the user cannot uninstall it, and a factory "
                     "reset brings it back"),
    ("privileged", "a system app with powers that ordinary apps cannot be granted"),
    ("system user", "the identity of Android itself: the app can do what the operating system can"),
    ("hard-coded IP address", "an internet address written into the app, not looked up by name"),
    ("registered in", "the country where the block of internet addresses is registered (offline registry data); "
                      "the server may stand elsewhere"),
    ("encrypted", "the app encrypts the data before sending it, so that it cannot be read on the way"),
    ("hashed", "the app sends a fingerprint (hash) of the value; a known value, such as an IMEI, can be recognised "
               "from it"),
]
_HEADLINE_NAMES = 10  # the headline names the worst apps; every one of them has its own sentence below
_PLURAL_KINDS = {"contacts", "sms", "accounts"}
_SEVERITIES = [Severity.critical, Severity.high, Severity.medium, Severity.low, Severity.info]


# --------------------------------------------------------------------------------------------------------- names

_PRIMITIVES = {"V": "void", "Z": "boolean", "B": "byte", "S": "short", "C": "char", "I": "int", "J": "long",
               "F": "float", "D": "double"}


def _type_name(descriptor: str) -> str:
    """`Ljava/lang/String;` -> String, `[B` -> byte[] (simple names: the raw signature holds the full ones)."""
    dims = len(descriptor) - len(descriptor.lstrip("["))
    base = descriptor[dims:]
    name = _PRIMITIVES.get(base) or base.strip("L;").rsplit("/", 1)[-1].replace("$", ".")
    return name + "[]" * dims


def _split_params(params: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(params):
        j = i
        while j < len(params) and params[j] == "[":
            j += 1
        if j < len(params) and params[j] == "L":
            end = params.find(";", j)
            if end < 0:
                return out + [params[i:]]
            j = end
        out.append(params[i:j + 1])
        i = j + 1
    return out


_DALVIK = re.compile(r"^\[*L(?P<cls>[^;]+);->(?P<name>[^(]+)\((?P<params>[^)]*)\)(?P<ret>.*)$")


def readable_api(signature: str) -> str:
    """`Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;` -> `TelephonyManager.getDeviceId()`.

    Anything that is not a Dalvik method signature is returned unchanged (it is then already a name)."""
    match = _DALVIK.match(signature)
    if not match:
        return signature
    cls = match["cls"].rsplit("/", 1)[-1].replace("$", ".")
    params = ", ".join(_type_name(p) for p in _split_params(match["params"]))
    if match["name"] == "<init>":
        return f"new {cls}({params})"
    return f"{cls}.{match['name']}({params})"


def readable_method(location: CodeLocation) -> str:
    """`com.vendor.cloudmsg.ReportService.buildPayload` -> `ReportService.buildPayload` (the class without package)."""
    cls = location.class_name.rsplit(".", 1)[-1]
    return f"{cls}.{location.method}"


def data_name(kind: str) -> str:
    return DATA_NAMES.get(kind, kind.replace("_", " "))


def duration(seconds: float) -> str:
    """1800 -> '30 minutes', 86400 -> 'day', 21600 -> '6 hours' (for 'every ...')."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def join_words(words: Iterable[str]) -> str:
    items = list(dict.fromkeys(words))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


# ---------------------------------------------------------------------------------------------------- the story


@dataclass
class RuleLabel:
    """A rule that matched a flow: a label on its card, with the finding's own words."""

    rule_id: str
    title: str
    severity: Severity
    messages: list[str] = field(default_factory=list)
    why: str = ""
    references: list[str] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)


@dataclass
class EndpointView:
    """An endpoint of a flow, with the country the model holds for its address anywhere in the result."""

    value: str
    kind: str
    host: str | None
    country: str | None
    hard_coded_ip: bool

    @property
    def place(self) -> str:
        """Where to, in a sentence: the host of a URL, or the address."""
        return self.host or self.value

    @property
    def notes(self) -> str:
        parts = (["a hard-coded IP address"] if self.hard_coded_ip else []) + (
            [f"registered in {self.country}"] if self.country else [])
        return ", ".join(parts)


@dataclass
class CopyView:
    """One distinct APK (by SHA-256) of an app and every place it was found."""

    sha256: str | None
    locations: list[str]
    version: str | None
    status: Status
    reason: str | None
    role: str | None  # "factory copy" / "update" when the phone says the system app was updated
    anchor: str


@dataclass
class FlowStory:
    """One flow, told once, with every rule that matched it."""

    id: str
    anchor: str
    package: str
    source_kind: str
    sink_kind: str
    source_api: str
    source_raw: str
    sink_api: str
    sink_raw: str
    entry: str | None
    path: list[CodeLocation]
    transformations: list[str]
    endpoints: list[EndpointView]
    when: str
    triggers: list[str]
    permissions: list[str]
    copies: list[str]  # anchors of the copies (CopyView) that carry it
    labels: list[RuleLabel] = field(default_factory=list)

    @property
    def data(self) -> str:
        return data_name(self.source_kind)

    @property
    def severity(self) -> Severity | None:
        return max((lab.severity for lab in self.labels), key=lambda s: s.rank, default=None)

    @property
    def how(self) -> str:
        t = set(self.transformations)
        return "encrypted" if "cipher" in t else "hashed" if "digest" in t else "encoded" if "base64" in t else ""

    @property
    def destination(self) -> str:
        return _destination(self.endpoints)

    @property
    def short_destination(self) -> str:
        """'47.88.10.20 (hard-coded IP, US)': the destination for a line or a table cell."""
        places: dict[str, str] = {}
        for e in self.endpoints:
            notes = ", ".join((["hard-coded IP"] if e.hard_coded_ip else []) + ([e.country] if e.country else []))
            places.setdefault(e.place, notes)
        return ", ".join(f"{p} ({n})" if n else p for p, n in places.items())

    def line(self) -> str:
        """One line: 'IMEI -> 47.88.10.20 (hard-coded IP, US), every 30 minutes, encrypted'."""
        where = self.short_destination or _sink_phrase(self.sink_kind)
        return ", ".join(x for x in (f"{self.data} -> {where}", self.when, self.how) if x)


@dataclass
class FindingView:
    """A finding that rests on no flow of the report (signer, install rights, device state ...): its own card."""

    finding: Finding
    anchor: str
    rule: RuleInfo | None
    suppressed_note: str | None = None
    missing_flows: list[str] = field(default_factory=list)


@dataclass
class Sentence:
    """A plain-language sentence and the anchors of the evidence it rests on."""

    text: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, anchor)
    severity: Severity | None = None
    continues: bool = False  # goes on telling the app of the sentence before ("It ...", "When the phone starts, ...")


@dataclass
class AppStory:
    package: str
    anchor: str
    label: str | None
    who: str
    copies: list[CopyView]
    flows: list[FlowStory]
    findings: list[FindingView]
    sentences: list[Sentence]

    @property
    def severity(self) -> Severity | None:
        ranks = [f.severity for f in self.flows if f.severity] + [f.finding.severity for f in self.findings]
        return max(ranks, key=lambda s: s.rank, default=None)


@dataclass
class Connection:
    """A live connection to another host at acquisition, and whether the app's code names that address."""

    socket: SocketRecord
    apps: list[str]
    in_code: list[str]  # endpoint values of those apps that name the address
    flow_anchors: list[tuple[str, str]]


@dataclass
class DeviceState:
    connections: list[Connection]
    alarms: list[ScheduledAlarm]
    jobs: list[ScheduledJob]
    opt_in_settings: list[tuple[str, str, str | None]]  # namespace, key, value
    updated_system_apps: list[PackageRecord]


@dataclass
class TimelineEvent:
    when: datetime
    what: str
    kind: str  # install, update, certificate, acquisition


@dataclass
class VerdictCount:
    verdict: str
    css: str
    apps: list[str]


@dataclass
class Story:
    examined: Sentence
    headline: Sentence | None
    sentences: list[Sentence]
    apps: list[AppStory]
    device_findings: list[FindingView]
    suppressed: list[FindingView]
    device: DeviceState | None
    timeline: list[TimelineEvent]
    verdicts: list[VerdictCount]
    anchors: dict[tuple[str, str], str]  # (apk sha256 or path, flow id) -> anchor of its card
    rule_anchors: dict[str, str] = field(default_factory=dict)  # rule id -> anchor of its explanation

    @property
    def glossary(self) -> list[tuple[str, str]]:
        """The GLOSSARY entries whose term the summary's sentences use."""
        text = " ".join(s.text for s in [self.examined, *self.sentences])
        return [(term, meaning) for term, meaning in GLOSSARY if re.search(rf"\b{re.escape(term)}\b", text)]

    def flow_anchor(self, apk_key: str | None, flow_id: str) -> str | None:
        return self.anchors.get((apk_key or "", flow_id))


class _Anchors:
    """Unique, safe HTML ids from untrusted names (package names and flow ids come from APKs)."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.next: dict[str, int] = {}  # base -> next suffix to try (the same flow id in 400 apps stays linear)

    def make(self, prefix: str, name: str) -> str:
        base = f"{prefix}-" + (re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80] or "x")
        anchor, n = base, self.next.get(base, 1)
        if anchor in self.used:
            n += 1
            anchor = f"{base}-{n}"
            while anchor in self.used:
                n += 1
                anchor = f"{base}-{n}"
        self.next[base] = n
        self.used.add(anchor)
        return anchor


def _when(periods: list[int], kinds: set[str]) -> str:
    """When a flow runs, in words, from its triggers: the shortest repeat period wins, then boot, SMS ..."""
    if periods:
        return f"every {duration(min(periods))}"
    for kind, phrase in (("sms_received", "when an SMS arrives"), ("boot", "when the phone starts"),
                         ("launcher", "when the app is opened"), ("activity", "when the app is opened"),
                         ("alarm", "on a timer"), ("job", "as a scheduled job"),
                         ("receiver", "when it receives a system message"),
                         ("provider", "when another app queries it")):
        if kind in kinds:
            return phrase
    return "while the app runs"


def _trigger_text(flow: Flow) -> list[str]:
    out = []
    for t in flow.triggers:
        text = t.kind.replace("_", " ")
        if t.component:
            text += f" {t.component}"
        if t.period_seconds:
            text += f" every {duration(t.period_seconds)}"
        if t.exported:
            text += " (exported)"
        out.append(text)
    return out


def _destination(endpoints: list[EndpointView]) -> str:
    places: dict[str, str] = {}
    for e in endpoints:
        places.setdefault(e.place, e.notes)
    return join_words(f"{p} ({n})" if n else p for p, n in places.items())


def _sink_phrase(kind: str) -> str:
    return {"network": "the internet (address not a constant in the code)", "sms": "an SMS", "log": "the system log",
            "file": "a file"}.get(kind, kind.replace("_", " "))


def _countries(result: ScanResult) -> dict[str, str]:
    """Address or host -> country, from every endpoint and socket the model already placed (offline database)."""
    known: dict[str, str] = {}
    for apk in result.apks:
        for e in [*apk.endpoints, *(x for f in apk.flows for x in f.endpoints)]:
            if e.country:
                known.setdefault(e.value, e.country)
                if e.host:
                    known.setdefault(e.host, e.country)
    if result.inventory:
        for s in result.inventory.sockets:
            if s.remote_country:
                known.setdefault(s.remote_address, s.remote_country)
    return known


def _endpoint_view(e: Endpoint, countries: dict[str, str]) -> EndpointView:
    country = e.country or countries.get(e.value) or (countries.get(e.host) if e.host else None)
    return EndpointView(e.value, e.kind, e.host, country, e.hard_coded_ip)


def _who(package: str, apks: list[ApkReport], record: PackageRecord | None) -> str:
    """'a preinstalled privileged system app running as the system user, updated on 2020-06-02' (from the model)."""
    paths = [a.provenance.device_path or "" for a in apks]
    system = (record.is_system if record and record.is_system is not None else None)
    if system is None:
        system = any(p.startswith(("/system/", "/vendor/", "/product/", "/system_ext/", "/odm/")) for p in paths)
    privileged = (record.is_privileged if record else None) or any("/priv-app/" in p for p in paths)
    kind = ("a preinstalled privileged system app" if privileged else "a preinstalled system app") if system \
        else "an app"
    if record and record.installer and not system:
        return f"{kind} installed by {record.installer}"
    details = []
    shared = (record.shared_user if record else None) or next(
        (a.metadata.shared_user_id for a in apks if a.metadata and a.metadata.shared_user_id), None)
    if shared == "android.uid.system" or (record and record.uid == 1000):
        details.append("running as the system user")
    elif shared:
        details.append(f"sharing the user {shared}")
    if record and record.is_updated_system:
        when = record.last_update_time.date().isoformat() if record.last_update_time else None
        details.append("updated" + (f" on {when}" if when else "") +
                       (f" by {record.installer}" if record.installer else ""))
    return kind + (", " + ", ".join(details) if details else "")


def _copy_role(apk: ApkReport, record: PackageRecord | None) -> str | None:
    if record is None or not record.is_updated_system:
        return None
    path = apk.provenance.device_path or ""
    return "update in use" if path in record.apk_paths else "factory copy"


def build_story(result: ScanResult) -> Story:
    """The story of `result`: sentences, apps with their copies, flows and findings, and the device's state."""
    anchors = _Anchors()
    rules = {r.id: r for r in result.rules}
    countries = _countries(result)
    inventory = result.inventory
    by_package: dict[str, list[ApkReport]] = {}
    for apk in result.apks:
        by_package.setdefault(apk.package or apk.path, []).append(apk)
    flow_anchor: dict[tuple[str, str], str] = {}
    apps: list[AppStory] = []
    flow_index: dict[tuple[str, str], FlowStory] = {}  # (apk key, flow id) -> story
    for package, apks in by_package.items():
        record = inventory.package(package) if inventory else None
        app_anchor = anchors.make("app", package)
        copies: dict[str, CopyView] = {}
        copy_of: dict[int, CopyView] = {}
        for apk in apks:
            key = apk.sha256 or apk.path
            where = apk.provenance.device_path or apk.provenance.display or apk.path
            if key not in copies:
                copies[key] = CopyView(apk.sha256, [], apk.metadata.version_name if apk.metadata else None, apk.status,
                                       apk.reason, _copy_role(apk, record), anchors.make("copy", key[:16]))
            if where not in copies[key].locations:
                copies[key].locations.append(where)
            copy_of[id(apk)] = copies[key]
        flows: dict[str, FlowStory] = {}
        for apk in apks:
            copy = copy_of[id(apk)]
            for flow in apk.flows:
                story = flows.get(flow.id)
                if story is None:
                    story = flows[flow.id] = _flow_story(flow, package, anchors.make("flow", flow.id), countries)
                if copy.anchor not in story.copies:
                    story.copies.append(copy.anchor)
                flow_index[(apk.sha256 or apk.path, flow.id)] = story
                flow_anchor[(apk.sha256 or apk.path, flow.id)] = story.anchor
        apps.append(AppStory(package, app_anchor, next((a.metadata.label for a in apks if a.metadata and a.metadata.label),
                                                       None), _who(package, apks, record), list(copies.values()),
                             list(flows.values()), [], []))
    app_of = {a.package: a for a in apps}

    def attach(finding: Finding, apk: ApkReport | None) -> FindingView | None:
        """Label the flows a finding rests on; a finding resting on none gets a card of its own."""
        keys = [apk.sha256 or apk.path] if apk else ([finding.apk_sha256] if finding.apk_sha256 else [])
        if not keys and finding.package in by_package:  # a device finding naming only the package
            keys = [a.sha256 or a.path for a in by_package[finding.package or ""]]
        found = [flow_index[(k, i)] for i in finding.flow_ids for k in keys if (k, i) in flow_index]
        missing = [i for i in finding.flow_ids if not any((k, i) in flow_index for k in keys)]
        rule = rules.get(finding.rule_id)
        for flow in dict.fromkeys(id(f) for f in found):
            story = next(f for f in found if id(f) == flow)
            label = next((lab for lab in story.labels if lab.rule_id == finding.rule_id), None)
            if label is None:
                label = RuleLabel(finding.rule_id, finding.title, finding.severity, why=(rule.why or rule.description)
                                  if rule else "", references=list(rule.references) if rule else [])
                story.labels.append(label)
            if finding.severity.rank > label.severity.rank:
                label.severity = finding.severity
            if finding.message not in label.messages:
                label.messages.append(finding.message)
            if finding.fingerprint not in label.fingerprints:
                label.fingerprints.append(finding.fingerprint)
        if found and not missing:
            return None
        return FindingView(finding, anchors.make("finding", finding.fingerprint), rule, missing_flows=missing)

    by_sha = {a.sha256: a for a in result.apks if a.sha256}
    for apk in result.apks:
        for finding in apk.findings:
            view = attach(finding, apk)
            if view:
                app_of[apk.package or apk.path].findings.append(view)
    device_findings: list[FindingView] = []
    for finding in result.device_findings:
        view = attach(finding, by_sha.get(finding.apk_sha256 or ""))
        if view and finding.package in app_of:
            app_of[finding.package or ""].findings.append(view)
        elif view:
            device_findings.append(view)
    suppressed = [FindingView(s.finding, anchors.make("finding", s.finding.fingerprint), rules.get(s.finding.rule_id),
                              suppressed_note=s.note or f"baseline {s.baseline_file}") for s in result.suppressed]
    for app in apps:
        app.flows.sort(key=lambda f: (-(f.severity.rank if f.severity else -1), f.when, f.destination, f.data))
        for card in app.flows:
            card.labels.sort(key=lambda lab: (-lab.severity.rank, lab.rule_id))
        app.findings.sort(key=lambda v: (-v.finding.severity.rank, v.finding.rule_id))
        app.sentences = _app_sentences(app)
    apps = [a for a in apps if a.flows or a.findings]
    apps.sort(key=lambda a: (-(a.severity.rank if a.severity else -1), a.package))
    phone = inventory is not None and result.target.kind in ("device", "evidence")  # a firmware has no live state
    device = _device_state(result, flow_anchor) if phone else None
    # Page 1 tells the medium-and-worse apps in full; the others are named in one sentence (a firmware of 400 apps
    # must not push the summary off the page with informational findings).
    told = [a for a in apps if a.severity and a.severity.rank >= Severity.medium.rank]
    minor = [a for a in apps if a not in told]
    sentences = [s for a in told for s in a.sentences]
    if minor:
        names = [a.package for a in minor[:20]] + ([f"{len(minor) - 20} more"] if len(minor) > 20 else [])
        sentences.append(Sentence(
            f"{plural(len(minor), 'other app has', 'other apps have')} only low-severity or informational findings: "
            f"{join_words(names)}.", [(a.package, a.anchor) for a in minor[:20]], Severity.low))
    sentences += _device_sentences(device, device_findings) + _store_sentences(result)
    rule_anchors = {rule_id: anchors.make("rule", rule_id) for rule_id in dict.fromkeys(r.id for r in result.rules)}
    return Story(_examined(result), _headline(apps, result), sentences, apps, device_findings, suppressed, device,
                 _timeline(result), _verdicts(result), flow_anchor, rule_anchors)


def _flow_story(flow: Flow, package: str, anchor: str, countries: dict[str, str]) -> FlowStory:
    entry = flow.path[0] if flow.path else flow.source.location
    periods = [t.period_seconds for t in flow.triggers if t.period_seconds]
    return FlowStory(
        id=flow.id, anchor=anchor, package=package, source_kind=flow.source.kind, sink_kind=flow.sink.kind,
        source_api=readable_api(flow.source.api), source_raw=flow.source.api, sink_api=readable_api(flow.sink.api),
        sink_raw=flow.sink.api, entry=readable_method(entry), path=list(flow.path),
        transformations=list(flow.transformations),
        endpoints=[_endpoint_view(e, countries) for e in flow.endpoints],
        when=_when(periods, {t.kind for t in flow.triggers}),
        triggers=_trigger_text(flow), permissions=list(flow.permissions), copies=[],
    )


def _app_sentences(app: AppStory) -> list[Sentence]:
    """One sentence per (when, where, how) group of the app's flows; one per serious finding without a flow."""
    groups: dict[tuple[str, str, str, str], list[FlowStory]] = {}
    for flow in app.flows:
        if flow.severity is None:
            continue  # a flow no rule judged is evidence on its card, not a claim in the summary
        groups.setdefault((flow.when, flow.sink_kind, flow.destination, flow.how), []).append(flow)
    out = []
    first = True
    for (when, sink, where, how), flows in groups.items():
        data = join_words(f"the {f.data}" for f in flows)
        kinds = {f.source_kind for f in flows}
        them = "it" if len(kinds) == 1 and not kinds & _PLURAL_KINDS else "them"
        verb = SINK_VERBS.get(sink, "passes {them} to " + sink.replace("_", " ")).format(them=them)
        if where:
            verb = verb.replace(" over the internet", "").replace(" to a file", "")
        if how:
            verb += f" {how}"
        if where:
            verb += f" to the file {where}" if sink == "file" else f" to {where}"
        # The app is introduced once ("X is a preinstalled ... app."), then each clause starts with when it happens.
        lead = f"{app.package} is {app.who}. " if first else ""
        first = False
        text = f"{lead}{when[0].upper()}{when[1:]}, it reads {data} and {verb}."
        worst = max((f.severity for f in flows if f.severity), key=lambda s: s.rank, default=None)
        out.append(Sentence(text, [(f.id, f.anchor) for f in flows], worst, continues=not lead))
    for view in app.findings:
        if view.finding.severity.rank >= Severity.high.rank and view.suppressed_note is None:
            subject = f"{app.package}, {app.who}" if first else app.package
            first = False
            out.append(Sentence(f"{subject}: {view.finding.title.rstrip('.')}.", [(view.finding.rule_id, view.anchor)],
                                view.finding.severity))
    return out


def _store_sentences(result: ScanResult) -> list[Sentence]:
    """A store copy that is not the genuine app (tampered, suspicious): said on page 1 with the first reason."""
    out = []
    for check in result.store.signer_checks if result.store else []:
        if check.verdict.verdict in ("tampered", "suspicious"):
            reason = f" ({check.verdict.reasons[0].rstrip('.')})" if check.verdict.reasons else ""
            who = check.package or PurePath(check.apk_path).name
            out.append(Sentence(f"The store copy of {who} is {check.verdict.verdict}{reason}.", [("apps", "apps")],
                                Severity.high))
    return out


def _examined(result: ScanResult) -> Sentence:
    analysed = sum(1 for a in result.apks if a.status is not Status.not_analysed)
    distinct = len({a.sha256 or a.path for a in result.apks})
    identity = result.target.identity or (result.firmware.identity if result.firmware else None)
    name = " ".join(x for x in ((identity.brand, identity.model) if identity else ()) if x)
    details = []
    if identity and identity.android_version:
        details.append(f"Android {identity.android_version}")
    if identity and identity.security_patch:
        details.append(f"security patch {identity.security_patch}")
    if identity and identity.serial:
        details.append(f"serial {identity.serial}")
    extra = f" ({', '.join(details)})" if details else ""
    day = result.started_at.astimezone(UTC).date().isoformat()
    kind = result.target.kind
    if kind in ("device", "evidence"):
        what = f"a {name} phone{extra}" if name else "a phone"
        how = " over ADB, without changing anything on it," if kind == "device" and result.acquisition else ""
        text = f"On {day} phonehome examined {what}{how} and analysed {analysed} of its apps"
    elif kind == "firmware" and result.firmware:
        fw = result.firmware
        files = [PurePath(i.path).name for i in fw.inputs] if fw.kind == "files" else []
        what = (f"the firmware files {', '.join(files)}" if files else f"the firmware file {PurePath(fw.file).name}") \
            + (f" of a {name} phone{extra}" if name else "")
        text = f"On {day} phonehome examined {what} and analysed {analysed} of the apps preinstalled in it"
    elif kind == "store":
        text = f"On {day} phonehome examined {plural(len(result.apks), 'app')} served by an app store and " \
               f"analysed {analysed}"
    else:
        text = f"On {day} phonehome examined {plural(len(result.apks), 'APK file')} and analysed {analysed}"
    if distinct < len(result.apks):
        text += f" ({distinct} distinct files: identical copies are told once)"
    missing = [e for e in result.input_errors] + [a for a in result.apks if a.status is Status.not_analysed]
    if missing:
        text += f"; {plural(len(missing), 'item')} could not be examined (see Problems)"
    return Sentence(text + ".", [("problems", "not-analysed")] if missing else [])


def _headline(apps: list[AppStory], result: ScanResult) -> Sentence | None:
    leaking = [a for a in apps if any(f.severity and f.sink_kind not in ("log", "file") for f in a.flows)]
    if not any(a.status is not Status.not_analysed for a in result.apks) and not result.device_findings:
        # nothing was checked: no claim either way (the exit code says the same)
        return Sentence("No app could be analysed, so this report cannot say whether personal data leaves.",
                        [("problems", "not-analysed")] if result.apks or result.input_errors else [])
    if not apps:
        return Sentence("No rule matched: in the code phonehome could read, no personal data is sent away.")
    named = leaking or apps
    names = [a.package for a in named[:_HEADLINE_NAMES]] + (
        [f"{len(named) - _HEADLINE_NAMES} more (below)"] if len(named) > _HEADLINE_NAMES else [])
    links = [(a.package, a.anchor) for a in named[:_HEADLINE_NAMES]]
    if leaking:
        return Sentence(f"{plural(len(leaking), 'app sends', 'apps send')} personal data away: {join_words(names)}.",
                        links)
    return Sentence(f"{plural(len(apps), 'app has', 'apps have')} findings, none of them a data flow off the device: "
                    f"{join_words(names)}.", links)


def remote_ip(socket: SocketRecord) -> str:
    """The remote address as an app would write it: an IPv4-mapped IPv6 address (::ffff:1.2.3.4) is IPv4."""
    address = socket.remote_address
    return address[7:] if address.lower().startswith("::ffff:") and "." in address else address


def _device_state(result: ScanResult, flow_anchor: dict[tuple[str, str], str]) -> DeviceState:
    inv = result.inventory
    assert inv is not None
    endpoints: dict[str, list[tuple[ApkReport, Endpoint]]] = {}
    for apk in result.apks:
        for e in apk.endpoints:
            endpoints.setdefault(apk.package or "", []).append((apk, e))
    connections = []
    for s in inv.sockets:
        if not s.is_remote:
            continue
        in_code, links = [], []
        address = remote_ip(s)
        for package in s.packages:
            for apk, e in endpoints.get(package, []):
                if address in (e.host, e.value) or e.value.startswith(address + ":"):
                    if e.value not in in_code:
                        in_code.append(e.value)
                    for flow in apk.flows:
                        if any(x.value == e.value for x in flow.endpoints):
                            anchor = flow_anchor.get((apk.sha256 or apk.path, flow.id))
                            if anchor and (flow.id, anchor) not in links:
                                links.append((flow.id, anchor))
        connections.append(Connection(s, list(s.packages), in_code, links))
    opt_in: list[tuple[str, str, str | None]] = [(st.namespace, st.key, st.value) for st in inv.settings
              if any(w in st.key.lower() for w in ("optin", "opt_in", "consent"))]
    return DeviceState(connections, list(inv.alarms), list(inv.jobs), opt_in,
                       [p for p in inv.packages if p.is_updated_system])


def _device_sentences(device: DeviceState | None, findings: list[FindingView]) -> list[Sentence]:
    out = []
    if device:
        for c in device.connections:
            if c.socket.state != "ESTABLISHED":
                continue
            who = c.apps[0] if len(c.apps) == 1 else (
                f"UID {c.socket.uid} (shared by {join_words(c.apps)})" if c.apps else f"UID {c.socket.uid}")
            where = f"{remote_ip(c.socket)}:{c.socket.remote_port}" + (
                f" (registered in {c.socket.remote_country})" if c.socket.remote_country else "")
            code = ", an address written in its code" if c.in_code else ""
            out.append(Sentence(f"When the phone was examined, {who} was connected to {where}{code}.",
                                c.flow_anchors or [("connections", "device")],
                                Severity.high if c.in_code else None))
        for namespace, key, value in device.opt_in_settings:
            out.append(Sentence(f"The phone has a setting named {key} ({namespace} settings) set to {value}; its name "
                                "suggests a consent (opt-in) switch.", [("settings", "device")]))
    for view in findings:
        if view.finding.severity.rank >= Severity.high.rank:
            out.append(Sentence(f"Device: {view.finding.title.rstrip('.')}.", [(view.finding.rule_id, view.anchor)],
                                view.finding.severity))
    return out


# Timeline rows of the CSV timeline (toolkit.report.csv_report) that the picture shows, and their words. Single
# commands are left out: a picture of 15 commands in one second says nothing; the CSV keeps them all.
_TIMELINE_WORDS = {
    "package_first_install": ("install", "{package} installed"),
    "package_last_update": ("update", "{package} updated"),
    "certificate_valid_from": ("certificate", "signing certificate of {package} valid from"),
    "acquisition_started": ("acquisition", "acquisition started"),
    "apk_not_pulled": ("acquisition", "{package} could not be pulled"),
    "acquisition_finished": ("acquisition", "acquisition finished"),
    "scan_started": ("acquisition", "analysis started"),
}


def _timeline(result: ScanResult) -> list[TimelineEvent]:
    """Dated events of a phone scan (installs and updates, certificates, acquisition), from the CSV timeline."""
    if result.inventory is None or result.target.kind not in ("device", "evidence"):
        return []
    from toolkit.report.csv_report import timeline_events

    events: list[TimelineEvent] = []
    seen: set[tuple[str, datetime]] = set()
    for event in timeline_events(result):
        if event.event not in _TIMELINE_WORDS:
            continue
        if event.event == "package_last_update" and any(
                e.what == f"{event.package} installed" and e.when == event.timestamp for e in events):
            continue  # never updated: lastUpdateTime is the install time
        kind, words = _TIMELINE_WORDS[event.event]
        what = words.format(package=event.package or "an APK")
        if (what, event.timestamp) not in seen:
            seen.add((what, event.timestamp))
            events.append(TimelineEvent(event.timestamp, what, kind))
    return events


def _verdicts(result: ScanResult) -> list[VerdictCount]:
    """Apps (distinct packages) by their worst finding, for the verdict table of store and firmware scans."""
    worst: dict[str, tuple[int, str, str]] = {}
    for apk in result.apks:
        package = apk.package or apk.path
        sev = max((f.severity for f in apk.findings), key=lambda s: s.rank, default=None)
        if sev is not None:
            entry = (sev.rank + 2, sev.value, sev.value)
        elif apk.status is Status.not_analysed:
            entry = (0, "not analysed", "none")
        else:
            entry = (1, "no findings", "clean")
        if package not in worst or entry[0] > worst[package][0]:
            worst[package] = entry
    order = [s.value for s in _SEVERITIES] + ["no findings", "not analysed"]
    out = []
    for verdict in order:
        apps = sorted(p for p, e in worst.items() if e[1] == verdict)
        css = next((e[2] for e in worst.values() if e[1] == verdict), "none")
        out.append(VerdictCount(verdict, css, apps))
    return out
