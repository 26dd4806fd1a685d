"""Recover the code of a stripped (odexed) app from its optimized file, whatever the Android generation.

| file                         | module     | what comes out                                                   |
|------------------------------|------------|------------------------------------------------------------------|
| vdex 027 (12+)               | vdex.py    | DEX verbatim                                                     |
| vdex 019/021 (9-11)          | vdex.py    | DEX or CompactDex (cdex.py), unquickened with the vdex's tables   |
| vdex 006/010 (8.x)           | vdex.py    | DEX unquickened with the vdex's quickening info                  |
| OAT ELF .odex (5-7)          | oat.py     | DEX; Android 7's quickening tables restore it exactly            |
| Dalvik .odex dey 035/036     | odex.py    | DEX; quickened code neutralised (needs the boot class path)      |

Each recovered DEX carries its SHA-256 as stored and as put in the rebuilt APK, and whether its code is verbatim,
restored exactly, or approximated (the reason then makes the app's result partial).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.acquisition.firmware import deodex, oat, odex, quicken, vdex
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.models.firmware import RecoveredDex

MAX_OPTIMIZED = 1 << 30  # an optimized file larger than this is not read into memory
# Dalvik boot class path: device paths named by an odex ("/system/framework/core.jar") -> files of the extraction
# (their .odex, else the jar), and the names that could not be found.
BootResolver = Callable[[list[str]], tuple[list[Path], list[str]]]


@dataclass
class Recovery:
    format: str
    dexes: list[bytes] = field(default_factory=list)
    records: list[RecoveredDex] = field(default_factory=list)
    approximated: list[str] = field(default_factory=list)  # reasons, one per approximated DEX
    tools: list[str] = field(default_factory=list)  # outside programs used, with versions

    @property
    def kind(self) -> str:
        return {"vdex": "recovered_vdex", "oat": "recovered_oat"}.get(self.format.split()[0], "recovered_odex")


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _record(rec: Recovery, i: int, stored: bytes, result: quicken.Unquickened | None, location: str | None = None,
            crc: int | None = None, base: bytes | None = None) -> None:
    """base: the DEX the result was computed from when it is not the stored bytes (a converted CompactDex)."""
    final = result.data if result is not None else (base if base is not None else stored)
    name = "classes.dex" if i == 0 else f"classes{i + 1}.dex"
    detail = None
    if result is None or result.quickened == 0:
        state = "verbatim"
    elif result.exact:
        state = "restored"
        detail = f"{result.restored} quickened instruction(s) restored from the quickening info"
    else:
        state = "approximated"
        what = ", ".join(f"{n} {k}" for k, n in sorted(result.names.items()))
        detail = (f"{result.neutralised} of {result.quickened} quickened instruction(s) in "
                  f"{result.approximated_methods} method(s) could not be resolved and were neutralised ({what})")
        if result.damaged_methods:
            detail += f"; {result.damaged_methods} method(s) could not be walked"
        rec.approximated.append(f"{name}: {detail}")
    rec.dexes.append(final)
    rec.records.append(RecoveredDex(
        name=name, location=location, sha256=_sha(final), stored_sha256=_sha(stored), size=len(final), state=state,
        crc_matches=(zlib.crc32(final) == crc) if crc is not None else None, detail=detail,
    ))


def recover(path: Path, label: str, boot: BootResolver | None = None, api: int | None = None,
            session: deodex.Session | None = None) -> Recovery:
    """The DEX files recovered from the optimized file at path. Raises FirmwareError (never anything else).

    boot and api are for Dalvik odex files: with baksmali installed and the boot class path found, quickened code
    is deodexed (instruction-equivalent) instead of neutralised; in `session`'s JVM when one is given."""
    try:
        size = path.stat().st_size
        if size > MAX_OPTIMIZED:
            raise FirmwareError(label, f"optimized file of {size} bytes is over the {MAX_OPTIMIZED} byte limit")
        data = path.read_bytes()
    except OSError as e:
        raise FirmwareError(label, f"unreadable: {e.strerror or e}") from e
    try:
        rec = _recover(data, label)
        if rec.approximated and rec.format.startswith("dalvik"):
            _deodex(str(path), odex.odex_dependencies(data), label, rec, boot, api, odex.dex_from_odex(data, label)[0], 0,
                    session)
        elif rec.approximated and rec.format.startswith("oat"):
            # Android 5/6 keep no quickening tables: baksmali resolves against the boot image of the same ISA;
            # each DEX of the OAT is named by its location (baksmali's "file/entry" syntax)
            boot_oat = f"/system/framework/{path.parent.name}/boot.oat"
            contents = oat.dex_from_oat(data, label)
            for i, r in enumerate(rec.records):
                if r.state == "approximated":
                    target = f"{path}/{r.location}" if len(rec.records) > 1 else str(path)
                    _deodex(target, [boot_oat], label, rec, boot, api, contents.dexes[i].data, i, session)
        return rec
    except (struct.error, ValueError, IndexError, OverflowError) as e:
        raise FirmwareError(label, f"damaged optimized file or DEX inside it: {e}") from e


