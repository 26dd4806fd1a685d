"""Unpack a firmware file to every file system inside it, by magic numbers, to any depth.

The walk: detect the format of a byte source, open it (zip, tar, compressed stream, sparse, super,
payload.bin, transfer list, ext4, EROFS ...), and recurse into what it holds. Archive members that are
stored uncompressed (payload.bin in an OTA zip, images in a tar) are read in place. File systems are
extracted into the output directory; images, archives and APEX files found inside them are unpacked
next to them into `<name>.extracted/`. Every failure is recorded with the chain of containers that led
to it, and the walk goes on.

Output layout: the firmware's content goes under `<out>/files/`; phonehome's own files (firmware.json, the
temporary space, recovered code) sit beside it in `<out>/`, so no name inside an image can take or hide them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from toolkit import __version__
from toolkit.acquisition.files import make_dirs, remove_tree, sha256_file, walk
from toolkit.acquisition.firmware import erofs, ext4, lp, payload, sparse, streams, transfer, vendor
from toolkit.acquisition.firmware.dev import Dev, FileDev, MappedDev, Piece
from toolkit.acquisition.firmware.errors import FirmwareError, OutputLimitError
from toolkit.acquisition.firmware.limits import Budget, Limits
from toolkit.acquisition.firmware.safety import inside, safe_component, safe_relpath
from toolkit.models.firmware import (
    ContainerInfo,
    FirmwareInfo,
    FirmwareIssue,
    InputFile,
    PartitionInfo,
    SymlinkInfo,
)

log = logging.getLogger(__name__)

HEAD = 8192
CONTAINERS = {"sparse", "payload", "zip", "apex", "capex", "tar", "super", "ext4", "erofs", "updateapp", "ozip"} | set(
    streams.COMPRESSED)
IMAGE_SUFFIXES = (".img", ".ext4", ".erofs", ".raw", ".bin", ".lz4", ".gz", ".xz", ".zst", ".br", ".new.dat")
TMP_DIR = ".phonehome-tmp"
NOT_FIRMWARE = "not a firmware format phonehome knows (no known magic number)"
CONTENT_DIR = "files"  # everything taken out of the firmware lives under <out>/files/
# What an APK scan needs from a file system besides APKs and containers: build properties, and the files that
# stripped code is recovered from.
NEEDED_NAMES = {"build.prop", "default.prop", "prop.default"}
NEEDED_SUFFIXES = (".apk", ".apex", ".capex", ".jar", ".vdex", ".odex", ".oat", ".art", ".dex", ".prop")
# What a damaged input can raise from the standard library while being read: recorded, never fatal.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, EOFError, struct.error, zipfile.BadZipFile, tarfile.TarError, zlib.error, *streams.DECOMPRESS_ERRORS,
)


def detect(dev: Dev) -> str:
    """The format of a byte source, by magic number only."""
    head = dev.read(0, min(dev.size, HEAD))
    kind = _head_kind(head, dev.size)
    if kind:
        return kind
    if head[:4] == b"vdex":
        return "vdex"
    if head[:4] == b"dex\n":
        return "dex"
    return "data"


def zip_kind(dev: Dev) -> str:
    """apk, apex, capex or zip, from the archive's member names (the magic only says 'zip')."""
    try:
        with zipfile.ZipFile(dev.stream()) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise FirmwareError(dev.name, f"damaged zip archive: {e}") from e
    if "apex_payload.img" in names:
        return "apex"
    if "original_apex" in names:
        return "capex"
    if "AndroidManifest.xml" in names:
        return "apk"
    return "zip"


def sub_dev(dev: Dev, off: int, size: int, name: str) -> Dev:
    if isinstance(dev, FileDev):
        return dev.sub(off, size, name)
    return MappedDev(name, size, [Piece(0, size, dev, off)])


def partition_name(name: str) -> str:
    """'system.img' -> 'system', 'vendor.new.dat.br' -> 'vendor', 'system_a' -> 'system_a'."""
    n = name
    changed = True
    while changed:
        changed = False
        for suf in (".extracted", *IMAGE_SUFFIXES, ".dat"):
            if n.endswith(suf) and len(n) > len(suf):
                n = n[: -len(suf)]
                changed = True
    return n


@dataclass
class Root:
    """A directory of the output that mirrors one container's contents."""

    chain: list[str]
    kind: str  # ext4, erofs (file systems) or zip, tar, dir (archives)
    partition: str | None
    mount: str | None  # where the file system sits on the phone, e.g. '/system', '/apex/com.x'


@dataclass
class Member:
    """An archive member or a file on disk, as the walk sees it."""

    rel: PurePosixPath
    size: int
    open_dev: Callable[[], Dev | None]  # random access when cheap, else None
    open_stream: Callable[[], BinaryIO]
    compressed_size: int | None = None
    on_disk: Path | None = None


def needed_for_scan(name: str, head: bytes, size: int) -> bool:
    """Does an APK scan need this plain file? APKs, containers, build properties and code files only."""
    return name in NEEDED_NAMES or name.endswith(NEEDED_SUFFIXES) or _maybe_container(head, size) \
        or head[:4] in (b"dex\n", b"vdex") or head[:4] == b"\x7fELF" and name.endswith((".odex", ".oat"))


