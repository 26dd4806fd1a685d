"""Vendor firmware packages: Huawei UPDATE.APP, OPPO/realme .ozip, MediaTek scatter files.

- **Huawei UPDATE.APP** (layout as read by the public tools `split_updata.pl` and `huawei-update-extractor`):
  92 zero bytes, then per partition a 98-byte header — magic 0xA55AA55A, header length, a version word,
  hardware id[8], file sequence, data length, date[16], time[16], file type[16] (the partition name: SYSTEM,
  CUST, PRELOAD, VERSION ...), blank[16], header CRC16, block size, blank — then (header length - 98) bytes of
  CRC16 values, one per block of data, then the data, padded to 4 bytes.
- **OPPO/realme .ozip** (layout as read by the public tool `ozipdecrypt.py`): "OPPOENCRYPT!" magic, a 0x1050-byte
  header, then the inner zip with every 16 bytes out of each 0x4010 encrypted with AES-128-ECB (16 encrypted,
  0x4000 plain ...). The key is per device model; keys are data (ozip_keys.yml here), tried in turn until
  the first block decrypts to a zip local header.
- **MediaTek scatter** (`MTxxxx_Android_scatter.txt`, the layout SP Flash Tool reads, config V1.x): YAML-like blocks
  `- partition_index: SYS3 / partition_name: system / file_name: system.img / is_download: true ...` after a
  `- general: MTK_PLATFORM_CFG` block with the platform; the scatter names the partition behind each image file.
"""

from __future__ import annotations

import binascii
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from toolkit import yamlio
from toolkit.acquisition.firmware.dev import Dev
from toolkit.acquisition.firmware.errors import FirmwareError

UPDATE_APP_MAGIC = 0xA55AA55A
UPDATE_APP_HEADER = 98
UPDATE_APP_SKIP = 92
OZIP_MAGIC = b"OPPOENCRYPT!"
OZIP_HEADER = 0x1050
OZIP_PLAIN = 0x4000
KEYS_FILE = Path(__file__).resolve().parent / "ozip_keys.yml"


# -- Huawei UPDATE.APP ----------------------------------------------------------------------------------------------
def is_update_app(head: bytes) -> bool:
    for off in (UPDATE_APP_SKIP, 0):
        if len(head) >= off + 4 and struct.unpack_from("<I", head, off)[0] == UPDATE_APP_MAGIC:
            return off == 0 or head[:UPDATE_APP_SKIP].count(0) == UPDATE_APP_SKIP
    return False


_REV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc16_x25(data: bytes | memoryview) -> int:
    """CRC-16/X-25 (reflected 0x1021, init and final xor 0xFFFF), the block CRC the Huawei tools check.

    Computed at C speed as the bit-mirror of binascii's CRC-CCITT over the bit-mirrored bytes."""
    crc = binascii.crc_hqx(bytes(data).translate(_REV8), 0xFFFF)
    return int(f"{crc:016b}"[::-1], 2) ^ 0xFFFF


@dataclass
class UpdateItem:
    name: str  # file type, e.g. SYSTEM
    offset: int
    size: int
    hardware: str
    date: str
    crc_blocks: int
    crc_ok: bool | None = None  # None: not checked (over MAX_CRC_CHECK, or no CRC per block)


@dataclass
class UpdateApp:
    items: list[UpdateItem] = field(default_factory=list)


MAX_CRC_CHECK = 256 << 20  # CRC blocks are checked for partitions up to this size (reads the data once more)


