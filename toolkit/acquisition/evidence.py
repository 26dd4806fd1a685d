"""The evidence folder: layout, acquisition.json, the hash list, and loading it back.

Layout (everything needed to redo the analysis offline):
    DIR/acquisition.json     what was done: tool, host, times, device, transport, every command, every file
    DIR/raw/<key>.txt        each command's stdout exactly as the phone sent it
    DIR/apks/<device path>   pulled APKs, mirroring their path on the phone
    DIR/sha256sums.txt       `sha256sum -c` compatible list of every other file in DIR
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from toolkit.acquisition.files import sha256_file
from toolkit.models.acquisition import (
    AcquisitionManifest,
    CommandRecord,
    PulledFile,
    RunRecord,
)

__all__ = ["AcquisitionManifest", "CommandRecord", "EvidenceError", "EvidenceFolder", "PulledFile", "RunRecord",
           "apk_local_path", "sha256_file"]

MANIFEST = "acquisition.json"
HASHES = "sha256sums.txt"
RAW_DIR = "raw"
APK_DIR = "apks"
README = "README.txt"
README_TEXT = """This folder is a phonehome acquisition of an Android phone (read-only, over ADB).

acquisition.json   what was done: tool and version, host, start/end times, device identity, transport,
                   every command sent with its exit status and output file, every APK with its SHA-256,
                   size, mode and mtime on the phone, and every path that could not be read and why.
raw/<key>.txt      each command's output exactly as the phone sent it.
apks/<path>        the pulled APKs, at their path on the phone.
sha256sums.txt     SHA-256 of every other file here.

Check it:          sha256sum -c sha256sums.txt
Analyse it again:  phonehome evidence scan <this folder>     (no phone needed)
"""


class EvidenceError(Exception):
    """An evidence folder that cannot be used; the message names the file and the reason."""


def apk_local_path(device_path: str) -> str:
    """apks/<device path without the leading slash>; refuses paths that would escape the folder."""
    parts = [p for p in device_path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise EvidenceError(f"refusing device path {device_path!r}: it would leave the evidence folder")
    return "/".join([APK_DIR, *parts])


class EvidenceFolder:
    """An evidence folder on disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def raw_path(self, key: str) -> Path:
        return self.root / RAW_DIR / f"{key}.txt"

    def create(self) -> None:
        (self.root / RAW_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / APK_DIR).mkdir(parents=True, exist_ok=True)
        readme = self.root / README
        if not readme.exists():
            readme.write_text(README_TEXT, encoding="utf-8")

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def member(self, rel: str) -> Path:
        """The file at `rel`, a path relative to the folder as acquisition.json and sha256sums.txt record them.

        Raises EvidenceError for an absolute path, one with '..', or one that leads out through a symlink: a crafted
        or damaged manifest must not make phonehome read (and report as evidence) files from elsewhere.
        """
        pure = PurePosixPath(rel)
        if not pure.parts or pure.is_absolute() or ".." in pure.parts:
            raise EvidenceError(f"{rel!r} is not a path inside the evidence folder")
        path = self.root / pure
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise EvidenceError(f"{rel!r} leads out of the evidence folder (symlink)")
        return path

    def safe_member(self, rel: str | None) -> Path | None:
        """member(rel), or None when rel is None or not inside the folder (verify() reports those)."""
        if not rel:
            return None
        try:
            return self.member(rel)
        except EvidenceError:
            return None

    def load_manifest(self) -> AcquisitionManifest:
        try:
            return AcquisitionManifest.model_validate_json(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise EvidenceError(f"{self.manifest_path}: not an evidence folder (no {MANIFEST})") from e
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "top level"
            raise EvidenceError(f"{self.manifest_path}: unreadable acquisition manifest ({e.error_count()} problems; "
                                f"first: {where}: {first['msg']})") from e
        except (OSError, ValueError) as e:
            raise EvidenceError(f"{self.manifest_path}: unreadable acquisition manifest: {e}") from e

    def save_manifest(self, manifest: AcquisitionManifest) -> None:
        """Write atomically, so an interrupted run never leaves a half-written manifest."""
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.manifest_path)

    def write_raw(self, key: str, data: bytes) -> Path:
        path = self.raw_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def read_raw_outputs(self) -> dict[str, str]:
        """key -> text of every raw output, for the inventory parsers."""
        manifest = self.load_manifest()
        out: dict[str, str] = {}
        for rec in manifest.commands:
            path = self.safe_member(rec.output_file)
            if path is not None and path.is_file():
                out[rec.key] = path.read_bytes().decode("utf-8", errors="replace")
        return out

    def write_hash_list(self) -> Path:
        """sha256sums.txt over every file but itself, sorted, `sha256sum -c` compatible."""
        lines = []
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            rel = path.relative_to(self.root).as_posix()
            if rel == HASHES or rel.endswith(".part") or rel.endswith(".tmp"):
                continue
            lines.append(f"{sha256_file(path)}  {rel}\n")
        target = self.root / HASHES
        target.write_text("".join(lines), encoding="utf-8")
        return target

    def verify(self) -> list[str]:
        """Problems found checking the folder against its hash list and manifest ([] when intact)."""
        problems: list[str] = []
        hashes = self.root / HASHES
        if not hashes.is_file():
            return [f"{hashes}: missing hash list"]
        listed: set[str] = set()
        for n, line in enumerate(hashes.read_text(encoding="utf-8").splitlines(), start=1):
            digest, sep, rel = line.partition("  ")
            if not sep or len(digest) != 64:
                problems.append(f"{hashes}:{n}: malformed line")
                continue
            listed.add(rel)
            try:
                path = self.member(rel)
            except EvidenceError as e:
                problems.append(f"{hashes}:{n}: {e}")
                continue
            if not path.is_file():
                problems.append(f"{rel}: listed in {HASHES} but missing")
            elif sha256_file(path) != digest:
                problems.append(f"{rel}: SHA-256 differs from {HASHES}")
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            if path.is_symlink():
                # phonehome never writes links; one in the folder was put there afterwards (e.g. apks/x -> /) and
                # would make a tool walking the folder read files that are not evidence. Not followed.
                problems.append(f"{rel}: symbolic link to {os.readlink(path)!r} (phonehome writes no links; not "
                                "followed)")
            elif path.is_file() and rel != HASHES and rel not in listed and not rel.endswith((".part", ".tmp")):
                problems.append(f"{rel}: not in {HASHES}")
        try:
            manifest = self.load_manifest()
        except EvidenceError as e:
            return problems + [str(e)]
        for rec in manifest.commands:
            if rec.output_file:
                try:
                    self.member(rec.output_file)
                except EvidenceError as e:
                    problems.append(f"{MANIFEST}: output of `{rec.command}`: {e}")
        for f in manifest.files:
            if f.status == "pulled" and f.local_path:
                try:
                    p = self.member(f.local_path)
                except EvidenceError as e:
                    problems.append(f"{MANIFEST}: {f.device_path}: {e}")
                    continue
                if not p.is_file():
                    problems.append(f"{f.local_path}: recorded as pulled but missing")
                elif f.sha256 and sha256_file(p) != f.sha256:
                    problems.append(f"{f.local_path}: SHA-256 differs from {MANIFEST}")
        return problems


def manifest_json_schema() -> str:
    return json.dumps(AcquisitionManifest.model_json_schema(), indent=2)
