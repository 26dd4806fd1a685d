"""The one module that imports androguard. Everything else sees phonehome's own types.

androguard logs through loguru at DEBUG level by default, which floods stderr of every caller; it is disabled
here, once, for the whole process.
"""

from __future__ import annotations

import logging
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

from loguru import logger as _loguru_logger

_loguru_logger.disable("androguard")

# androguard calls colorama.init(), which replaces sys.stdout/sys.stderr with wrappers whenever they are not a
# terminal; those wrappers crash on an OSC sequence in a logged file name ("'NoneType' object has no attribute
# 'set_title'") and rewrite phonehome's output. The original streams are put back.
_streams = (sys.stdout, sys.stderr)
from androguard.core.apk import APK  # noqa: E402

sys.stdout, sys.stderr = _streams

from toolkit.analysis.axml import MAX_DEPTH, AxmlError, max_depth, read_axml  # noqa: E402
from toolkit.analysis.container import (  # noqa: E402
    MANIFEST,
    MAX_AUX_ENTRY_BYTES,
    MAX_ENTRY_BYTES,
    MAX_MANIFEST_BYTES,
    ApkArchive,
    InflateLimit,
    is_dex_entry,
)
from toolkit.models import AnalysisLimit  # noqa: E402
from toolkit.models.apk import ApkMetadata, Certificate, Component, ComponentKind, IntentFilter  # noqa: E402

log = logging.getLogger(__name__)

NS_ANDROID = "{http://schemas.android.com/apk/res/android}"
_COMPONENT_TAGS: dict[str, ComponentKind] = {
    "activity": "activity",
    "activity-alias": "activity-alias",
    "service": "service",
    "receiver": "receiver",
    "provider": "provider",
}


class ApkParseError(Exception):
    """The APK (zip, manifest or signature block) could not be parsed."""