class Extractor:
    """One unpacking run: output directory, limits, and what was found.

    only_needed: write only what an APK scan reads (APKs, images and archives, build.prop, vdex/odex), not
    every file of every partition; the files left out are counted in FirmwareInfo.skipped_files.
    """

    def __init__(self, out: Path, limits: Limits | None = None, only_needed: bool = False) -> None:
        self.base = out
        self.out = out / CONTENT_DIR
        self.limits = limits or Limits()
        self.budget = Budget(self.limits)
        self.tmp = out / TMP_DIR
        self.only_needed = only_needed
        self.skipped = 0
        self.made: set[Path] = set()  # folders phonehome named (x.extracted, copies): not content to scan again
        self.roots: dict[Path, Root] = {}
        self.containers: list[ContainerInfo] = []
        self.partitions: list[PartitionInfo] = []
        self.symlinks: list[SymlinkInfo] = []
        self.issues: list[FirmwareIssue] = []
        self._tmp_counter = 0
        self._erofs_version: str | None = None

    # -- helpers ------------------------------------------------------------------------------
    @property
    def want(self) -> Callable[[str, bytes, int], bool] | None:
        return needed_for_scan if self.only_needed else None

    def unneeded(self, name: str, head: bytes, size: int) -> bool:
        """A plain file the scan does not read: counted, not written."""
        if self.only_needed and not needed_for_scan(name, head, size):
            self.skipped += 1
            return True
        return False

    @contextmanager
    def recorded(self, chain: list[str]) -> Iterator[None]:
        """A member that cannot be read becomes an issue on its chain and the walk goes on; only the output
        limit stops the whole run."""
        try:
            yield
        except OutputLimitError:
            raise
        except FirmwareError as e:
            self.issue(chain, e.reason)
        except READ_ERRORS as e:
            self.issue(chain, f"unreadable: {e}")

    def issue(self, chain: list[str], reason: str) -> None:
        # Recorded in FirmwareInfo.issues, which the caller reports: logged at info so it is not said twice.
        log.info("%s: %s", " > ".join(chain), reason)
        self.issues.append(FirmwareIssue(chain=list(chain), reason=reason))

    def tmp_path(self, hint: str) -> Path:
        make_dirs(self.tmp)
        self._tmp_counter += 1
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", hint)[-80:]
        return self.tmp / f"{self._tmp_counter:05d}-{safe}"

    def drop_tmp(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
            self.budget.give_back(size)
        except OSError:
            pass

    def fresh_dir(self, parent: Path, preferred: str) -> Path:
        cand = parent / preferred
        i = 2
        while cand.exists() or cand.is_symlink():
            cand = parent / f"{preferred}_{i}"
            i += 1
        self.made.add(cand)
        return cand

    def write_leaf(self, dev: Dev, dest: Path, label: str) -> None:
        """Copy a byte source into the output as a plain file."""
        make_dirs(dest.parent)
        self.budget.check_file_size(dev.size, label)
        self.budget.take(dev.size, label)
        self.budget.count_entry(label)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            os.ftruncate(fd, dev.size)
            dev.copy_to(fd, 0, dev.size, 0)
        finally:
            os.close(fd)

    # -- the walk -----------------------------------------------------------------------------
    def run(self, path: Path | Sequence[Path]) -> FirmwareInfo:
        """Unpack path (a file, a folder of firmware files, or several files that are one firmware) into self.out."""
        make_dirs(self.out)
        paths = [path] if isinstance(path, Path) else list(path)
        several = len(paths) > 1
        name = paths[0].name
        info = FirmwareInfo(file=", ".join(str(p) for p in paths), sha256="", output_dir=str(self.base),
                            tool=f"phonehome {__version__}", extracted_at=datetime.now(UTC))
        try:
            if several:
                info.kind = "files"
                self.roots[self.out] = Root([], "dir", None, None)
                members = self.named_members(paths, info)
                self.budget.set_input_size(sum(m.size for m in members))
                self.process_members(members, self.out, [], 1, named=True)
            elif paths[0].is_dir():
                info.kind = "dir"
                self.roots[self.out] = Root([name], "dir", None, None)
                members = self.dir_members(paths[0])
                for m in members:
                    with self.recorded([name, str(m.rel)]):
                        info.inputs.append(self.hashed(paths[0] / m.rel, str(m.rel)))
                self.budget.set_input_size(sum(m.size for m in members))
                self.process_members(members, self.out, [name], 1)
            else:
                info.inputs = [self.hashed(paths[0], str(paths[0]))]
                info.sha256, info.size = info.inputs[0].sha256, info.inputs[0].size
                self.budget.set_input_size(info.size)
                dev = FileDev(paths[0])
                try:
                    info.kind = detect(dev)
                    if info.size == 0:
                        raise FirmwareError(name, "empty file (0 bytes)")
                    if info.kind in ("data", "dex", "vdex"):
                        raise FirmwareError(name, NOT_FIRMWARE)
                    self.process(dev, name, [name], self.out, 0, on_disk=None, top=True)
                finally:
                    dev.close()
        except OutputLimitError as e:
            # Say which limit stopped the run and where: everything after that point was not unpacked.
            self.issue([name], f"unpacking stopped at {e.file}: {e.reason}; what follows was not unpacked")
        except FirmwareError as e:
            self.issue([name], e.reason)
        finally:
            remove_tree(self.tmp)  # on every way out, errors included
        if several or info.kind == "dir":
            info.size = sum(i.size for i in info.inputs)
            info.sha256 = hashlib.sha256("".join(f"{i.sha256}  {i.path}\n" for i in info.inputs).encode()).hexdigest()
        info.skipped_files = self.skipped
        info.containers = self.containers
        info.partition_details = self.partitions
        info.partitions = [p.name for p in self.partitions]
        info.symlinks = self.symlinks
        info.issues = self.issues
        info.bytes_written = self.budget.used
        if self._erofs_version is not None:
            info.external_tools.append(f"fsck.erofs {self._erofs_version or 'unknown'} (erofs-utils)")
        info.peak_bytes = self.budget.peak
        return info

    @staticmethod
    def hashed(path: Path, shown: str) -> InputFile:
        return InputFile(path=shown, sha256=sha256_file(path), size=path.stat().st_size)

    def named_members(self, paths: list[Path], info: FirmwareInfo) -> list[Member]:
        """Several files named as one firmware (Samsung's five tar.md5, system.img + vendor.img ...): each is
        hashed and becomes a member as if they sat in one folder, so name-defined groups (block OTA, sparse
        chunks, scatter) still pair up. A file that cannot be used is one issue naming it; the others go on."""
        members: list[Member] = []
        taken: dict[str, Path] = {}
        for p in paths:
            key = p.name
            if key in taken:
                same = taken[key].resolve() == p.resolve()
                self.issue([str(p)], "given twice: read once" if same else
                           f"another input file has the same name ({taken[key]}): only the first was read; "
                           "rename one of them")
                continue
            problem = ""
            if p.is_symlink() and not p.exists():
                problem = "broken symbolic link"
            elif not p.exists():
                problem = "no such file or directory"
            elif p.is_dir():
                problem = "a folder among several files: give the folder alone, or the files in it"
            elif not p.is_file():
                problem = "not a regular file"
            if problem:
                self.issue([str(p)], problem)
                continue
            try:
                info.inputs.append(self.hashed(p, str(p)))
            except OSError as e:
                self.issue([str(p)], f"cannot be read: {e.strerror or e}")
                continue
            taken[key] = p
            members.append(Member(PurePosixPath(key), info.inputs[-1].size, lambda p=p: FileDev(p),  # type: ignore[misc]
                                  lambda p=p: open(p, "rb"), None))  # type: ignore[misc]  # noqa: SIM115
        return members

    def process(
        self,
        dev: Dev,
        name: str,
        chain: list[str],
        dest: Path,
        depth: int,
        on_disk: Path | None,
        owned_tmp: Path | None = None,
        partition: str | None = None,
        top: bool = False,
        in_fs: bool = False,
    ) -> None:
        """Handle one byte source named name; its contents go under dest.

        on_disk: the source already is a file of the output (found in a file system): keep it, unpack
        next to it. owned_tmp: the source is our temporary file (moved into place if it is a leaf).
        """
        if depth > self.limits.max_depth:
            raise FirmwareError(name, f"nested more than {self.limits.max_depth} levels deep: refusing to go on")
        kind = detect(dev)
        if kind == "zip":
            kind = zip_kind(dev)
            if kind == "zip" and in_fs:
                kind = "data"  # jars and other zips inside a file system are kept as files, not unpacked
        if kind in ("apk", "data", "vdex", "dex") or (top and kind not in CONTAINERS and kind != "apk"):
            if on_disk is None and (top or not self.unneeded(name, dev.read(0, min(dev.size, HEAD)), dev.size)):
                target = dest / name
                if owned_tmp is not None:
                    make_dirs(target.parent)
                    os.replace(owned_tmp, target)
                else:
                    self.write_leaf(dev, target, " > ".join(chain))
            return
        # A container: where do its contents go?
        if top:
            outdir = dest
        elif on_disk is not None or partition is None:
            outdir = self.fresh_dir(dest, f"{name}.extracted")
        else:
            outdir = self.fresh_dir(dest, partition_name(name))
        record = ContainerInfo(chain=list(chain), kind=kind, size=dev.size)
        log.info("unpacking %s (%s, %d bytes)", " > ".join(chain), kind, dev.size)
        self.containers.append(record)
        if kind == "sparse":
            sdev = sparse.open_sparse([dev], name)
            record.detail = f"expands to {sdev.size} bytes"
            inner = detect(sdev)
            if inner in ("ext4", "erofs", "super", "zip", "tar", "payload"):
                self.process(sdev, name, chain, dest, depth + 1, on_disk, None, partition, top, in_fs)
            elif on_disk is None:
                if owned_tmp is not None:
                    os.replace(owned_tmp, dest / name)
                else:
                    self.write_leaf(dev, dest / name, " > ".join(chain))
            return
        if kind in ("ext4", "erofs"):
            self.extract_fs(kind, dev, name, chain, outdir, depth, partition or partition_name(name), record)
            return
        if kind == "super":
            self.process_super(dev, chain, outdir, depth, record)
            return
        if kind == "payload":
            self.process_payload(dev, chain, outdir, depth, record)
            return
        if kind in ("zip", "apex", "capex"):
            self.process_zip(dev, name, chain, outdir, depth, kind, in_fs)
            return
        if kind == "tar":
            self.process_tar(dev, name, chain, outdir, depth, record)
            return
        if kind in streams.COMPRESSED:
            self.process_compressed(dev, kind, name, chain, outdir if on_disk is not None else dest, depth, on_disk)
            return
        if kind in ("updateapp", "ozip"):  # vendor packages (vendor.py)
            self.process_vendor(kind, dev, name, chain, outdir, depth, record)
            return
        raise FirmwareError(name, f"no reader for format {kind}")  # pragma: no cover

    def process_vendor(self, kind: str, dev: Dev, name: str, chain: list[str], outdir: Path, depth: int,
                       record: ContainerInfo) -> None:
        """Huawei UPDATE.APP: each partition read in place; OPPO .ozip: decrypted to a temporary zip."""
        outdir.mkdir(parents=True, exist_ok=True)
        if kind == "updateapp":
            app = vendor.read_update_app(dev, name)
            crc = [i for i in app.items if i.crc_ok is not None]
            bad = [i.name for i in crc if not i.crc_ok]
            record.detail = (f"{len(app.items)} partitions; CRC16 blocks checked for {len(crc)}"
                             + (f", mismatch in {', '.join(bad)}" if bad else ", all match"))
            for item in app.items:
                pname = item.name.lower()
                pchain = chain + [f"{item.name}.img"]
                if item.crc_ok is False:
                    self.issue(pchain, "CRC16 blocks do not match the data (damaged, or a CRC variant phonehome "
                                       "does not know): extracted anyway")
                with self.recorded(pchain):
                    self.process(sub_dev(dev, item.offset, item.size, f"{item.name}.img"), f"{item.name}.img",
                                 pchain, outdir, depth + 1, on_disk=None, partition=pname)
            return
        key = vendor.ozip_key_for(dev, name)
        record.detail = (f"AES-128-ECB, key for {key.models or 'unnamed models'} ({key.source}"
                         f"{'' if key.verified else '; key not verified against its source'})")
        tmp = self.tmp_path(name + ".zip")
        label = " > ".join(chain)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            vendor.decrypt_ozip(dev, key.key, fd, lambda n: self.budget.take(n, label))
        finally:
            os.close(fd)
        zdev = FileDev(tmp, name=name)
        try:
            self.process(zdev, name, chain + ["(decrypted zip)"], outdir, depth + 1, on_disk=None, owned_tmp=tmp)
        finally:
            zdev.close()
            if tmp.exists():
                self.drop_tmp(tmp)

    # -- file systems -------------------------------------------------------------------------
    def extract_fs(
        self, kind: str, dev: Dev, name: str, chain: list[str], outdir: Path, depth: int, part: str,
        record: ContainerInfo,
    ) -> None:
        label = " > ".join(chain)
        if kind == "ext4":
            res = ext4.extract_ext4(dev, outdir, self.budget, label, want=self.want)
        else:
            rng = dev.file_range()
            tmp: Path | None = None
            try:
                if rng is not None and rng[1] == 0 and os.path.getsize(rng[0]) == dev.size:
                    image = rng[0]
                else:  # fsck.erofs reads whole files only: copy the image out first
                    tmp = self.tmp_path(name)
                    self.write_leaf(dev, tmp, label)
                    image = str(tmp)
                if self._erofs_version is None:
                    self._erofs_version = erofs.erofs_utils_version() or ""
                res = erofs.extract_erofs(dev, image, outdir, self.tmp, want=self.want)
                self.budget.take(res.bytes, label)
            finally:
                if tmp is not None:
                    self.drop_tmp(tmp)
        record.detail = res.detail
        self.skipped += res.skipped
        fs_chain = list(chain)
        mount = self.mount_point(part, outdir)
        self.roots[outdir] = Root(fs_chain, kind, part, mount)
        self.partitions.append(
            PartitionInfo(
                name=part, chain=fs_chain, fs=kind,
                output=str(outdir.relative_to(self.base)), files=res.files, bytes=res.bytes,
                symlinks=len(res.symlinks), special_files=res.special, detail=res.detail,
            )
        )
        for path, target in res.symlinks:
            self.symlinks.append(SymlinkInfo(chain=fs_chain + [f"{kind}:{path}"], target=target))
        for path, reason in res.issues:
            self.issue(fs_chain + [f"{kind}:{path}"], reason)
        self.scan_tree(outdir, fs_chain, kind, depth)

    def mount_point(self, part: str, outdir: Path) -> str:
        """Where this file system is mounted on the phone ('' for a system-as-root image)."""
        if (outdir / "system" / "build.prop").is_file():
            return ""  # system-as-root: the image is '/', apps live under /system
        return "/" + re.sub(r"_[ab]$", "", part)

    def scan_tree(self, root: Path, chain: list[str], kind: str, depth: int) -> None:
        """Unpack images, APEX and archives found inside an extracted file system, next to them."""
        def unlisted(e: OSError) -> None:
            self.issue(chain + [f"{kind}:/{Path(e.filename or root).relative_to(root)}"],
                       f"cannot list the extracted folder: {e.strerror or e}")

        for dirpath, dirnames, filenames in walk(root, onerror=unlisted):
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) not in self.made]
            for fn in filenames:
                p = Path(dirpath) / fn
                if p.is_symlink() or not p.is_file():
                    continue
                try:
                    size = p.stat().st_size
                    if size < 4:
                        continue
                    with open(p, "rb") as f:
                        head = f.read(HEAD)
                except OSError as e:  # said, so an image inside that could not be opened is not missed silently
                    self.issue(chain + [f"{kind}:/{p.relative_to(root)}"], f"cannot read the extracted file: {e}")
                    continue
                if not _maybe_container(head, size):
                    continue
                rel = "/" + str(p.relative_to(root))
                sub_chain = chain + [f"{kind}:{rel}"]
                dev = FileDev(p, name=fn)
                try:
                    self.process(dev, fn, sub_chain, p.parent, depth + 1, on_disk=p, in_fs=True)
                except OutputLimitError:
                    raise
                except FirmwareError as e:
                    self.issue(sub_chain, e.reason)
                except READ_ERRORS as e:
                    self.issue(sub_chain, f"unreadable: {e}")
                finally:
                    dev.close()

    # -- partitions containers ----------------------------------------------------------------
    def process_super(self, dev: Dev, chain: list[str], outdir: Path, depth: int, record: ContainerInfo) -> None:
        meta = lp.read_metadata(dev, 0)
        record.detail = f"liblp metadata {meta.major}.{meta.minor}, {meta.slot_count} slot(s), " + (
            f"{len(meta.partitions)} partitions"
        )
        make_dirs(outdir)
        for part in meta.partitions:
            pchain = chain + [part.name]
            if safe_component(part.name) is None:
                self.issue(pchain, "unsafe partition name: refused")
                continue
            if part.error is not None:
                self.issue(pchain, f"partition {part.error}")
                continue
            if part.dev is None:
                self.containers.append(ContainerInfo(chain=pchain, kind="empty", size=0, detail="no extents (unused slot)"))
                continue
            with self.recorded(pchain):
                self.process(part.dev, part.name, pchain, outdir, depth + 1, on_disk=None, partition=part.name)

    def process_payload(self, dev: Dev, chain: list[str], outdir: Path, depth: int, record: ContainerInfo) -> None:
        pl = payload.open_payload(dev)
        ops = sorted({payload.OP_NAMES[o.type] for p in pl.partitions for o in p.ops})
        record.detail = f"payload v{pl.version}, {len(pl.partitions)} partitions, operations: {', '.join(ops)}"
        make_dirs(outdir)
        for pu in pl.partitions:
            pchain = chain + [pu.name]
            if safe_component(pu.name) is None:
                self.issue(pchain, "unsafe partition name: refused")
                continue
            tmp = self.tmp_path(pu.name + ".img")
            try:
                payload.extract_partition(pl, pu, tmp, self.budget)
                self.containers.append(
                    ContainerInfo(chain=pchain, kind="partition", size=pu.size, detail="data and partition hashes verified")
                )
                pdev = FileDev(tmp, name=pu.name)
                try:
                    self.process(pdev, pu.name, pchain, outdir, depth + 1, on_disk=None, owned_tmp=tmp, partition=pu.name)
                finally:
                    pdev.close()
            except OutputLimitError:
                raise
            except FirmwareError as e:
                self.issue(pchain, e.reason)
            except READ_ERRORS as e:
                self.issue(pchain, f"unreadable: {e}")
            finally:
                if tmp.exists():
                    self.drop_tmp(tmp)

    # -- archives -----------------------------------------------------------------------------
    def process_zip(self, dev: Dev, name: str, chain: list[str], outdir: Path, depth: int, kind: str, in_fs: bool) -> None:
        zf = zipfile.ZipFile(dev.stream())
        members: list[Member] = []
        for info in zf.infolist():
            if info.is_dir():
                continue
            if kind == "apex" and info.filename != "apex_payload.img":
                continue  # the APEX itself is kept as a file; only its payload is unpacked
            if kind == "capex" and info.filename != "original_apex":
                continue
            try:
                rel = safe_relpath(info.filename, name)
            except OutputLimitError:
                raise
            except FirmwareError as e:
                self.issue(chain + [info.filename], e.reason)
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                target = zf.read(info)[:4096].decode("utf-8", "replace")
                self.symlinks.append(SymlinkInfo(chain=chain + [str(rel)], target=target))
                continue
            if info.flag_bits & 0x1:
                self.issue(chain + [str(rel)], "member is encrypted: not readable")
                continue
            members.append(self._zip_member(zf, dev, info, rel, name))
        if kind == "capex":
            for m in members:
                m.rel = PurePosixPath(name.removesuffix(".capex") + ".apex")
        if kind != "apex":
            self.roots[outdir] = Root(chain, "zip", None, None)
        self.process_members(members, outdir, chain, depth + 1, in_fs=in_fs and kind == "zip",
                             partition=apex_partition(name) if kind == "apex" else None)

    def _zip_member(self, zf: zipfile.ZipFile, dev: Dev, info: zipfile.ZipInfo, rel: PurePosixPath, name: str) -> Member:
        def open_dev() -> Dev | None:
            if info.compress_type != zipfile.ZIP_STORED:
                return None
            lh = dev.read(info.header_offset, 30)
            if lh[:4] != b"PK\x03\x04":
                raise FirmwareError(name, f"member '{info.filename}' has a damaged local header")
            nlen, xlen = struct.unpack_from("<HH", lh, 26)
            start = info.header_offset + 30 + nlen + xlen
            if start + info.file_size > dev.size:
                raise FirmwareError(name, f"member '{info.filename}' claims more bytes than the archive holds")
            return sub_dev(dev, start, info.file_size, str(rel.name))

        def open_stream() -> BinaryIO:
            return zf.open(info)  # type: ignore[return-value]

        return Member(rel, info.file_size, open_dev, open_stream, info.compress_size)

    def dir_members(self, folder: Path) -> list[Member]:
        out = []
        def unlisted(e: OSError) -> None:  # os.walk skips a folder it cannot list: say which
            where = Path(e.filename or folder)
            rel = where.relative_to(folder).as_posix() if where.is_relative_to(folder) else str(where)
            self.issue([folder.name, rel], f"folder not readable: {e.strerror or e}")

        for dirpath, _dirs, files in walk(folder, onerror=unlisted):
            for fn in files:
                p = Path(dirpath) / fn
                rel = PurePosixPath(*p.relative_to(folder).parts)
                if p.is_symlink():
                    self.symlinks.append(SymlinkInfo(chain=[folder.name, str(rel)], target=os.readlink(p)))
                    continue
                if not p.is_file():
                    self.issue([folder.name, str(rel)], "not a regular file: skipped")
                    continue
                out.append(
                    Member(rel, p.stat().st_size, lambda p=p: FileDev(p),  # type: ignore[misc]
                           lambda p=p: open(p, "rb"), None)  # type: ignore[misc]  # noqa: SIM115
                )
        return out

    def process_members(
        self, members: list[Member], outdir: Path, chain: list[str], depth: int, in_fs: bool = False,
        partition: str | None = None, named: bool = False,
    ) -> None:
        """Unpack archive members (or folder files): grouped formats first, then one by one.

        named: the members are files the user named as the firmware, so one of no known format is an issue (in a
        folder or an archive such a file is just content)."""
        make_dirs(outdir)
        by_name: dict[str, Member] = {}
        copies: list[tuple[str, Member]] = []  # later members with a name already taken
        for m in members:
            if str(m.rel) in by_name:
                copies.append((str(m.rel), m))
            else:
                by_name[str(m.rel)] = m
        used: set[str] = set()
        # Block OTA: X.transfer.list + X.new.dat[.br][.N]
        for key, m in by_name.items():
            if key.endswith(".transfer.list"):
                base = key[: -len(".transfer.list")]
                parts = sorted(
                    (k for k in by_name if re.fullmatch(re.escape(base) + r"\.new\.dat(\.br)?(\.\d+)?", k)),
                    key=lambda k: (int(k.rsplit(".", 1)[1]) if k.rsplit(".", 1)[1].isdigit() else -1),
                )
                if not parts:
                    self.issue(chain + [key], "transfer list without its new.dat data")
                    continue
                used.add(key)
                used.update(parts)
                self.process_transfer(m, [by_name[k] for k in parts], base, chain, outdir, depth)
        # Split sparse sets: X_sparsechunk.N
        groups: dict[str, list[str]] = {}
        for key in by_name:
            mm = re.fullmatch(r"(.+)_sparsechunk\.(\d+)", key)
            if mm and key not in used:
                groups.setdefault(mm.group(1), []).append(key)
        for base, keys in groups.items():
            keys.sort(key=lambda k: int(k.rsplit(".", 1)[1]))
            used.update(keys)
            self.process_sparse_set(base, [by_name[k] for k in keys], chain, outdir, depth)
        scatter = self.scatter_partitions(by_name, chain) if not in_fs else {}
        for key, m in by_name.items():
            if key in used:
                continue
            mchain = chain + [key]
            with self.recorded(mchain):
                if named:
                    _check_named(m, key)
                self.process_member(m, outdir, mchain, depth, in_fs, scatter.get(key, partition))
        self.process_copies(copies, outdir, chain, depth, in_fs, partition)

    def process_copies(
        self, copies: list[tuple[str, Member]], outdir: Path, chain: list[str], depth: int, in_fs: bool,
        partition: str | None,
    ) -> None:
        """Members whose name an earlier member already took. Two entries with one name is a tampering technique
        (tools disagree on which copy counts, as in Android's 2013 "Master Key" bug): every copy is kept, in a
        folder of its own beside the first, with its own provenance, and the duplicate is reported."""
        total = {key: 1 + sum(1 for k, _m in copies if k == key) for key, _m in copies}
        index: dict[str, int] = {}
        for key, m in copies:
            index[key] = index.get(key, 1) + 1
            mchain = chain + [f"{key} (copy {index[key]} of {total[key]})"]
            with self.recorded(mchain):
                parent = inside(outdir, m.rel.parent) if m.rel.parent.parts else outdir
                holder = self.fresh_dir(parent, f"{m.rel.name}.copy{index[key]}")
                self.roots[holder] = Root(mchain, "copy", partition, None)
                self.issue(chain + [key], f"duplicate member name: the archive holds {total[key]} members named so "
                                          "(a tampering technique: tools disagree on which copy counts); every copy "
                                          f"is kept and analysed, copy {index[key]} in "
                                          f"{holder.relative_to(self.base).as_posix()}/")
                alone = Member(PurePosixPath(m.rel.name), m.size, m.open_dev, m.open_stream, m.compressed_size,
                               m.on_disk)
                self.process_member(alone, holder, mchain, depth, in_fs, partition)

    def scatter_partitions(self, by_name: dict[str, Member], chain: list[str]) -> dict[str, str]:
        """MediaTek: member name -> partition name, from a *_Android_scatter.txt beside the images."""
        out: dict[str, str] = {}
        for key, m in by_name.items():
            if not vendor.SCATTER_NAME.fullmatch(PurePosixPath(key).name) or m.size > 4 << 20:
                continue
            with self.recorded(chain + [key]):
                with m.open_stream() as s:
                    sc = vendor.parse_scatter(s.read(4 << 20).decode("utf-8", "replace"), key)
                folder = str(PurePosixPath(key).parent)
                listed = [p for p in sc.partitions if p.file_name and p.is_download]
                for p in listed:
                    img = p.file_name if folder == "." else f"{folder}/{p.file_name}"
                    if img in by_name:
                        out[img] = p.name
                missing = [p.file_name for p in listed if (p.file_name if folder == "." else f"{folder}/{p.file_name}")
                           not in by_name]
                self.containers.append(ContainerInfo(
                    chain=chain + [key], kind="mtk_scatter", size=m.size,
                    detail=f"platform {sc.platform or '?'}, config {sc.version or '?'}, {len(sc.partitions)} partitions, "
                           f"{len(listed) - len(missing)} image(s) present" + (
                               f"; not in the package: {', '.join(str(x) for x in missing)}" if missing else "")))
        return out

    def process_member(
        self, m: Member, outdir: Path, chain: list[str], depth: int, in_fs: bool, partition: str | None
    ) -> None:
        label = " > ".join(chain)
        self.budget.check_file_size(m.size, label)
        if m.compressed_size is not None:
            self.budget.check_ratio(m.size, m.compressed_size, label)
        dest = inside(outdir, m.rel.parent) if m.rel.parent.parts else outdir
        make_dirs(dest)
        name = m.rel.name
        dev = m.open_dev()
        if dev is not None:
            try:
                self.process(dev, name, chain, dest, depth, on_disk=m.on_disk, partition=partition, in_fs=in_fs)
            finally:
                dev.close()
            return
        # Compressed member: peek, then stream a leaf straight to the output or a container to a temp file.
        with m.open_stream() as s:
            head = s.read(HEAD)
            kind = _head_kind(head, m.size)
            if kind is None and self.unneeded(name, head, m.size):
                return
            target = dest / name if kind is None else self.tmp_path(name)
            if target.exists() or target.is_symlink():
                raise FirmwareError(label, "name already extracted (duplicate member): kept the first")
            _write_stream(head, s, target, self.budget, label, m.size, m.compressed_size or 0)
        if kind is None:
            self.budget.count_entry(label)
            return
        tdev = FileDev(target, name=name)
        try:
            self.process(tdev, name, chain, dest, depth, on_disk=None, owned_tmp=target, partition=partition, in_fs=in_fs)
        finally:
            tdev.close()
            if target.exists() and target.parent == self.tmp:
                self.drop_tmp(target)

    def process_transfer(
        self, tl: Member, datas: list[Member], base: str, chain: list[str], outdir: Path, depth: int
    ) -> None:
        pname = PurePosixPath(base).name
        tchain = chain + [f"{base}.transfer.list"]
        label = " > ".join(tchain)
        try:
            with tl.open_stream() as s:
                text = s.read(64 << 20).decode("utf-8", "replace")
            streams_open = [d.open_stream() for d in datas]
            joined: BinaryIO = _Concat(streams_open)  # type: ignore[assignment]
            brotli_data = any(".new.dat.br" in str(d.rel) for d in datas)
            reader = streams.open_decompressed("brotli", joined) if brotli_data else joined
            tmp = self.tmp_path(pname + ".img")
            try:
                size = transfer.apply_transfer_list(text, reader, str(tmp), self.budget, label)
                self.containers.append(
                    ContainerInfo(chain=tchain, kind="transfer_list", size=size,
                                  detail=f"{'brotli ' if brotli_data else ''}new.dat in {len(datas)} part(s)")
                )
                dev = FileDev(tmp, name=pname)
                try:
                    self.process(dev, pname, chain + [pname], outdir, depth + 1, on_disk=None, owned_tmp=tmp, partition=pname)
                finally:
                    dev.close()
            finally:
                for st in streams_open:
                    st.close()
                if tmp.exists():
                    self.drop_tmp(tmp)
        except OutputLimitError:
            raise
        except FirmwareError as e:
            self.issue(tchain, e.reason)
        except (OSError, ValueError, EOFError) as e:
            self.issue(tchain, f"unreadable: {e}")

    def process_sparse_set(self, base: str, parts: list[Member], chain: list[str], outdir: Path, depth: int) -> None:
        pname = PurePosixPath(base).name
        schain = chain + [f"{base}_sparsechunk.*"]
        devs: list[Dev] = []
        tmps: list[Path] = []
        try:
            for m in parts:
                d = m.open_dev()
                if d is None:
                    t = self.tmp_path(m.rel.name)
                    with m.open_stream() as s:
                        streams.copy_stream(s, None, str(t), self.budget, " > ".join(chain + [str(m.rel)]), m.size)
                    tmps.append(t)
                    d = FileDev(t)
                devs.append(d)
            sdev = sparse.open_sparse(devs, pname)
            self.containers.append(
                ContainerInfo(chain=schain, kind="sparse_set", size=sdev.size, detail=f"{len(parts)} sparse chunks")
            )
            self.process(sdev, pname, chain + [pname], outdir, depth + 1, on_disk=None, partition=partition_name(pname))
        except OutputLimitError:
            raise
        except FirmwareError as e:
            self.issue(schain, e.reason)
        finally:
            for d in devs:
                d.close()
            for t in tmps:
                self.drop_tmp(t)

    def process_tar(self, dev: Dev, name: str, chain: list[str], outdir: Path, depth: int, record: ContainerInfo) -> None:
        tar_size = dev.size
        tail = dev.read(max(0, dev.size - 512), min(512, dev.size))
        mm = re.search(rb"([0-9a-fA-F]{32})[ \t]+\*?([^\r\n/]+)\r?\n?$", tail)
        if mm and dev.size > 1024:
            tar_size = dev.size - (len(tail) - mm.start())
            h = hashlib.md5(usedforsecurity=False)
            pos = 0
            while pos < tar_size:
                n = min(8 << 20, tar_size - pos)
                h.update(dev.read(pos, n))
                pos += n
            if h.hexdigest() != mm.group(1).decode().lower():
                self.issue(chain, "tar.md5 checksum does not match its contents (damaged or altered download)")
                record.detail = "tar.md5: MD5 MISMATCH"
            else:
                record.detail = "tar.md5: MD5 verified"
            record.kind = "tar.md5"
        tdev = sub_dev(dev, 0, tar_size, name) if tar_size != dev.size else dev
        try:
            tf = tarfile.open(fileobj=tdev.stream(), mode="r:")  # noqa: SIM115
        except tarfile.TarError as e:
            raise FirmwareError(name, f"damaged tar archive: {e}") from e
        self.roots[outdir] = Root(chain, "tar", None, None)
        members: list[Member] = []
        try:
            for ti in tf:
                if ti.isdir():
                    continue
                try:
                    rel = safe_relpath(ti.name, name)
                except OutputLimitError:
                    raise
                except FirmwareError as e:
                    self.issue(chain + [ti.name], e.reason)
                    continue
                if ti.issym() or ti.islnk():
                    self.symlinks.append(SymlinkInfo(chain=chain + [str(rel)], target=ti.linkname))
                    continue
                if not ti.isfile():
                    continue
                if ti.offset_data + ti.size > tar_size:
                    self.issue(chain + [str(rel)], "member claims more bytes than the archive holds (truncated)")
                    continue
                members.append(_tar_member(tdev, ti, rel))
        except (tarfile.TarError, EOFError, OSError) as e:
            # A truncated download: keep the members read so far, say where the archive broke.
            self.issue(chain, f"damaged tar archive after {len(members)} member(s): {e}")
        else:
            # tarfile ends quietly at a cut-off header: what follows the last member must be end-of-archive zeros.
            rest = tdev.read(tf.offset, min(max(0, tar_size - tf.offset), 1 << 20)) if tf.offset < tar_size else b""
            if rest.strip(b"\0"):
                self.issue(chain, f"damaged tar archive: unreadable data after {len(members)} member(s) "
                                  f"at offset {tf.offset} (truncated download?)")
        self.process_members(members, outdir, chain, depth + 1)

    def process_compressed(
        self, dev: Dev, kind: str, name: str, chain: list[str], dest: Path, depth: int, on_disk: Path | None
    ) -> None:
        label = " > ".join(chain)
        child = name
        for suf in streams.SUFFIXES.get(kind, ()):
            if name.endswith(suf) and len(name) > len(suf):
                child = name[: -len(suf)] + (".tar" if suf == ".tgz" else "")
                break
        else:
            child = name + ".out"
        raw = dev.stream()
        counter = streams.Counting(raw)  # type: ignore[arg-type]
        reader = streams.open_decompressed(kind, counter)  # type: ignore[arg-type]
        try:
            head = reader.read(HEAD)
        except streams.DECOMPRESS_ERRORS as e:
            raise FirmwareError(label, f"{kind} data is damaged: {e}") from e
        if len(head) >= 262 and head[257:262] == b"ustar":
            self.stream_tar(head, reader, counter, dev.size, chain, dest, depth)
            return
        if on_disk is not None and _head_kind(head, 1 << 30) is None and head[:4] != b"PK\x03\x04":
            return  # a compressed plain file inside a file system (firmware blob, data): kept as it is
        tmp = self.tmp_path(child)
        _write_stream(head, reader, tmp, self.budget, label, None, 0, counter)
        tdev = FileDev(tmp, name=child)
        try:
            self.containers[-1].detail = f"decompressed to {tdev.size} bytes"
            self.process(tdev, child, chain + [child], dest, depth + 1, on_disk=None, owned_tmp=tmp, in_fs=on_disk is not None)
        finally:
            tdev.close()
            if tmp.exists():
                self.drop_tmp(tmp)

    def stream_tar(
        self, head: bytes, reader: BinaryIO, counter: streams.Counting, compressed: int, chain: list[str],
        outdir: Path, depth: int,
    ) -> None:
        """A compressed tar (Xiaomi .tgz): members streamed one by one, nothing held whole."""
        self.roots[outdir] = Root(chain, "tar", None, None)
        make_dirs(outdir)
        produced = 0
        tf = tarfile.open(fileobj=_Prefixed(head, reader), mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
        for ti in tf:
            if ti.isdir():
                continue
            try:
                rel = safe_relpath(ti.name, chain[-1])
            except OutputLimitError:
                raise
            except FirmwareError as e:
                self.issue(chain + [ti.name], e.reason)
                continue
            mchain = chain + [str(rel)]
            if ti.issym() or ti.islnk():
                self.symlinks.append(SymlinkInfo(chain=mchain, target=ti.linkname))
                continue
            if not ti.isfile():
                continue
            label = " > ".join(mchain)
            with self.recorded(mchain):
                produced += ti.size
                self.budget.check_ratio(produced, counter.count, label)
                f = tf.extractfile(ti)
                assert f is not None
                mhead = f.read(HEAD)
                kind = _head_kind(mhead, ti.size)
                if kind is None and self.unneeded(rel.name, mhead, ti.size):
                    continue
                dest = inside(outdir, rel.parent) if rel.parent.parts else outdir
                make_dirs(dest)
                target = dest / rel.name if kind is None else self.tmp_path(rel.name)
                _write_stream(mhead, f, target, self.budget, label, ti.size, 0)
                if kind is not None:
                    tdev = FileDev(target, name=rel.name)
                    try:
                        self.process(tdev, rel.name, mchain, dest, depth + 1, on_disk=None, owned_tmp=target)
                    finally:
                        tdev.close()
                        if target.exists() and target.parent == self.tmp:
                            self.drop_tmp(target)


def apex_partition(name: str) -> str:
    """'com.android.foo.apex' -> 'apex/com.android.foo' (mounted at /apex/com.android.foo)."""
    stem = name
    for suf in (".capex", ".apex"):
        stem = stem.removesuffix(suf)
    return "apex/" + stem


def _tar_member(tdev: Dev, ti: tarfile.TarInfo, rel: PurePosixPath) -> Member:
    def open_dev() -> Dev | None:
        return sub_dev(tdev, ti.offset_data, ti.size, rel.name)

    def open_stream() -> BinaryIO:
        return open_dev().stream()  # type: ignore[union-attr,return-value]

    return Member(rel, ti.size, open_dev, open_stream, None)


def _check_named(m: Member, key: str) -> None:
    """A file named as (part of) the firmware must be one phonehome can open, or a scatter file."""
    if m.size == 0:
        raise FirmwareError(key, "empty file (0 bytes)")
    if vendor.SCATTER_NAME.fullmatch(m.rel.name):
        return
    with m.open_stream() as s:
        if _head_kind(s.read(HEAD), m.size) is None:
            raise FirmwareError(key, NOT_FIRMWARE)


def _maybe_container(head: bytes, size: int) -> bool:
    """Inside a file system, is this file worth opening as a container? (images, APEX, archives)"""
    if head[:4] == b"PK\x03\x04":
        return True  # APEX/CAPEX are unpacked; APKs and jars are recognised and left as they are
    return _head_kind(head, size) is not None


def _head_kind(head: bytes, size: int) -> str | None:
    """Container kind from the first bytes, or None for a leaf."""
    if sparse.is_sparse(head):
        return "sparse"
    if payload.is_payload(head):
        return "payload"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    comp = streams.compression_of(head)
    if comp:
        return comp
    if size >= 4104 and len(head) >= 4104 and struct.unpack_from("<I", head, 4096)[0] == lp.GEOMETRY_MAGIC:
        return "super"
    if size >= 2048 and len(head) >= 1082 and struct.unpack_from("<H", head, 1080)[0] == ext4.EXT4_MAGIC:
        return "ext4"
    if size >= 1152 and len(head) >= 1028 and struct.unpack_from("<I", head, 1024)[0] == erofs.EROFS_MAGIC:
        return "erofs"
    if vendor.is_update_app(head):
        return "updateapp"
    if head.startswith(vendor.OZIP_MAGIC):
        return "ozip"
    return None


def _write_stream(
    head: bytes, rest: BinaryIO, target: Path, budget: Budget, label: str, declared: int | None,
    compressed: int, counter: streams.Counting | None = None,
) -> int:
    """Write head + the rest of a stream to target, with the budget, size and bomb checks."""
    return streams.copy_stream(rest, counter, target, budget, label, declared, head=head, compressed=compressed)


class _Concat:
    """Several streams read as one (split new.dat.N parts)."""

    def __init__(self, parts: list[BinaryIO]) -> None:
        self.parts = parts
        self.i = 0

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while self.i < len(self.parts) and (n < 0 or len(out) < n):
            chunk = self.parts[self.i].read(-1 if n < 0 else n - len(out))
            if not chunk:
                self.i += 1
                continue
            out += chunk
        return bytes(out)


class _Prefixed:
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                out = self.head + self.rest.read()
                self.head = b""
                return out
            out = self.head[:n]
            self.head = self.head[n:]
            if len(out) < n:
                out += self.rest.read(n - len(out))
            return out
        return self.rest.read(n)


def extract_firmware(
    path: Path | Sequence[Path], out: Path, limits: Limits | None = None, only_needed: bool = False
) -> tuple[FirmwareInfo, dict[Path, Root]]:
    """Unpack a firmware file, a folder, or several files that are one firmware into out (content under
    out/files/). Returns the summary and the map of output roots (for discovery)."""
    ex = Extractor(out, limits, only_needed)
    info = ex.run(path)
    return info, ex.roots
