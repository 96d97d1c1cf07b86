"""The durable outbox: every decision's requests are in SQLite before any attempt is made.

Tables:

- ``outbox``: one row per (webhook, decision id) with the rendered request (no secrets), the
  attempts so far and a state (``pending``, ``delivered``, ``failed``). Delivered rows stay, so
  replaying the same decision again (same id) finds it and sends nothing.
- ``latches``: per (webhook, service), a rollback sent to a receiver that keeps it until told
  otherwise (the Flagger load tester's gate), with the rendered request that releases it.
  :meth:`Outbox.release` moves it to ``outbox`` as a pending request when the service's next
  release starts, superseding the rollback if that was still pending.
- ``decisions``: the last action recorded per (service, canary version). A verdict with the
  same action as the last one is not a new decision, even with a later event time (the
  pipeline re-deriving a verdict after a restart), so it never gets a second id.

A new decision for a canary supersedes that canary's requests still pending for each webhook
(state ``superseded``): a receiver is never sent a verdict that a newer one replaced, and the
outbox never holds two undelivered, contradicting decisions for one destination.

One connection, guarded by a lock, shared by the pipeline thread and the delivery threads;
WAL journal with ``synchronous=FULL`` so a committed decision survives a crash.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from canarywatch.actions.secreturl import stored, without_userinfo
from canarywatch.actions.spec import Request
from canarywatch.errors import StateError
from canarywatch.statedir import secure_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    service TEXT,
    canary_version TEXT,
    UNIQUE (webhook, decision_id)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (webhook, state, seq);
CREATE TABLE IF NOT EXISTS decisions (
    service TEXT NOT NULL,
    canary_version TEXT NOT NULL,
    action TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    PRIMARY KEY (service, canary_version)
);
CREATE TABLE IF NOT EXISTS latches (
    webhook TEXT NOT NULL,
    service TEXT NOT NULL,
    canary_version TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (webhook, service)
);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    """The oldest undelivered request of one webhook."""

    seq: int
    request: Request
    attempts: int


class Outbox:
    """SQLite-backed outbox in ``path``; raises StateError when it cannot be opened."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        try:
            secure_file(path)
            self._db = sqlite3.connect(str(path), check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")  # scrubbed values leave no copy
            self._db.executescript(_SCHEMA)
            self._scrub_userinfo()
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            for column in ("service", "canary_version"):  # outboxes written before 0.2
                if column not in columns:
                    self._db.execute(f"ALTER TABLE outbox ADD COLUMN {column} TEXT")
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open outbox {path}: {exc}") from None

    def _scrub_userinfo(self) -> None:
        """Rows written by older versions may hold a ``user:pass@`` URL: drop the userinfo
        (the credentials now come from the webhook's config at send time)."""
        rows = self._db.execute("SELECT seq, url FROM outbox WHERE url LIKE '%@%'").fetchall()
        for seq, url in rows:
            clean = without_userinfo(str(url))
            if clean != url:
                self._db.execute("UPDATE outbox SET url = ? WHERE seq = ?", (clean, seq))

    def hide_url(self, webhook: str, url: str) -> int:
        """Rows of ``webhook`` written before its URL counted as secret (older versions)
        whose URL starts with ``url`` get the stored reference form instead
        (:func:`canarywatch.actions.secreturl.stored`); returns how many."""
        prefix = url.rstrip("/")
        with self._lock, self._db:
            rows = self._db.execute(
                "SELECT seq, url FROM outbox WHERE webhook = ? AND substr(url, 1, ?) = ?",
                (webhook, len(prefix), prefix)).fetchall()
            for seq, old in rows:
                self._db.execute("UPDATE outbox SET url = ? WHERE seq = ?",
                                 (stored(str(old)[len(prefix):]), seq))
        return len(rows)

    def record(self, service: str, canary_version: str, action: str, decision: str,
               requests: Sequence[Request], *, latches: Sequence[Request] = ()) -> bool:
        """Store a decision and its requests in one transaction; ``latches``: the release
        requests of the latches this decision sets (one per webhook, for this service).

        Returns False (and stores nothing) when the last decision recorded for this canary had
        the same action: that is the same decision seen again.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT action FROM decisions WHERE service = ? AND canary_version = ?",
                (service, canary_version)).fetchone()
            if row is not None and row[0] == action:
                return False
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?)",
                        (service, canary_version, action, decision))
                    self._db.execute(
                        "UPDATE outbox SET state = 'superseded', last_error = ? WHERE"
                        " state = 'pending' AND service = ? AND canary_version = ?"
                        " AND decision_id != ?",
                        (f"superseded by {decision}", service, canary_version, decision))
                    self._db.executemany(
                        "INSERT OR IGNORE INTO outbox (webhook, decision_id, method, url,"
                        " headers, body, service, canary_version)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(r.webhook, r.decision_id, r.method, r.url, json.dumps(r.headers),
                          r.body, service, canary_version) for r in requests])
                    self._db.executemany(
                        "INSERT OR REPLACE INTO latches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(r.webhook, service, canary_version, r.decision_id, r.method, r.url,
                          json.dumps(r.headers), r.body) for r in latches])
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                # Losing a decision silently is worse than stopping: the caller sees it.
                raise StateError(f"cannot write decision {decision} to the outbox: {exc}") from None
            return True

    def latched(self) -> dict[str, set[str]]:
        """Per service, the canary versions whose rollback some receiver still latches."""
        with self._lock:
            rows = self._db.execute("SELECT service, canary_version FROM latches").fetchall()
        out: dict[str, set[str]] = {}
        for service, version in rows:
            out.setdefault(str(service), set()).add(str(version))
        return out

    def release(self, service: str, keep_version: str | None = None) -> list[Request]:
        """Queue the release of every latch of ``service`` but one set by ``keep_version``
        (its current canary's) and forget those latches, in one transaction; a rollback
        still pending for a released latch is superseded. Returns the requests queued."""
        with self._lock:
            rows = self._db.execute(
                "SELECT webhook, canary_version, decision_id, method, url, headers, body"
                " FROM latches WHERE service = ?", (service,)).fetchall()
            rows = [r for r in rows if r[1] != keep_version]
            if not rows:
                return []
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for webhook, version, decision, method, url, headers, body in rows:
                        self._db.execute(
                            "UPDATE outbox SET state = 'superseded', last_error = ? WHERE"
                            " state = 'pending' AND webhook = ? AND service = ?"
                            " AND canary_version = ?",
                            (f"superseded by {decision}", webhook, service, version))
                        self._db.execute(
                            "INSERT OR IGNORE INTO outbox (webhook, decision_id, method, url,"
                            " headers, body, service, canary_version)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (webhook, decision, method, url, headers, body, service, version))
                        self._db.execute(
                            "DELETE FROM latches WHERE webhook = ? AND service = ?",
                            (webhook, service))
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StateError(f"cannot release the latches of {service}: {exc}") from None
        return [Request(webhook=str(w), decision_id=str(d), method=str(m), url=str(u),
                        headers=tuple((str(k), str(v)) for k, v in json.loads(h)),
                        body=bytes(b)) for w, _, d, m, u, h, b in rows]

    def next_pending(self, webhook: str) -> Pending | None:
        """The oldest pending request for ``webhook``."""
        found = self.pending(webhook, limit=1)
        return found[0] if found else None

    def pending(self, webhook: str, limit: int = 100) -> list[Pending]:
        """Up to ``limit`` pending requests for ``webhook``, oldest first (at most one per
        canary: a newer decision supersedes the older ones)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, decision_id, method, url, headers, body, attempts FROM outbox"
                " WHERE webhook = ? AND state = 'pending' ORDER BY seq LIMIT ?",
                (webhook, limit)).fetchall()
        out = []
        for seq, decision, method, url, headers, body, attempts in rows:
            request = Request(webhook=webhook, decision_id=decision, method=method, url=url,
                              headers=tuple((str(k), str(v)) for k, v in json.loads(headers)),
                              body=bytes(body))
            out.append(Pending(seq=seq, request=request, attempts=attempts))
        return out

    def mark(self, seq: int, state: str, attempts: int, error: str | None) -> None:
        """Record an attempt's result: ``pending`` (retry later), ``delivered`` or ``failed``."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = ?, attempts = ?, last_error = ? WHERE seq = ?",
                (state, attempts, error, seq))

    def count(self, state: str, webhooks: Collection[str]) -> int:
        """How many requests of these webhooks are in ``state``."""
        names = list(webhooks)
        if not names:
            return 0
        marks = ",".join("?" * len(names))  # only '?' placeholders go into the SQL text
        with self._lock:
            row = self._db.execute(
                f"SELECT COUNT(*) FROM outbox WHERE state = ? AND webhook IN ({marks})",
                (state, *names)).fetchone()
        return int(row[0])

    def orphans(self, webhooks: Collection[str]) -> list[str]:
        """Webhooks with pending requests that are no longer configured."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT webhook FROM outbox WHERE state = 'pending'").fetchall()
        return sorted(str(r[0]) for r in rows if r[0] not in set(webhooks))

    def close(self) -> None:
        with self._lock:
            self._db.close()