class LoadedApk:
    """An opened APK: manifest facts plus access to its DEX bytes.

    Every entry is inflated through container.ApkArchive (streamed, capped), also the ones androguard reads. When
    androguard rejects the manifest (malformed on purpose, or nested absurdly deep), the tolerant reader in axml.py
    reads what it can, and `incomplete()` says what could not be read: the caller makes the result partial.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._problems: list[str] = []
        self._manifest_root: Any = None  # set when the tolerant reader replaced androguard's manifest parse
        self._manifest_depth = 0
        try:
            self._archive = ApkArchive(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise ApkParseError(f"cannot parse APK: not a readable zip: {exc}") from exc
        # androguard (like Python's zipfile) keeps the last central-directory record of a name.
        self._entries = {info.filename: info for info in self._archive.infos}
        self._dex = _dex_table(self._archive.infos)
        if MANIFEST not in self._entries:
            raise ApkParseError("not a valid APK: AndroidManifest.xml missing")
        try:  # a manifest past its cap is read up to it: the elements that matter come first
            manifest = self._archive.read(self._entries[MANIFEST], MAX_MANIFEST_BYTES, truncate=True)
        except (zlib.error, ValueError, OSError) as exc:
            raise ApkParseError(f"not a valid APK: AndroidManifest.xml unreadable: {exc}") from exc
        try:
            self._apk = APK(str(path), skip_analysis=True)
        except MemoryError:
            raise  # the worker's memory cap: the pool says so and can retry under a larger one
        except Exception as exc:  # androguard raises many unrelated types on malformed input
            raise ApkParseError(f"cannot parse APK: {type(exc).__name__}: {exc}") from exc
        self._apk.zip = _BoundedZip(self._apk.zip, self)
        cut = any(hit.name == MANIFEST for hit in self._archive.hits)
        why = f"larger than {MAX_MANIFEST_BYTES} bytes inflated" if cut else self._androguard_manifest(manifest)
        if why is not None:
            self._tolerant_manifest(manifest, why)

    def _androguard_manifest(self, manifest: bytes) -> str | None:
        """Let androguard parse the manifest; the reason it could not, or None."""
        try:
            depth = self._manifest_depth = max_depth(manifest)
        except AxmlError as exc:
            return str(exc)
        if depth > MAX_DEPTH:
            # androguard would spend minutes in a 100,000-deep tree; elements deeper than this carry nothing real.
            return f"elements nested more than {MAX_DEPTH} deep"
        try:
            self._apk._apk_analysis()
        except MemoryError:
            raise
        except Exception as exc:  # e.g. ResParserError: UTF-16 String is not null terminated
            return f"androguard rejected it ({type(exc).__name__}: {exc})"
        if not self._apk.is_valid_APK():
            return "androguard found no <manifest> element"
        return None

    def _tolerant_manifest(self, manifest: bytes, why: str) -> None:
        try:
            result = read_axml(manifest)
        except AxmlError as exc:
            raise ApkParseError(f"not a valid APK: AndroidManifest.xml unreadable: {why}; {exc}") from exc
        if result.root is None or result.root.tag != "manifest" or not result.root.get("package"):
            raise ApkParseError(f"not a valid APK: AndroidManifest.xml unreadable: {why}")
        self._manifest_root = result.root
        cut = [f"{n} {what}" for n, what in ((result.dropped_deep, "elements dropped (too deep or unreadable)"),
                                            (result.bad_strings, "unreadable strings"),
                                            (result.skipped_chunks, "unknown chunks skipped")) if n]
        self._problems.append(
            f"AndroidManifest.xml: {why}; read with phonehome's tolerant reader"
            + (f" ({', '.join(cut)})" if cut else "")
        )

    def limits(self) -> list[AnalysisLimit]:
        """The caps that cut this APK's reading (inflation caps, manifest depth), as AnalysisStats.limits."""
        out = [AnalysisLimit(name=hit.limit_name, where=hit.name, detail=f"inflation stopped at {hit.limit} bytes "
                             f"({hit.cap})") for hit in self._archive.hits]
        for lim in out:  # a pool cap applied to its first entry and to every one skipped after it
            if lim.name != "inflate_entry_bytes":
                lim.count += self._archive.pool_skipped
                break
        if self._manifest_depth > MAX_DEPTH:
            out.append(AnalysisLimit(name="manifest_depth", where=MANIFEST,
                                     detail=f"elements nested deeper than {MAX_DEPTH} were not read"))
        return out

    def incomplete(self) -> list[str]:
        """What could not be read or was cut at a cap (manifest fallback, inflation caps), one line each."""
        skipped = self._archive.pool_skipped
        more = [f"{skipped} more entries cut or not read once a per-APK inflation cap was reached"] if skipped else []
        return list(dict.fromkeys([*self._problems, *self._archive.limits, *more]))

    def close(self) -> None:
        self._archive.close()

    def __del__(self) -> None:
        archive = getattr(self, "_archive", None)
        if archive is not None:
            archive.close()

    def metadata(self) -> ApkMetadata:
        """Manifest, packaging and signing facts."""
        if self._manifest_root is not None:
            return _tolerant_metadata(self._apk, self._manifest_root, self.dex_names(), self.file_names())
        meta = _metadata(self._apk)
        meta.dex_files = self.dex_names()
        return meta

    def dex_names(self) -> list[str]:
        """classes*.dex entry names; a second copy of a name (duplicate zip entry) is listed as `name#2` and so on,
        so that every copy is analysed."""
        return sorted(self._dex, key=_dex_order)

    def other_dex_orders(self) -> list[list[str]]:
        """For an APK with duplicate classes*.dex entries: the further DEX orders in which copy k of every
        duplicated name comes before the other copies. The engine keeps the first definition of a class, so
        analysing each order once lets every copy's code be the one that counts (Master Key: which copy a phone
        runs depends on its Android version)."""
        copies = max((int(n.partition("#")[2] or 1) for n in self._dex), default=1)
        orders: list[list[str]] = []
        for k in range(2, copies + 1):
            def key(name: str, k: int = k) -> tuple[int, int]:
                base, copy = _dex_order(name)
                return base, (0 if copy == k else copy)
            orders.append(sorted(self._dex, key=key))
        return orders

    def other_manifests(self) -> list[ApkMetadata]:
        """Metadata read from every other copy of AndroidManifest.xml with different content (duplicate entries):
        its components are entry points too, whichever copy a phone uses."""
        copies = self._archive.copies(MANIFEST)
        if len(copies) < 2:
            return []
        current = self._entries[MANIFEST]
        seen = {self._archive.read(current, MAX_MANIFEST_BYTES, truncate=True)}
        out: list[ApkMetadata] = []
        for info in copies:
            data = self._archive.read(info, MAX_MANIFEST_BYTES, truncate=True)
            if info is current or data in seen:
                continue
            seen.add(data)
            try:
                result = read_axml(data)
            except AxmlError:
                continue
            if result.root is not None and result.root.tag == "manifest":
                out.append(_tolerant_metadata(self._apk, result.root, self.dex_names(), self.file_names()))
        return out

    def with_dex_order(self, order: list[str]) -> _DexOrder:
        """This APK, with dex_names() in the given order (see other_dex_orders)."""
        return _DexOrder(self, order)

    def dex_bytes(self, name: str) -> bytes:
        info = self._dex.get(name)
        if info is None:
            raise ApkParseError(f"cannot read {name} from the APK: no such entry")
        try:
            data = self._archive.read(info, MAX_ENTRY_BYTES)
        except InflateLimit as exc:  # the caller prefixes the name
            raise ApkParseError(str(exc).removeprefix(f"{info.filename}: ")) from exc
        except (zlib.error, ValueError, OSError) as exc:
            raise ApkParseError(f"cannot read {name} from the APK: {exc}") from exc
        if not data:
            raise ApkParseError(f"cannot read {name} from the APK")
        return data

    def resource_strings(self) -> dict[int, str]:
        """R.string id -> default-locale value from resources.arsc (empty when absent or unreadable)."""
        if "resources.arsc" not in self._entries:
            return {}
        try:
            arsc = self._apk.get_android_resources()
            resolved = arsc.get_resolved_strings() if arsc is not None else {}
        except Exception as exc:  # hostile or odd resource tables must not stop the analysis
            log.info("%s: resources.arsc unreadable: %s", self.path, exc)
            self._problems.append(f"resources.arsc unreadable ({type(exc).__name__}: {exc}): string resources "
                                  "not resolved")
            return {}
        out: dict[int, str] = {}
        for locales in resolved.values():
            for locale, values in locales.items():
                for rid, text in values.items():
                    if text is not None and (locale == "DEFAULT" or int(rid) not in out):
                        out[int(rid)] = str(text)
        return out

    def layout_blob(self, limit: int = 8 << 20) -> bytes:
        """Bytes of the compiled layout XML files (res/layout*/), to look up names they reference: fragment
        classes and android:onClick handler methods."""
        parts: list[bytes] = []
        total = 0
        for name in sorted(self._entries):
            if name.startswith("res/layout") and name.endswith(".xml"):
                data = self.file_bytes(name)
                total += len(data)
                if total > limit:
                    break
                parts.append(data)
        return b"\0".join(parts)

    def file_names(self) -> list[str]:
        return self._archive.names()

    def file_bytes(self, name: str) -> bytes:
        """An entry's bytes (the last copy, as Android's tools read it); an entry the code analysis does not need
        is cut at its cap (recorded in `incomplete()`) rather than refused."""
        info = self._entries.get(name)
        if info is None:
            return b""
        essential = name == MANIFEST or name == "resources.arsc" or is_dex_entry(name)
        try:
            limit = MAX_ENTRY_BYTES if essential else MAX_AUX_ENTRY_BYTES
            return self._archive.read(info, limit, aux=not essential, truncate=True)
        except (zlib.error, ValueError, OSError) as exc:
            self._problems.append(f"{name}: unreadable ({exc})")
            return b""


