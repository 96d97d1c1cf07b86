"""The daemon's durable state: the pipeline snapshot and the Kafka offsets it covers.

Both are written in one SQLite transaction (WAL journal, ``synchronous=FULL``), so after any
crash the stored snapshot and the stored offsets agree: the snapshot holds exactly the records
before those offsets. On start the daemon restores the snapshot and seeks each partition to its
stored offset; the state, not the Kafka-committed offset, decides where reading resumes, so a
crash between saving and committing never counts a record twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canarywatch.errors import StateError
from canarywatch.statedir import prepare_state_dir, secure_file

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_NAME = "state.sqlite3"
LOCK_NAME = "state.lock"

TopicPartitionKey = tuple[str, int]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved_at_unix_nano INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS topics (topic TEXT PRIMARY KEY, topic_id TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SavedState:
    """What a previous run left: its pipeline snapshot (None on first start) and offsets."""

    snapshot: dict[str, Any] | None
    # Next offset to read per (topic, partition): every record before it is in the snapshot.
    offsets: Mapping[TopicPartitionKey, int] = field(default_factory=dict)
    # The broker's id of each topic those offsets belong to (a recreated topic gets a new id).
    topic_ids: Mapping[str, str] = field(default_factory=dict)
    saved_at_unix_nano: int | None = None


class StateStore:
    """SQLite file ``state.sqlite3`` in ``state_dir``; callers serialise access.

    One process at a time: a second store on the same directory raises StateError (an OS
    file lock, released even when the holder is killed).
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / DB_NAME
        prepare_state_dir(state_dir)
        self._lock_fd = _lock(state_dir / LOCK_NAME)
        try:
            secure_file(self.path)
            # The daemon serialises access with its own lock; rebalance callbacks may save from
            # kafka-python's IO thread.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except (OSError, sqlite3.Error, StateError) as exc:
            os.close(self._lock_fd)
            if isinstance(exc, StateError):
                raise
            raise StateError(f"cannot open state {self.path}: {exc}") from None

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise StateError(f"{self.path} has state schema {row[0]}, this canarywatch reads "
                             f"{SCHEMA_VERSION}; move it aside to start afresh")

    def load(self) -> SavedState:
        """The last saved snapshot and offsets (an empty SavedState on first start)."""
        try:
            row = self._db.execute(
                "SELECT saved_at_unix_nano, body FROM snapshot WHERE id = 1").fetchone()
            offsets = {(str(t), int(p)): int(o) for t, p, o in self._db.execute(
                "SELECT topic, partition, next_offset FROM offsets")}
            topic_ids = {str(t): str(i) for t, i in self._db.execute(
                "SELECT topic, topic_id FROM topics")}
        except sqlite3.Error as exc:
            raise StateError(f"cannot read state {self.path}: {exc}") from None
        if row is None:
            return SavedState(snapshot=None, offsets=offsets, topic_ids=topic_ids)
        try:
            snapshot = json.loads(zlib.decompress(row[1]))
        except (zlib.error, ValueError) as exc:
            raise StateError(f"{self.path}: stored snapshot is corrupt: {exc}") from None
        if not isinstance(snapshot, dict):
            raise StateError(f"{self.path}: stored snapshot is not a JSON object")
        return SavedState(snapshot=snapshot, offsets=offsets, topic_ids=topic_ids,
                          saved_at_unix_nano=int(row[0]))

    def save(self, snapshot: Mapping[str, Any], offsets: Mapping[TopicPartitionKey, int],
             topic_ids: Mapping[str, str] | None = None,
             saved_at_unix_nano: int | None = None) -> int:
        """Replace the stored snapshot, offsets and topic ids atomically and durably.

        ``offsets`` is every partition this state has read (also those this agent no longer
        owns); a partition left out is forgotten. Returns the bytes of snapshot stored.
        """
        body = zlib.compress(json.dumps(snapshot, separators=(",", ":")).encode("utf-8"), 1)
        at = time.time_ns() if saved_at_unix_nano is None else saved_at_unix_nano
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?)", (at, body))
                self._db.execute("DELETE FROM offsets")
                self._db.executemany("INSERT INTO offsets VALUES (?, ?, ?)",
                                     [(t, p, o) for (t, p), o in sorted(offsets.items())])
                self._db.execute("DELETE FROM topics")
                self._db.executemany("INSERT INTO topics VALUES (?, ?)",
                                     sorted((topic_ids or {}).items()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StateError(f"cannot write state {self.path}: {exc}") from None
        log.debug("state saved: %d bytes, %d partitions", len(body), len(offsets))
        return len(body)

    def close(self) -> None:
        self._db.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = -1


def read_snapshot(state_dir: Path) -> dict[str, Any] | None:
    """The last saved pipeline snapshot, read without taking the lock: a running daemon
    keeps writing (SQLite's WAL lets a reader see the last committed one). None when the
    directory holds no state yet; StateError when it cannot be read."""
    path = state_dir / DB_NAME
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT body FROM snapshot WHERE id = 1").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StateError(f"cannot read state {path}: {exc}") from None
    if row is None:
        return None
    try:
        snapshot = json.loads(zlib.decompress(row[0]))
    except (zlib.error, ValueError) as exc:
        raise StateError(f"{path}: stored snapshot is corrupt: {exc}") from None
    if not isinstance(snapshot, dict):
        raise StateError(f"{path}: stored snapshot is not a JSON object")
    return snapshot


def _lock(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateError(f"cannot open {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StateError(f"{path.parent} is in use by another canarywatch process") from None
    return fd
