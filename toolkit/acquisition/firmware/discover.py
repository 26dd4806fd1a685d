"""After unpacking: find every APK and build.prop in the output, with provenance, and recover stripped code."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path, PurePosixPath

from toolkit.acquisition.files import make_dirs, sha256_file, walk
from toolkit.acquisition.firmware import deodex, framework
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.extract import CONTENT_DIR, Root
from toolkit.acquisition.firmware.recover import Recovery, recover
from toolkit.acquisition.firmware.vdex import rebuild_apk
from toolkit.inventory.props import identity_from_props, parse_props
from toolkit.models.firmware import BuildPropFile, FirmwareApk, FirmwareInfo, FirmwareIssue, RecoveredCode

log = logging.getLogger(__name__)

PROP_FILES = {"build.prop", "default.prop", "prop.default"}
RECOVERED_DIR = "_recovered"
FS_KINDS = {"ext4", "erofs"}
# The order in which init loads property files: for ro.* properties the first definition wins.
PROP_ORDER = ["/system/etc/prop.default", "/prop.default", "/default.prop", "/system/build.prop", "/system_ext/",
              "/system/system_ext/", "/vendor/default.prop", "/vendor/", "/odm/", "/vendor/odm/", "/product/",
              "/system/product/"]


def _nearest_root(path: Path, roots: dict[Path, Root]) -> tuple[Path, Root] | None:
    for parent in path.parents:
        if parent in roots:
            return parent, roots[parent]
    return None


def locate(path: Path, roots: dict[Path, Root]) -> tuple[list[str], str | None, str | None]:
    """(provenance chain, partition, device path) of an output file."""
    found = _nearest_root(path, roots)
    if found is None:
        return [path.name], None, None
    rdir, root = found
    rel = PurePosixPath(*path.relative_to(rdir).parts)
    if root.kind == "copy":  # a second member of the same name: its chain already names it
        return (root.chain if len(rel.parts) == 1 else root.chain + [str(rel)]), root.partition, None
    if root.kind in FS_KINDS:
        chain = root.chain + [f"{root.kind}:/{rel}"]
        device = f"{root.mount}/{rel}" if root.mount is not None else None
        return chain, root.partition, device
    return root.chain + [str(rel)], None, None


def _prop_rank(device_path: str | None) -> int:
    if device_path is None:
        return len(PROP_ORDER) + 1
    for i, prefix in enumerate(PROP_ORDER):
        if device_path.startswith(prefix):
            return i
    return len(PROP_ORDER)


def discover(info: FirmwareInfo, out: Path, roots: dict[Path, Root], transient: bool = False) -> None:
    """Fill info.apks, info.build_props, info.properties and info.identity from the output directory.

    transient: the output is a scan's temporary folder: once a stripped app's code is in its rebuilt copy, the
    stripped APK and its optimized files (hashed and recorded first) are deleted, so the temporary disk holds the
    rebuilt copy instead of all three."""
    props_found: list[tuple[int, str, dict[str, str]]] = []
    tools_used: set[str] = set()

    def unlisted(e: OSError) -> None:  # APKs under a folder that cannot be listed would be missed: say so
        info.issues.append(FirmwareIssue(chain=[str(Path(e.filename or out).relative_to(out))],
                                         reason=f"cannot list the extracted folder: {e.strerror or e}"))

    # Only the firmware's content is searched: phonehome's own files (temporary space, recovered code) live
    # beside it, so no name inside an image can hide an APK or pass one off.
    # One JVM deodexes every Dalvik / Android 6 app of the firmware (when baksmali is used at all).
    with deodex.Session() as session:
        for dirpath, dirnames, filenames in walk(out / CONTENT_DIR, onerror=unlisted):
            dirnames.sort()
            for fn in sorted(filenames):
                p = Path(dirpath) / fn
                if p.is_symlink() or not p.is_file():
                    continue
                if fn in PROP_FILES:
                    chain, part, device = locate(p, roots)
                    try:
                        props = parse_props(p.read_text("utf-8", "replace"), source=str(p.relative_to(out)))
                    except OSError as e:
                        info.issues.append(FirmwareIssue(chain=chain, reason=f"unreadable build.prop: {e}"))
                        continue
                    info.build_props.append(
                        BuildPropFile(path=str(p.relative_to(out)), chain=chain, partition=part, properties=len(props))
                    )
                    props_found.append((_prop_rank(device), device or str(p), props))
                    continue
                try:
                    with open(p, "rb") as f:
                        head = f.read(4)
                except OSError as e:
                    if fn.endswith(".apk"):  # an app that cannot be read is said, not skipped
                        info.issues.append(FirmwareIssue(chain=locate(p, roots)[0], reason=f"unreadable APK: {e}"))
                    continue
                if head != b"PK\x03\x04":
                    if fn.endswith(".apk"):  # a damaged, encrypted or fake app file is said, not dropped
                        info.issues.append(FirmwareIssue(chain=locate(p, roots)[0], reason="not an APK: no zip signature"))
                    continue
                try:
                    with zipfile.ZipFile(p) as z:
                        names = set(z.namelist())
                except (zipfile.BadZipFile, OSError, ValueError) as e:
                    chain, _, _ = locate(p, roots)
                    if fn.endswith(".apk"):
                        info.issues.append(FirmwareIssue(chain=chain, reason=f"damaged APK: {e}"))
                    continue
                if "apex_payload.img" in names or "original_apex" in names:
                    continue
                if "AndroidManifest.xml" not in names:
                    if fn.endswith(".apk"):
                        info.issues.append(FirmwareIssue(chain=locate(p, roots)[0],
                                                         reason="not an APK: the zip has no AndroidManifest.xml"))
                    elif framework.is_framework_jar(p.relative_to(out).parts):
                        unit = _framework_entry(p, out, roots, session)
                        if unit is not None:
                            info.framework.append(unit)
                    continue
                info.apks.append(_apk_entry(p, names, out, roots, tools_used, transient, session))
    info.external_tools.extend(sorted(tools_used - set(info.external_tools)))  # baksmali ... when used
    merged: dict[str, str] = {}
    for _rank, _where, props in sorted(props_found, key=lambda t: (t[0], t[1])):
        for k, v in props.items():
            if k.startswith("ro.") and k in merged:
                continue  # read-only: the first definition wins, as on the phone
            merged[k] = v
    info.properties = merged
    if merged:
        info.identity = identity_from_props(merged)


def _apk_entry(p: Path, names: set[str], out: Path, roots: dict[Path, Root], tools: set[str],
               transient: bool = False, session: deodex.Session | None = None) -> FirmwareApk:
    chain, part, device = locate(p, roots)
    rel = str(p.relative_to(out))
    apk = FirmwareApk(
        path=rel, analysis_path=rel, sha256=sha256_file(p), size=p.stat().st_size, chain=chain, partition=part,
        device_path=device, privileged="priv-app" in PurePosixPath(device or rel).parts,
    )
    if any(n.startswith("classes") and n.endswith(".dex") for n in names):
        return apk
    return recover_stripped(apk, p, out, roots, tools, transient, session)


def optimized_files(p: Path) -> list[Path]:
    """The optimized files that may hold an APK's code: oat/<isa>/X.vdex, then oat/<isa>/X.odex (Android 5+), then
    X.odex beside the APK (Dalvik, Android 2.2-4.4)."""
    oat = p.parent / "oat"
    found = []
    if oat.is_dir():
        found += sorted(oat.glob(f"*/{p.stem}.vdex")) + sorted(oat.glob(f"*/{p.stem}.odex"))
    beside = p.with_suffix(".odex")
    if beside.is_file():
        found.append(beside)
    return [f for f in found if f.is_file() and not f.is_symlink()]


def _recovered(v: Path, where: str, roots: dict[Path, Root], session: deodex.Session | None, notes: list[str]
               ) -> Recovery | None:
    """The code recovered from one optimized file, or None with the reason added to notes (the caller tries the
    next candidate)."""
    try:
        return recover(v, where, boot=lambda deps: boot_class_path(deps, roots), api=_sdk_near(v, roots),
                       session=session)
    except FirmwareError as e:
        notes.append(f"{where}: {e.reason}")
    except OSError as e:
        notes.append(f"{where}: {e}")
    return None


def recover_stripped(apk: FirmwareApk, p: Path, out: Path, roots: dict[Path, Root], tools: set[str],
                     transient: bool = False, session: deodex.Session | None = None) -> FirmwareApk:
    """Recover a stripped app's code from its optimized files into a rebuilt copy (first one that works).

    transient: then delete the stripped APK and its optimized files (see discover)."""
    candidates = optimized_files(p)
    if not candidates:
        apk.code = "none"
        apk.code_note = "no classes.dex and no oat/ or .odex files beside it: resource-only APK, or code stripped elsewhere"
        return apk
    notes: list[str] = []
    for v in candidates:
        where = str(v.relative_to(p.parent))
        rec = _recovered(v, where, roots, session, notes)
        if rec is None:
            continue
        tools.update(rec.tools)
        target = out / RECOVERED_DIR / apk.path
        make_dirs(target.parent)
        if target.exists():
            target.unlink()
        try:
            rebuild_apk(p, rec.dexes, target)
        except FirmwareError as e:
            notes.append(e.reason)
            continue
        chain, _part, device = locate(v, roots)
        apk.analysis_path = str(target.relative_to(out))
        apk.code = rec.kind  # type: ignore[assignment]
        apk.recovered = RecoveredCode(path=str(v.relative_to(out)), device_path=device, sha256=sha256_file(v),
                                      format=rec.format, dex=rec.records)
        states = sorted({r.state for r in rec.records})
        apk.code_note = (
            f"{len(rec.dexes)} DEX file(s) recovered from {where} ({rec.format}, sha256 {apk.recovered.sha256}; "
            f"{'/'.join(states)}) into a rebuilt copy; original APK sha256 {apk.sha256}; recovered DEX sha256 "
            + ", ".join(r.sha256 for r in rec.records)
        )
        if rec.approximated:
            apk.code_approximated = f"code recovered from {where} is approximated: " + "; ".join(rec.approximated)
        if transient:  # an app's own files only: framework files stay (they are other apps' boot class path)
            for f in (*candidates, p):
                f.unlink(missing_ok=True)
        return apk
    apk.code = "not_recoverable"
    apk.code_note = "code not recoverable offline: " + "; ".join(notes)
    return apk


FRAMEWORK_NOTE = ("framework jar: its code is analysed in a wrapper zip whose minimal manifest names the package "
                  "'framework:{jar}' (not a real package)")


def _framework_entry(p: Path, out: Path, roots: dict[Path, Root], session: deodex.Session | None = None
                     ) -> FirmwareApk | None:
    """A framework jar as a scanned unit, with its code from the jar or recovered from its optimized files.
    None for a jar without any code (resources only)."""
    chain, part, device = locate(p, roots)
    rel = str(p.relative_to(out))
    unit = FirmwareApk(path=rel, analysis_path=rel, sha256=sha256_file(p), size=p.stat().st_size, chain=chain,
                       partition=part, device_path=device, unit="framework_jar")
    target = out / RECOVERED_DIR / (rel + ".apk")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        dexes = framework.jar_dexes(p)
    except FirmwareError:
        dexes = []
    notes: list[str] = []
    if not dexes:
        for v in framework.optimized_for_jar(p):
            where = str(v.relative_to(p.parent))
            rec = _recovered(v, where, roots, session, notes)
            if rec is None:
                continue
            dexes = rec.dexes
            unit.code = rec.kind  # type: ignore[assignment]
            unit.recovered = RecoveredCode(path=str(v.relative_to(out)), device_path=locate(v, roots)[2],
                                           sha256=sha256_file(v), format=rec.format, dex=rec.records)
            if rec.approximated:
                unit.code_approximated = f"code recovered from {where} is approximated: " + "; ".join(rec.approximated)
            notes = [f"{len(dexes)} DEX file(s) recovered from {where} ({rec.format}, sha256 {unit.recovered.sha256}); "
                     "recovered DEX sha256 " + ", ".join(r.sha256 for r in rec.records)]
            break
        if not dexes:
            if not notes:
                return None  # no code anywhere: a resource-only jar
            unit.code = "not_recoverable"
            unit.code_note = "code not recoverable offline: " + "; ".join(notes)
    if target.exists():
        target.unlink()
    try:
        framework.wrap_jar(p, dexes, target)
    except FirmwareError as e:
        unit.code = "not_recoverable"
        unit.code_note = e.reason
        return unit
    unit.analysis_path = str(target.relative_to(out))
    note = FRAMEWORK_NOTE.format(jar=p.name)
    unit.code_note = "; ".join(x for x in (note, *notes, unit.code_note) if x)
    return unit


def boot_class_path(deps: list[str], roots: dict[Path, Root]) -> tuple[list[Path], list[str]]:
    """Files of the extraction for the device paths of a boot class path: X.odex beside X.jar, else the jar when it
    holds classes.dex (Dalvik), or the boot image itself (`.../<isa>/boot.oat`, ART). Returns (files, not found)."""
    files, missing = [], []
    for dep in deps:
        found = None
        for rdir, root in roots.items():
            if root.mount is None or not dep.startswith(root.mount + "/"):
                continue
            rel = dep[len(root.mount) + 1 :]
            jar = rdir / rel
            odex_file = jar.with_suffix(".odex")
            if jar.suffix != ".jar" and jar.is_file() and not jar.is_symlink():
                found = jar  # a boot image (boot.oat) named as it is
            elif odex_file.is_file():
                found = odex_file
            elif jar.is_file() and "classes.dex" in framework_jar_names(jar):
                found = jar
            if found:
                break
        if found is None:
            missing.append(dep)
        else:
            files.append(found)
    return files, missing


def framework_jar_names(jar: Path) -> set[str]:
    try:
        with zipfile.ZipFile(jar) as z:
            return set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return set()


def _sdk_near(path: Path, roots: dict[Path, Root]) -> int | None:
    """ro.build.version.sdk of the partition holding path (for baksmali's opcode set)."""
    found = _nearest_root(path, roots)
    if found is None:
        return None
    rdir, _root = found
    for bp in (rdir / "build.prop", rdir / "system" / "build.prop"):
        try:
            props = parse_props(bp.read_text("utf-8", "replace"), source=str(bp))
        except OSError:
            continue
        sdk = props.get("ro.build.version.sdk", "")
        if sdk.isdigit():
            return int(sdk)
    return None
