"""Recover the code of a stripped (odexed) app from its optimized file, whatever the Android generation.

| file                         | module     | what comes out                                                   |
|------------------------------|------------|------------------------------------------------------------------|
| vdex 027 (12+)               | vdex.py    | DEX verbatim                                                     |
| vdex 019/021 (9-11)          | vdex.py    | DEX verbatim (019 quickened code is neutralised); CompactDex: no |
| vdex 006/010 (8.x)           | vdex.py    | DEX unquickened with the vdex's quickening info                  |
| OAT ELF .odex (5-7)          | oat.py     | DEX; Android 7's quickening tables restore it exactly            |
| Dalvik .odex dey 035/036     | odex.py    | DEX; quickened code neutralised (needs the boot class path)      |

Each recovered DEX carries its SHA-256 as stored and as put in the rebuilt APK, and whether its code is verbatim,
restored exactly, or approximated (the reason then makes the app's result partial).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.acquisition.firmware import oat, odex, quicken, vdex
from toolkit.acquisition.firmware.errors import FirmwareError
from toolkit.models.firmware import RecoveredDex

MAX_OPTIMIZED = 1 << 30  # an optimized file larger than this is not read into memory


@dataclass
class Recovery:
    format: str
    dexes: list[bytes] = field(default_factory=list)
    records: list[RecoveredDex] = field(default_factory=list)
    approximated: list[str] = field(default_factory=list)  # reasons, one per approximated DEX

    @property
    def kind(self) -> str:
        return {"vdex": "recovered_vdex", "oat": "recovered_oat"}.get(self.format.split()[0], "recovered_odex")


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _record(rec: Recovery, i: int, stored: bytes, result: quicken.Unquickened | None, location: str | None = None,
            crc: int | None = None) -> None:
    final = result.data if result is not None else stored
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


def recover(path: Path, label: str) -> Recovery:
    """The DEX files recovered from the optimized file at path. Raises FirmwareError (never anything else)."""
    try:
        size = path.stat().st_size
        if size > MAX_OPTIMIZED:
            raise FirmwareError(label, f"optimized file of {size} bytes is over the {MAX_OPTIMIZED} byte limit")
        data = path.read_bytes()
    except OSError as e:
        raise FirmwareError(label, f"unreadable: {e.strerror or e}") from e
    try:
        return _recover(data, label)
    except (ValueError, IndexError, OverflowError) as e:  # struct.error is a ValueError
        raise FirmwareError(label, f"damaged optimized file: {e}") from e


def _recover(data: bytes, label: str) -> Recovery:
    head = data[:8]
    if head[:4] == vdex.VDEX_MAGIC:
        version = vdex.vdex_version(data) or "?"
        rec = Recovery(format=f"vdex {version}")
        if version == "027":
            for i, d in enumerate(vdex.dex_from_vdex(data, label)):
                _record(rec, i, d, None)
            return rec
        for i, (stored, info) in enumerate(vdex.dex_from_old_vdex(data, label)):
            if stored[:4] == b"cdex":
                raise FirmwareError(label, f"vdex {version} holds CompactDex (cdex), which phonehome does not "
                                           "convert to standard DEX yet: code not recoverable offline")
            _record(rec, i, stored, quicken.unquicken(stored, quicken.ART_M, info))
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
