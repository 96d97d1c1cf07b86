"""Flagger Canary revisions: which verdicts count for the release Flagger is asking about.

Flagger's webhook payload carries a ``checksum`` of the Canary's revision. When it changes, a
new release is being analysed, and the last release's verdicts (say, yesterday's rollback)
must not answer for it: the verdicts on the board at the change are *hidden* for that Canary
(recorded as ``canary_version -> at_unix_nano``: a verdict counts again only once canarywatch
decides something newer for that canary). Event times, unlike sequence numbers, mean the same
after a restart, so the recorded revisions are kept in ``flagger.sqlite3`` in the state
directory and survive one.

What a hook call may change (the only state a hook writes):

- the first checksum seen for a Canary is recorded; nothing is hidden;
- a request with the recorded checksum changes nothing;
- a request with a *different* checksum moves the revision forward (hiding what is on the
  board now) when canarywatch can check that it is allowed to: the caller presented the
  server's bearer token, or the move hides no rollback, i.e. the verdict that would answer
  under the recorded revision is not ``rollback`` (a newer canary version with a later verdict
  already answers instead of the old rollback, or there was no rollback to hide);
- otherwise the move is **refused**: logged, counted in
  ``canarywatch_flagger_revision_refused_total``, nothing is recorded, and the request is
  answered under the recorded revision, so the rollback still stands. Without a token, the
  next release's first calls therefore still see the last release's rollback until its own
  canary version has a verdict (configure ``server.bearer_token_file`` to avoid that).

No hook can delete a verdict, move a revision back to an older recorded state, or change
anything for another Canary. At most :data:`MAX_CANARIES` Canaries are tracked; calls for
further ones are answered without being recorded.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from canarywatch.errors import StateError
from canarywatch.events import Action
from canarywatch.server.answers import FlaggerRequest
from canarywatch.server.board import VerdictBoard
from canarywatch.statedir import secure_file

logger = logging.getLogger(__name__)

MAX_CANARIES = 10_000
FILE_NAME = "flagger.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS revisions (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    hidden TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
"""


@dataclass(frozen=True, slots=True)
class Revision:
    """A Canary's recorded revision and the verdicts hidden from it (version -> event time)."""

    checksum: str
    hidden: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a hook call is answered under: the hidden verdicts, and whether it changed state."""

    hidden: Mapping[str, int]
    changed: bool = False
    refused: str | None = None


class FlaggerRevisions:
    """Thread-safe revisions per Flagger Canary, kept in ``path`` (SQLite) when given.

    Raises StateError when the file cannot be opened or holds unreadable rows.
    """

    def __init__(self, path: Path | None = None,
                 on_new_revision: Callable[[str], object] | None = None) -> None:
        """``on_new_revision(service)`` is called when a Canary's recorded revision moves
        forward: that service's next release has started (the webhook dispatcher releases
        the rollbacks receivers latch for it)."""
        self._lock = threading.Lock()
        self.on_new_revision = on_new_revision
        self._revisions: dict[tuple[str, str], Revision] = {}
        self._db: sqlite3.Connection | None = None
        self.refused = 0
        if path is not None:
            self._open(path)

    def _open(self, path: Path) -> None:
        try:
            secure_file(path)
            self._db = sqlite3.connect(str(path), isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            rows = self._db.execute(
                "SELECT namespace, name, checksum, hidden FROM revisions").fetchall()
            for namespace, name, checksum, hidden in rows:
                loaded = json.loads(hidden)
                if not isinstance(loaded, dict):
                    raise ValueError("hidden is not an object")
                self._revisions[(str(namespace), str(name))] = Revision(
                    str(checksum), {str(k): int(v) for k, v in loaded.items()})
        except (OSError, sqlite3.Error, ValueError, TypeError) as exc:
            raise StateError(f"cannot open Flagger revisions {path}: {exc}") from None

    def get(self, namespace: str, name: str) -> Revision | None:
        """The recorded revision of one Canary, or None."""
        with self._lock:
            return self._revisions.get((namespace, name))

    def resolve(self, board: VerdictBoard, asked: FlaggerRequest, *, authenticated: bool,
                client: str = "?") -> Resolution:
        """Record the asked checksum for its Canary where allowed (see the module docstring).

        ``authenticated``: the caller presented the server's bearer token. StateError when
        a change cannot be written.
        """
        namespace, name, checksum = asked.namespace, asked.name, asked.checksum
        service, canary_version = asked.service, asked.canary_version
        if not checksum:
            return Resolution({})
        key = (namespace, name)
        with self._lock:
            stored = self._revisions.get(key)
            if stored is None:
                if len(self._revisions) >= MAX_CANARIES:
                    return Resolution({})
                self._store(key, Revision(checksum))
                return Resolution({}, changed=True)
            if stored.checksum == checksum:
                return Resolution(stored.hidden)
            answering = board.select(service, canary_version, stored.hidden)
            if not authenticated and answering is not None \
                    and answering.action is Action.ROLLBACK:
                self.refused += 1
                reason = (f"revision change refused: it would hide the rollback of "
                          f"{service} {answering.canary_version}; present the bearer token, "
                          f"or wait for the new canary version's first verdict")
                logger.warning("Flagger Canary %s/%s: refused a revision change from %s "
                               "(checksum %.12s -> %.12s) that would hide the rollback of %s "
                               "%s", namespace, name, client, stored.checksum, checksum,
                               service, answering.canary_version)
                return Resolution(stored.hidden, refused=reason)
            hidden = {v.canary_version: v.at_unix_nano for v in board.find(service)}
            self._store(key, Revision(checksum, hidden))
            logger.info("Flagger Canary %s/%s: new revision %.12s (was %.12s); %d earlier "
                        "verdict(s) of %s no longer count", namespace, name, checksum,
                        stored.checksum, len(hidden), service)
        if self.on_new_revision is not None:
            try:
                self.on_new_revision(service)
            except Exception:  # releasing a latch must never fail the hook's answer
                logger.exception("Flagger Canary %s/%s: releasing latches of %s failed",
                                 namespace, name, service)
        return Resolution(hidden, changed=True)

    def _store(self, key: tuple[str, str], revision: Revision) -> None:
        if self._db is not None:
            try:
                self._db.execute("INSERT OR REPLACE INTO revisions VALUES (?, ?, ?, ?)",
                                 (*key, revision.checksum,
                                  json.dumps(dict(revision.hidden), sort_keys=True)))
            except sqlite3.Error as exc:
                raise StateError(f"cannot record a Flagger revision: {exc}") from None
        self._revisions[key] = revision

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