class _DexOrder:
    """A LoadedApk whose dex_names() come in another order; everything else is the APK's own."""

    def __init__(self, loaded: LoadedApk, order: list[str]) -> None:
        self._loaded = loaded
        self._order = order

    def dex_names(self) -> list[str]:
        return list(self._order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loaded, name)


class _BoundedZip:
    """Stands in for androguard's zip reader so that what androguard reads is inflated with the same caps."""

    def __init__(self, inner: Any, owner: LoadedApk) -> None:
        self._inner = inner
        self._owner = owner

    def namelist(self) -> list[str]:
        return self._owner.file_names()

    def infolist(self) -> Any:
        return self._inner.infolist()

    def read(self, name: str) -> bytes:
        info = self._owner._entries[name]  # KeyError for a missing name, as androguard expects
        limit = MAX_MANIFEST_BYTES if name == MANIFEST else MAX_ENTRY_BYTES
        return self._owner._archive.read(info, limit, aux=name != "resources.arsc" and name != MANIFEST)


def _dex_table(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """classes*.dex records by name; the n-th copy of a duplicated name is `name#n` (the first keeps the name)."""
    table: dict[str, zipfile.ZipInfo] = {}
    counts: dict[str, int] = {}
    for info in infos:
        if not is_dex_entry(info.filename):
            continue
        n = counts[info.filename] = counts.get(info.filename, 0) + 1
        table[info.filename if n == 1 else f"{info.filename}#{n}"] = info
    return table


def _dex_order(name: str) -> tuple[int, int]:
    base, _, copy = name.partition("#")
    middle = base[len("classes") : -len(".dex")]
    return (int(middle) if middle.isdigit() else 1), (int(copy) if copy.isdigit() else 1)


def _attr(element: Any, name: str) -> str | None:
    value = element.get(NS_ANDROID + name)
    return None if value is None else str(value)


def _bool_attr(element: Any, name: str) -> bool | None:
    value = _attr(element, name)
    if value is None:
        return None
    return value.lower() in ("true", "1", "0xffffffff", "-1")


def _qualify(package: str, name: str) -> str:
    if name.startswith("."):
        return package + name
    if "." not in name:
        return f"{package}.{name}"
    return name


def _process_name(package: str, value: str | None) -> str | None:
    """android:process as the system names it: ':name' is private to the app (package:name), another name is
    global; the package's own name is the default process (None)."""
    if not value or value == package or value.startswith("@"):
        return None  # a resource reference cannot be resolved here: the default process is assumed
    return package + value if value.startswith(":") else value


def _components(manifest: Any, package: str, target_sdk: int | None) -> list[Component]:
    application = manifest.find("application")
    if application is None:
        return []
    app_enabled = _bool_attr(application, "enabled")
    app_process = _attr(application, "process")
    out: list[Component] = []
    for child in application:
        kind = _COMPONENT_TAGS.get(str(child.tag))
        if kind is None:
            continue
        raw_name = _attr(child, "name")
        if not raw_name:
            continue
        filters = []
        for flt in child.findall("intent-filter"):
            priority = _attr(flt, "priority")
            filters.append(
                IntentFilter(
                    actions=[a for a in (_attr(x, "name") for x in flt.findall("action")) if a],
                    categories=[c for c in (_attr(x, "name") for x in flt.findall("category")) if c],
                    data_schemes=[s for s in (_attr(x, "scheme") for x in flt.findall("data")) if s],
                    data_mime_types=[m for m in (_attr(x, "mimeType") for x in flt.findall("data")) if m],
                    priority=int(priority) if priority and priority.lstrip("-").isdigit() else None,
                )
            )
        exported = _bool_attr(child, "exported")
        if exported is None:
            # Before Android 12 a component with an intent filter was exported implicitly; providers were
            # exported by default up to API 16.
            exported = (target_sdk or 1) < 17 if kind == "provider" else bool(filters)
        enabled = _bool_attr(child, "enabled")
        target = _attr(child, "targetActivity")
        out.append(
            Component(
                kind=kind,
                name=_qualify(package, raw_name),
                exported=exported,
                enabled=(enabled is not False) and (app_enabled is not False),
                permission=_attr(child, "permission"),
                target_activity=_qualify(package, target) if target else None,
                intent_filters=filters,
                process=_process_name(package, _attr(child, "process") or app_process),
            )
        )
    return out


def _certificates(apk: APK) -> tuple[list[Certificate], list[str], list[str]]:
    problems: list[str] = []
    by_digest: dict[str, Certificate] = {}
    schemes: list[Any] = []
    readers: list[tuple[str, Any]] = [
        ("v1", apk.get_certificates_v1),
        ("v2", apk.get_certificates_v2),
        ("v3", apk.get_certificates_v3),
        ("v31", apk.get_certificates_v31),
    ]
    checks = {"v1": apk.is_signed_v1, "v2": apk.is_signed_v2, "v3": apk.is_signed_v3, "v31": apk.is_signed_v31}
    for scheme, reader in readers:
        try:
            if not checks[scheme]():
                continue
            certs = [c for c in reader() if c is not None]
        except Exception as exc:
            problems.append(f"{scheme} signature block unreadable: {type(exc).__name__}: {exc}")
            continue
        if not certs:
            problems.append(f"{scheme} signature present but carries no readable certificate")
            continue
        schemes.append(scheme)
        for cert in certs:
            try:
                digest = cert.sha256.hex()
                existing = by_digest.get(digest)
                if existing is None:
                    subject = cert.subject.human_friendly
                    existing = Certificate(
                        sha256=digest,
                        sha1=cert.sha1.hex(),
                        subject=subject,
                        issuer=cert.issuer.human_friendly,
                        serial_number=format(cert.serial_number, "x"),
                        not_before=str(cert["tbs_certificate"]["validity"]["not_before"].native),
                        not_after=str(cert["tbs_certificate"]["validity"]["not_after"].native),
                        is_debug="Android Debug" in subject,
                    )
                    by_digest[digest] = existing
                if scheme not in existing.schemes:
                    existing.schemes.append(scheme)  # type: ignore[arg-type]
            except Exception as exc:
                problems.append(f"{scheme} certificate malformed: {type(exc).__name__}: {exc}")
    return list(by_digest.values()), schemes, problems


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _metadata(apk: APK) -> ApkMetadata:
    package = apk.get_package() or ""
    manifest = apk.get_android_manifest_xml()
    target_sdk = _int(apk.get_target_sdk_version())
    application = manifest.find("application") if manifest is not None else None
    shared_user = manifest.get(NS_ANDROID + "sharedUserId") if manifest is not None else None
    certificates, schemes, problems = _certificates(apk)
    try:
        label = apk.get_app_name() or None
    except Exception:  # resources.arsc may be missing or hostile; the label is cosmetic
        label = None
    app_class = _attr(application, "name") if application is not None else None
    files = apk.get_files()
    return ApkMetadata(
        package=package,
        version_code=apk.get_androidversion_code() or None,
        version_name=apk.get_androidversion_name() or None,
        min_sdk=_int(apk.get_min_sdk_version()),
        target_sdk=target_sdk,
        label=label,
        application_class=_qualify(package, app_class) if app_class else None,
        shared_user_id=str(shared_user) if shared_user else None,
        persistent=bool(application is not None and _bool_attr(application, "persistent")),
        debuggable=bool(application is not None and _bool_attr(application, "debuggable")),
        permissions=sorted(set(apk.get_permissions())),
        components=_components(manifest, package, target_sdk) if manifest is not None else [],
        certificates=certificates,
        signature_schemes=schemes,
        signature_problems=problems,
        dex_files=sorted(apk.get_dex_names(), key=_dex_order),
        native_libraries=sorted(f for f in files if f.startswith("lib/") and f.endswith(".so")),
    )


def _tolerant_metadata(apk: APK, root: Any, dex_files: list[str], files: list[str]) -> ApkMetadata:
    """ApkMetadata from a manifest tree read by axml.read_axml (androguard rejected the manifest); signing facts
    still come from androguard, which does not need the manifest for them."""
    package = root.get("package") or ""
    uses_sdk = root.find("uses-sdk")
    target_sdk = _int(_attr(uses_sdk, "targetSdkVersion")) if uses_sdk is not None else None
    application = root.find("application")
    certificates, schemes, problems = _certificates(apk)
    label = _attr(application, "label") if application is not None else None
    app_class = _attr(application, "name") if application is not None else None
    shared_user = _attr(root, "sharedUserId")
    return ApkMetadata(
        package=package,
        version_code=_attr(root, "versionCode"),
        version_name=_attr(root, "versionName"),
        min_sdk=_int(_attr(uses_sdk, "minSdkVersion")) if uses_sdk is not None else None,
        target_sdk=target_sdk,
        label=label if label and not label.startswith("@") else None,  # a resource id needs resources.arsc
        application_class=_qualify(package, app_class) if app_class else None,
        shared_user_id=shared_user,
        persistent=bool(application is not None and _bool_attr(application, "persistent")),
        debuggable=bool(application is not None and _bool_attr(application, "debuggable")),
        permissions=sorted({p for p in (_attr(e, "name") for e in root.findall("uses-permission")) if p}),
        components=_components(root, package, target_sdk),
        certificates=certificates,
        signature_schemes=schemes,
        signature_problems=problems,
        dex_files=dex_files,
        native_libraries=sorted(f for f in files if f.startswith("lib/") and f.endswith(".so")),
    )


def open_apk(path: Path) -> LoadedApk:
    """Open an APK with androguard; raises ApkParseError with a one-line reason."""
    return LoadedApk(path)
