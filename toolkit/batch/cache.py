"""Result cache: one SQLite file, one row per (APK SHA-256, engine, rules, analysis options).

An APK already analysed by the same engine code with the same rules and options is not analysed again. The row
holds the APK's report without its path and provenance (those belong to each input: the same bytes can sit in
many places of a firmware), so a cached report is re-attached to the current input.

Durability: WAL journal with synchronous=FULL and one transaction per result, so every result that was reported
done survives Ctrl-C, kill -9 and power loss; re-running the same command resumes from there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field, ValidationError

from toolkit.analysis.options import AnalysisOptions
from toolkit.batch.task import TRANSIENT_FAILURES, FailureKind
from toolkit.models import ApkReport
from toolkit.models.common import PhModel

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
CACHE_FILE_NAME = "results.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    sha256 TEXT NOT NULL,
    engine TEXT NOT NULL,
    rules TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    failure TEXT,
    memory_limit INTEGER,
    timeout REAL,
    report TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (sha256, engine, rules, options)
);
"""


class CacheError(Exception):
    """The cache file cannot be used (not a database, unwritable, other schema); the message names the file."""


class CacheKey(PhModel):
    """Everything besides the APK bytes that a result depends on."""

    engine: str = Field(description="ENGINE_VERSION + code digest (toolkit.batch.task.engine_identity)")
    rules: str = Field(description="Rules version (hash of the rules data)")
    options: str = Field(description="Digest of the analysis options")


class Limits(PhModel):
    """The isolation limits a failure was observed under (None = no limit)."""

    memory_limit: int | None = None
    timeout: float | None = None


class CacheStats(PhModel):
    path: str
    rows: int = Field(description="All rows in the file")
    current: int = Field(description="Rows usable with the current engine, rules and options")


def default_cache_path() -> Path:
    """$XDG_CACHE_HOME/phonehome/results.sqlite3, or ~/.cache/phonehome/results.sqlite3."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "phonehome" / CACHE_FILE_NAME


def options_digest(options: AnalysisOptions) -> str:
    """Short stable digest of the analysis options (a different time budget can give a different result)."""
    return hashlib.sha256(options.model_dump_json().encode()).hexdigest()[:16]


def _more_generous(current: int | float | None, recorded: int | float | None) -> bool:
    """True when the current limit lets an analysis go further than the one a failure was recorded under."""
    if recorded is None:
        return False
    return current is None or current == 0 or current > recorded


class ResultCache:
    """The SQLite result cache for one cache key. Use as a context manager, or call close()."""

    def __init__(self, path: Path, key: CacheKey) -> None:
        self.path = Path(path)
        self.key = key
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: explicit transactions, one per put, so each result is durable on its own.
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise CacheError(f"{self.path}: cache schema {row[0]}, this phonehome uses {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"{self.path}: cannot use as result cache: {exc}") from exc

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def get_many(self, sha256s: Iterable[str], limits: Limits | None = None) -> dict[str, ApkReport]:
        """Cached reports for these APKs (path and provenance empty). Failures recorded under tighter limits
        than `limits` are not returned, so a run with a larger memory cap or time limit retries them."""
        limits = limits or Limits()
        wanted = sorted(set(sha256s))
        found: dict[str, ApkReport] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self._db.execute(
                    f"SELECT sha256, failure, memory_limit, timeout, report FROM results "
                    f"WHERE engine = ? AND rules = ? AND options = ? AND sha256 IN ({marks})",
                    (self.key.engine, self.key.rules, self.key.options, *chunk),
                ).fetchall()
            except sqlite3.Error as exc:
                raise CacheError(f"{self.path}: cannot read results: {exc}") from exc
            for sha, failure, memory_limit, timeout, text in rows:
                if failure == "memory" and _more_generous(limits.memory_limit, memory_limit):
                    continue
                if failure == "timeout" and _more_generous(limits.timeout, timeout):
                    continue
                try:
                    found[sha] = ApkReport.model_validate_json(text)
                except ValidationError as exc:
                    log.warning("%s: cached result of %s is unreadable, analysing again: %s", self.path, sha, exc)
        return found

    def put(
        self, sha256: str, report: ApkReport, failure: FailureKind | None = None, limits: Limits | None = None
    ) -> bool:
        """Store one result durably. Transient failures are not stored (returns False)."""
        if failure in TRANSIENT_FAILURES:
            return False
        limits = limits or Limits()
        stored = report.model_copy(update={"path": ""})
        try:
            self._insert(sha256, stored, failure, limits)
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot write a result: {exc}") from exc
        return True

    def _insert(self, sha256: str, report: ApkReport, failure: FailureKind | None, limits: Limits) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO results (sha256, engine, rules, options, status, failure, memory_limit, "
                "timeout, report, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sha256,
                    self.key.engine,
                    self.key.rules,
                    self.key.options,
                    report.status.value,
                    failure,
                    limits.memory_limit if failure == "memory" else None,
                    limits.timeout if failure == "timeout" else None,
                    report.model_dump_json(),
                    datetime.now(UTC).isoformat(),
                ),
            )

    def stats(self) -> CacheStats:
        rows = self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        current = self._db.execute(
            "SELECT COUNT(*) FROM results WHERE engine = ? AND rules = ? AND options = ?",
            (self.key.engine, self.key.rules, self.key.options),
        ).fetchone()[0]
        return CacheStats(path=str(self.path), rows=rows, current=current)

    def prune(self) -> int:
        """Delete rows of other engines, rules or options (results this phonehome can never use). Returns count."""
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM results WHERE NOT (engine = ? AND rules = ? AND options = ?)",
                (self.key.engine, self.key.rules, self.key.options),
            )
        return cursor.rowcount

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def open_cache(path: Path | None, key: CacheKey) -> ResultCache:
    """Open the cache at `path` (default location when None)."""
    return ResultCache(path or default_cache_path(), key)