def _recover(data: bytes, label: str) -> Recovery:
    head = data[:8]
    if head[:4] == vdex.VDEX_MAGIC:
        version = vdex.vdex_version(data) or "?"
        rec = Recovery(format=f"vdex {version}")
        if version == "027":
            for i, d in enumerate(vdex.dex_from_vdex(data, label)):
                _record(rec, i, d, None)
            return rec
        shared = vdex.shared_data(data)
        for i, (stored, info, slots) in enumerate(vdex.dex_from_old_vdex(data, label)):
            dex, note = stored, None
            if stored[:4] == b"cdex":
                dex = _from_cdex(stored, shared, label)
                note = "CompactDex converted to standard DEX (no debug info)"
            result = quicken.unquicken(dex, quicken.ART_M, info, slots)
            if note and result.data != dex and not result.neutralised:
                # the converted DEX's header was computed over quickened code: make it that of the restored one
                fixed = bytearray(result.data)
                quicken.fix_checksums(fixed)
                result.data = bytes(fixed)
            _record(rec, i, stored, result, base=dex)
            if note:
                r = rec.records[-1]
                r.detail = f"{note}; {r.detail}" if r.detail else note
                if r.state == "verbatim":
                    r.state = "restored"
        return rec
    if head[:4] == oat.ELF_MAGIC or head[:4] == oat.OAT_MAGIC:
        contents = oat.dex_from_oat(data, label)
        rec = Recovery(format=f"oat {contents.version}")
        table = quicken.table_for_oat(int(contents.version))
        for i, od in enumerate(contents.dexes):
            if od.crc_matches:
                _record(rec, i, od.data, None, od.location, od.location_checksum)
                continue
            info = oat.quickening_info(data, contents, od)
            _record(rec, i, od.data, quicken.unquicken(od.data, table, info), od.location, od.location_checksum)
        if not rec.dexes:
            raise FirmwareError(label, f"OAT {contents.version} holds no DEX file")
        return rec
    if head[:4] == odex.DEY_MAGIC:
        stored, version = odex.dex_from_odex(data, label)
        rec = Recovery(format=f"dalvik odex {version}")
        _record(rec, 0, stored, quicken.unquicken(stored, quicken.DALVIK, None))
        return rec
    raise FirmwareError(label, "not a vdex, OAT or Dalvik odex file")


def _deodex(target: str, deps: list[str], label: str, rec: Recovery, boot: BootResolver | None, api: int | None,
            stored: bytes, index: int, session: deodex.Session | None = None) -> None:
    """Replace neutralised DEX `index` (of a Dalvik odex, or an OAT entry) by baksmali's deodexed one when the tools
    and the boot class path (device paths `deps`) are here; else add why not to the approximation reason."""
    r = rec.records[index]
    why: str | None = None
    if not deodex.available():
        why = "baksmali/smali (Debian libsmali-java) are not installed, so it was not deodexed"
    elif boot is None:
        why = "no boot class path to deodex against"
    else:
        files, missing = boot(deps)
        if missing:
            why = "boot class path not in the firmware: " + ", ".join(missing)
        else:
            try:
                dex = deodex.deodex(target, files, api or 19, label, session)
            except FirmwareError as e:
                why = e.reason
            else:
                ver = deodex.version()
                tool = f"baksmali/smali {ver} (libsmali-java)"
                if tool not in rec.tools:
                    rec.tools.append(tool)
                rec.dexes[index] = dex
                r.sha256, r.size, r.state, r.crc_matches = _sha(dex), len(dex), "restored", None
                r.stored_sha256 = _sha(stored)
                r.detail = (f"deodexed by baksmali {ver} against {', '.join(deps)} (API {api or 19}) and re-assembled "
                            "by smali: instruction-equivalent, not byte-identical")
                rec.approximated = [a for a in rec.approximated if not a.startswith(f"{r.name}:")]
                return
    rec.approximated = [f"{a} ({why})" if a.startswith(f"{r.name}:") else a for a in rec.approximated]
    if r.detail:
        r.detail += f" ({why})"


def _from_cdex(stored: bytes, shared: bytes | None, label: str) -> bytes:
    """A CompactDex of a vdex as standard DEX: its data section is the vdex's shared data, or its own."""
    from toolkit.acquisition.firmware.cdex import cdex_to_dex

    errors = []
    for data in ([shared] if shared else []) + [None]:
        try:
            return cdex_to_dex(stored, data, label)
        except FirmwareError as e:
            errors.append(e.reason)
    raise FirmwareError(label, "CompactDex could not be converted: " + "; ".join(errors))
