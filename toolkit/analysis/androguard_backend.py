"""The one module that imports androguard. Everything else sees phonehome's own types.

androguard logs through loguru at DEBUG level by default, which floods stderr of every caller; it is disabled
here, once, for the whole process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from loguru import logger as _loguru_logger

_loguru_logger.disable("androguard")

from androguard.core.apk import APK  # noqa: E402

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
    """An opened APK: manifest facts plus access to its DEX bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._apk = APK(str(path))
        except Exception as exc:  # androguard raises many unrelated types on malformed input
            raise ApkParseError(f"cannot parse APK: {type(exc).__name__}: {exc}") from exc
        if not self._apk.is_valid_APK():
            raise ApkParseError("not a valid APK: AndroidManifest.xml missing or unreadable")

    def metadata(self) -> ApkMetadata:
        """Manifest, packaging and signing facts."""
        return _metadata(self._apk)

    def dex_names(self) -> list[str]:
        return sorted(self._apk.get_dex_names(), key=_dex_order)

    def dex_bytes(self, name: str) -> bytes:
        data = self._apk.get_file(name)
        if not data:
            raise ApkParseError(f"cannot read {name} from the APK")
        return bytes(data)

    def resource_strings(self) -> dict[int, str]:
        """R.string id -> default-locale value from resources.arsc (empty when absent or unreadable)."""
        if "resources.arsc" not in self._apk.get_files():
            return {}
        try:
            arsc = self._apk.get_android_resources()
            resolved = arsc.get_resolved_strings() if arsc is not None else {}
        except Exception as exc:  # hostile or odd resource tables must not stop the analysis
            log.info("%s: resources.arsc unreadable: %s", self.path, exc)
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
        for name in sorted(self._apk.get_files()):
            if name.startswith("res/layout") and name.endswith(".xml"):
                data = bytes(self._apk.get_file(name) or b"")
                total += len(data)
                if total > limit:
                    break
                parts.append(data)
        return b"\0".join(parts)

    def file_names(self) -> list[str]:
        return list(self._apk.get_files())

    def file_bytes(self, name: str) -> bytes:
        return bytes(self._apk.get_file(name) or b"")


def _dex_order(name: str) -> int:
    middle = name[len("classes") : -len(".dex")]
    return int(middle) if middle.isdigit() else 1


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


def _components(manifest: Any, package: str, target_sdk: int | None) -> list[Component]:
    application = manifest.find("application")
    if application is None:
        return []
    app_enabled = _bool_attr(application, "enabled")
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


def open_apk(path: Path) -> LoadedApk:
    """Open an APK with androguard; raises ApkParseError with a one-line reason."""
    return LoadedApk(path)
