"""System properties: `getprop` output and build.prop files → a dict, and the device identity they describe.

Both formats are accepted, even mixed:
- getprop: ``[ro.product.model]: [Pixel 4a]`` (a value containing newlines continues on the next lines);
- build.prop / default.prop / prop.default: ``key=value``; ``#`` comments, blank lines and ``import`` lines are
  ignored; ``key?=value`` (optional assignment) only sets a key that is not set yet. As Android's init does, the
  key and value are trimmed and a later assignment overrides an earlier one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from toolkit.inventory._common import Problems, split_lines, to_int
from toolkit.models.device import DeviceIdentity, ParseProblem

_GETPROP = re.compile(r"^\[(?P<key>[^\]]*)\]:\s?\[(?P<value>.*)\]\s*$")
_GETPROP_OPEN = re.compile(r"^\[(?P<key>[^\]]*)\]:\s?\[(?P<value>.*)$")
_KEY = re.compile(r"^[A-Za-z0-9_.\-:@]+$")

# init's property_initialize_ro_product_props(): ro.product.X is derived from the first partition that sets
# ro.product.<partition>.X, in ro.product.property_source_order (default below), when ro.product.X itself is unset.
_PRODUCT_SOURCE_ORDER = ("product", "odm", "vendor", "system_ext", "system")


def parse_props(text: str, problems: list[ParseProblem] | None = None, source: str = "getprop") -> dict[str, str]:
    """Parse getprop output or a build.prop file into ``{key: value}``.

    Lines that are neither format are reported in ``problems`` (when given) and logged; the rest is kept.
    """
    sink = Problems(source, problems)
    props: dict[str, str] = {}
    pending_key: str | None = None
    pending_value: list[str] = []
    pending_line = 0
    for number, line in enumerate(split_lines(text), start=1):
        if pending_key is not None:
            # getprop prints values verbatim, so a value with a newline spans lines until "]".
            if line.endswith("]"):
                pending_value.append(line[:-1])
                props[pending_key] = "\n".join(pending_value)
                pending_key = None
            else:
                pending_value.append(line)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            m = _GETPROP.match(stripped)
            if m:
                props[m["key"]] = m["value"]
                continue
            m = _GETPROP_OPEN.match(stripped)
            if m:
                pending_key, pending_value, pending_line = m["key"], [m["value"]], number
                continue
            sink.add("not a getprop line ([key]: [value])", number, line)
            continue
        if stripped.startswith("import ") or stripped == "import":
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            sink.add("not a property line (key=value)", number, line)
            continue
        optional = key.endswith("?")
        key = key.rstrip("?").strip()
        if not key or not _KEY.match(key):
            sink.add("invalid property name", number, line)
            continue
        if optional and key in props:
            continue
        props[key] = value.strip()
    if pending_key is not None:
        sink.add(f"value of {pending_key} is not terminated by ']' (truncated output?)", pending_line)
        props[pending_key] = "\n".join(pending_value)
    return props


def _first(props: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        value = props.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def product_prop(props: Mapping[str, str], name: str) -> str | None:
    """ro.product.<name>, or Android's fallback to ro.product.<partition>.<name> in property source order."""
    direct = _first(props, f"ro.product.{name}")
    if direct is not None:
        return direct
    order = props.get("ro.product.property_source_order", "")
    sources = [s.strip() for s in order.split(",") if s.strip()] or list(_PRODUCT_SOURCE_ORDER)
    return _first(props, *(f"ro.product.{src}.{name}" for src in sources))


def _fingerprint(props: Mapping[str, str]) -> str | None:
    fp = _first(props, "ro.build.fingerprint")
    if fp:
        return fp
    # Android 10+ system build.prop may leave ro.build.fingerprint unset; init derives it from these parts
    # (property_derive_build_fingerprint). Use the derivation only when every part is there.
    parts = {
        "brand": product_prop(props, "brand"),
        "name": product_prop(props, "name"),
        "device": product_prop(props, "device"),
        "release": _first(props, "ro.build.version.release_or_codename", "ro.build.version.release"),
        "id": _first(props, "ro.build.id"),
        "incremental": _first(props, "ro.build.version.incremental"),
        "type": _first(props, "ro.build.type"),
        "tags": _first(props, "ro.build.tags"),
    }
    if all(parts.values()):
        return "{brand}/{name}/{device}:{release}/{id}/{incremental}:{type}/{tags}".format(**parts)
    return _first(
        props,
        "ro.system.build.fingerprint",
        "ro.product.build.fingerprint",
        "ro.system_ext.build.fingerprint",
        "ro.vendor.build.fingerprint",
        "ro.odm.build.fingerprint",
        "ro.bootimage.build.fingerprint",
    )


def identity_from_props(props: Mapping[str, str], selinux: str | None = None) -> DeviceIdentity:
    """The device identity from properties, using the same fallbacks Android uses.

    ``selinux`` is the output of ``getenforce`` (Enforcing / Permissive / Disabled), stored trimmed.
    """
    return DeviceIdentity(
        brand=product_prop(props, "brand"),
        manufacturer=product_prop(props, "manufacturer"),
        model=product_prop(props, "model"),
        device=product_prop(props, "device"),
        fingerprint=_fingerprint(props),
        android_version=_first(
            props, "ro.build.version.release", "ro.system.build.version.release", "ro.vendor.build.version.release"
        ),
        sdk=to_int(_first(props, "ro.build.version.sdk", "ro.system.build.version.sdk", "ro.vendor.build.version.sdk")),
        security_patch=_first(props, "ro.build.version.security_patch", "ro.vendor.build.security_patch"),
        build_id=_first(props, "ro.build.id", "ro.system.build.id", "ro.vendor.build.id"),
        serial=_first(props, "ro.serialno", "ro.boot.serialno"),
        selinux=(selinux.strip() or None) if selinux is not None else None,
        build_type=_first(props, "ro.build.type", "ro.system.build.type", "ro.vendor.build.type"),
        build_tags=_first(props, "ro.build.tags", "ro.system.build.tags", "ro.vendor.build.tags"),
    )