def read_update_app(dev: Dev, name: str) -> UpdateApp:
    """The partitions of a Huawei UPDATE.APP. Raises FirmwareError when the first header is damaged; a damaged
    later header ends the walk with an error naming it."""
    out = UpdateApp()
    pos = UPDATE_APP_SKIP if struct.unpack_from("<I", dev.read(0, 4))[0] != UPDATE_APP_MAGIC else 0
    while pos + UPDATE_APP_HEADER <= dev.size:
        h = dev.read(pos, UPDATE_APP_HEADER)
        magic, hlen, _ver = struct.unpack_from("<III", h, 0)
        if magic != UPDATE_APP_MAGIC:
            if not h.strip(b"\0") and out.items:
                break  # trailing padding
            raise FirmwareError(name, f"UPDATE.APP: no partition header magic at {pos} (damaged or truncated)")
        hw = h[12:20].rstrip(b"\0").decode("ascii", "replace")
        (_seq, dlen) = struct.unpack_from("<II", h, 20)
        date = h[28:44].rstrip(b"\0").decode("ascii", "replace")
        ftype = h[60:76].rstrip(b"\0").decode("ascii", "replace").strip()
        (block,) = struct.unpack_from("<H", h, 94)
        if hlen < UPDATE_APP_HEADER or pos + hlen + dlen > dev.size:
            raise FirmwareError(name, f"UPDATE.APP partition {ftype or '?'} claims {dlen} bytes past the end")
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,16}", ftype):
            raise FirmwareError(name, f"UPDATE.APP partition at {pos} has an unusable name {ftype!r}")
        ncrc = (hlen - UPDATE_APP_HEADER) // 2
        item = UpdateItem(ftype, pos + hlen, dlen, hw, date, ncrc)
        if block and dlen <= MAX_CRC_CHECK and ncrc == (dlen + block - 1) // block:
            crcs = struct.unpack_from(f"<{ncrc}H", dev.read(pos + UPDATE_APP_HEADER, 2 * ncrc))
            item.crc_ok = all(crc16_x25(dev.read(item.offset + i * block, min(block, dlen - i * block))) == c
                              for i, c in enumerate(crcs))
        out.items.append(item)
        pos = (pos + hlen + dlen + 3) & ~3
    if not out.items:
        raise FirmwareError(name, "UPDATE.APP holds no partition")
    return out


def write_update_app(parts: list[tuple[str, bytes]], block: int = 4096, hardware: str = "HW7X") -> bytes:
    """An UPDATE.APP as Huawei's tools lay it out (tests and bench)."""
    out = bytearray(UPDATE_APP_SKIP)
    for seq, (ftype, data) in enumerate(parts):
        n = (len(data) + block - 1) // block
        crcs = b"".join(struct.pack("<H", crc16_x25(data[i * block : (i + 1) * block])) for i in range(n))
        hlen = UPDATE_APP_HEADER + len(crcs)
        h = struct.pack("<III", UPDATE_APP_MAGIC, hlen, 1) + hardware.encode().ljust(8, b"\0")
        h += struct.pack("<II", 0xFFFFFFF0 - seq, len(data)) + b"2019.01.01".ljust(16, b"\0")
        h += b"12.00.00".ljust(16, b"\0") + ftype.encode().ljust(16, b"\0") + bytes(16)
        h += struct.pack("<HHH", 0, block, 0)
        out += h + crcs + data
        while len(out) % 4:
            out.append(0)
    return bytes(out)


# -- OPPO / realme .ozip ------------------------------------------------------------------------------------------
@dataclass
class OzipKey:
    key: bytes
    models: str
    source: str  # where it was published: repository, file, version and commit, e.g. for the container detail
    verified: bool = False  # compared byte for byte with its published source


def _source_text(src: object) -> str:
    if not isinstance(src, dict):
        return str(src)
    where = f"{src.get('repository', '?')} {src.get('file', '?')}"
    commit = src.get("commit")
    return where + (f" @ {str(commit)[:12]}" if commit else f" ({src.get('version') or 'commit not known'})")


def ozip_keys(path: Path = KEYS_FILE) -> list[OzipKey]:
    """The AES keys phonehome knows (data file, each with the models and the public sources it comes from)."""
    try:
        doc = yamlio.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    out = []
    for k in doc.get("keys") or []:
        try:
            sources = k.get("sources") or [k.get("source", "")]
            out.append(OzipKey(bytes.fromhex(str(k["key"])), str(k.get("models", "")),
                               "; ".join(_source_text(s) for s in sources), k.get("verified") is True))
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
    return [k for k in out if len(k.key) == 16]


def _ecb(key: bytes, block: bytes, encrypt: bool = False) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    c = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - the format is ECB; we only read it
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(block) + op.finalize()


