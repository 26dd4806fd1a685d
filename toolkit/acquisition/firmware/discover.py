"""After unpacking: find every APK and build.prop in the output, with provenance, and recover stripped code."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path, PurePosixPath

from toolkit.acquisition.files import make_dirs, sha256_file, walk
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.acquisition.firmware.extract import CONTENT_DIR, Root
from toolkit.acquisition.firmware.vdex import dex_from_vdex, rebuild_apk
from toolkit.inventory.props import identity_from_props, parse_props
from toolkit.models.firmware import BuildPropFile, FirmwareApk, FirmwareInfo, FirmwareIssue

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


def discover(info: FirmwareInfo, out: Path, roots: dict[Path, Root]) -> None:
    """Fill info.apks, info.build_props, info.properties and info.identity from the output directory."""
    props_found: list[tuple[int, str, dict[str, str]]] = []
    def unlisted(e: OSError) -> None:  # APKs under a folder that cannot be listed would be missed: say so
        info.issues.append(FirmwareIssue(chain=[str(Path(e.filename or out).relative_to(out))],
                                         reason=f"cannot list the extracted folder: {e.strerror or e}"))

    # Only the firmware's content is searched: phonehome's own files (temporary space, recovered code) live
    # beside it, so no name inside an image can hide an APK or pass one off.
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
                continue
            info.apks.append(_apk_entry(p, names, out, roots))
    merged: dict[str, str] = {}
    for _rank, _where, props in sorted(props_found, key=lambda t: (t[0], t[1])):
        for k, v in props.items():
            if k.startswith("ro.") and k in merged:
                continue  # read-only: the first definition wins, as on the phone
            merged[k] = v
    info.properties = merged
    if merged:
        info.identity = identity_from_props(merged)


def _apk_entry(p: Path, names: set[str], out: Path, roots: dict[Path, Root]) -> FirmwareApk:
    chain, part, device = locate(p, roots)
    rel = str(p.relative_to(out))
    apk = FirmwareApk(
        path=rel, analysis_path=rel, sha256=sha256_file(p), size=p.stat().st_size, chain=chain, partition=part,
        device_path=device, privileged="priv-app" in PurePosixPath(device or rel).parts,
    )
    if any(n.startswith("classes") and n.endswith(".dex") for n in names):
        return apk
    stem = p.stem
    oat = p.parent / "oat"
    vdexes = sorted(oat.glob(f"*/{stem}.vdex")) if oat.is_dir() else []
    odexes = sorted(oat.glob(f"*/{stem}.odex")) if oat.is_dir() else []
    if not vdexes and not odexes:
        apk.code = "none"
        apk.code_note = "no classes.dex and no oat/ files beside it: resource-only APK, or code stripped elsewhere"
        return apk
    notes = []
    for v in vdexes:
        where = str(v.relative_to(p.parent))
        try:
            data = v.read_bytes()
            dexes = dex_from_vdex(data, where)
        except FirmwareError as e:
            notes.append(f"{where}: {e.reason}")
            continue
        except OSError as e:
            notes.append(f"{where}: {e}")
            continue
        target = out / RECOVERED_DIR / rel
        make_dirs(target.parent)
        if target.exists():
            target.unlink()
        try:
            rebuild_apk(p, dexes, target)
        except FirmwareError as e:
            notes.append(e.reason)
            continue
        apk.analysis_path = str(target.relative_to(out))
        apk.code = "recovered_vdex"
        apk.code_note = (
            f"{len(dexes)} DEX file(s) recovered from {where} (vdex 027) into a rebuilt copy; "
            f"original APK sha256 {apk.sha256}"
        )
        return apk
    if odexes and not notes:
        notes.append(f"only {odexes[0].relative_to(p.parent)} (oat ELF)")
    apk.code = "not_recoverable"
    apk.code_note = "code not recoverable offline: " + "; ".join(notes)
    return apk