def ozip_key_for(dev: Dev, name: str, keys: list[OzipKey] | None = None) -> OzipKey:
    """The key that decrypts this .ozip (its first block becomes a zip local header). FirmwareError if none."""
    if dev.size < OZIP_HEADER + 16:
        raise FirmwareError(name, "OPPO .ozip is truncated before its data")
    first = dev.read(OZIP_HEADER, 16)
    for k in keys if keys is not None else ozip_keys():
        if _ecb(k.key, first)[:4] == b"PK\x03\x04":
            return k
    raise FirmwareError(name, "OPPO/realme .ozip (OPPOENCRYPT!) encrypted with a key phonehome does not know: "
                              "add it to ozip_keys.yml (toolkit/acquisition/firmware), or decrypt the file first")


def decrypt_ozip(dev: Dev, key: bytes, out_fd: int, budget_take: Callable[[int], None]) -> int:
    """Write the inner zip of an .ozip to out_fd (charging the budget first); returns its size."""
    pos, total = OZIP_HEADER, 0

    while pos < dev.size:
        enc = dev.read(pos, 16)
        chunk = enc if len(enc) < 16 else _ecb(key, enc)  # a short tail is stored as is
        pos += len(enc)
        plain = dev.read(pos, min(OZIP_PLAIN, dev.size - pos)) if pos < dev.size else b""
        pos += len(plain)
        data = chunk + plain
        budget_take(len(data))
        os.write(out_fd, data)
        total += len(data)
    return total


def write_ozip(inner_zip: bytes, key: bytes) -> bytes:
    """An .ozip of inner_zip (tests)."""
    out = bytearray(OZIP_MAGIC.ljust(OZIP_HEADER, b"\0"))
    pos = 0
    while pos < len(inner_zip):
        blk = inner_zip[pos : pos + 16]
        out += _ecb(key, blk, encrypt=True) if len(blk) == 16 else blk
        pos += len(blk)
        out += inner_zip[pos : pos + OZIP_PLAIN]
        pos += OZIP_PLAIN
    return bytes(out)


# -- MediaTek scatter --------------------------------------------------------------------------------------------
SCATTER_NAME = re.compile(r"(?i)MT\w*_Android_scatter(_\w+)?\.txt")


@dataclass
class ScatterPartition:
    name: str
    file_name: str | None
    is_download: bool
    type: str | None


@dataclass
class Scatter:
    platform: str | None
    version: str | None
    partitions: list[ScatterPartition] = field(default_factory=list)

    def partition_of(self, file_name: str) -> str | None:
        for p in self.partitions:
            if p.file_name and p.file_name != "NONE" and p.file_name == file_name:
                return p.name
        return None


# Old (V1.0) scatter names for the Android partitions
_OLD_NAMES = {"ANDROID": "system", "USRDATA": "userdata", "CACHE": "cache", "CUSTOM": "custom", "BOOTIMG": "boot",
              "RECOVERY": "recovery", "SEC_RO": "sec_ro"}


def parse_scatter(text: str, name: str) -> Scatter:
    """A MediaTek scatter file (config V1.x). Raises FirmwareError if it is not one."""
    try:
        doc = yamlio.safe_load(text)
    except yaml.YAMLError as e:
        raise FirmwareError(name, f"MediaTek scatter file does not parse: {str(e).splitlines()[0]}") from e
    if not isinstance(doc, list):
        raise FirmwareError(name, "MediaTek scatter file has no partition list")
    sc = Scatter(None, None)
    for block in doc:
        if not isinstance(block, dict):
            continue
        if "general" in block:
            for info in block.get("info") or []:
                if isinstance(info, dict):
                    sc.platform = str(info.get("platform", sc.platform or "")) or None
                    sc.version = str(info.get("config_version", sc.version or "")) or None
            continue
        pname = block.get("partition_name")
        if pname is None:
            continue
        pname = str(pname)
        fname = block.get("file_name")
        sc.partitions.append(ScatterPartition(
            name=_OLD_NAMES.get(pname, pname.lower()) if pname.isupper() else pname,
            file_name=str(fname) if fname not in (None, "NONE") else None,
            is_download=bool(block.get("is_download", True)),
            type=str(block.get("type")) if block.get("type") is not None else None,
        ))
    if not sc.partitions:
        raise FirmwareError(name, "MediaTek scatter file names no partition")
    return sc
