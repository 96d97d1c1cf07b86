"""The outbox keeps decisions across restarts and never stores one decision twice."""

from __future__ import annotations

from pathlib import Path

from canarywatch.actions.outbox import Outbox
from canarywatch.actions.spec import Request


def _req(webhook: str, decision: str, body: bytes = b"{}") -> Request:
    return Request(webhook=webhook, decision_id=decision, method="POST", url="http://x/",
                   headers=(("Content-Type", "application/json"), ("X-A", "1")), body=body)


def test_requests_survive_reopening(tmp_path: Path) -> None:
    """A recorded request is pending, oldest first, after the outbox is reopened."""
    path = tmp_path / "state" / "outbox.sqlite3"
    box = Outbox(path)
    assert box.record("svc", "2", "rollback", "d1", [_req("a", "d1", b"one")])
    assert box.record("svc", "3", "rollback", "d2", [_req("a", "d2", b"two")])
    box.close()
    box = Outbox(path)
    first = box.next_pending("a")
    assert first is not None
    assert first.request == _req("a", "d1", b"one")
    assert first.attempts == 0
    box.mark(first.seq, "delivered", 1, None)
    second = box.next_pending("a")
    assert second is not None and second.request.decision_id == "d2"
    assert box.count("pending", ["a"]) == 1 and box.count("delivered", ["a"]) == 1


def test_same_decision_is_stored_once(tmp_path: Path) -> None:
    """The same id again, or the same action again for a canary, adds nothing."""
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.record("svc", "2", "rollback", "d1", [_req("a", "d1")])
    assert not box.record("svc", "2", "rollback", "d1", [_req("a", "d1")])
    assert not box.record("svc", "2", "rollback", "d9", [_req("a", "d9")])
    assert box.count("pending", ["a"]) == 1
    assert box.record("svc", "2", "continue", "d3", [])
    assert box.count("pending", ["a"]) == 0  # the newer continue superseded d1
    assert box.record("svc", "2", "rollback", "d4", [_req("a", "d4")])
    assert box.count("pending", ["a"]) == 1


def test_a_newer_decision_supersedes_the_pending_one_of_its_canary_only(tmp_path: Path) -> None:
    """Pending continue then rollback for one canary: only the rollback stays pending; another
    canary's pending decision is untouched; delivered ones are never superseded."""
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.record("svc", "2", "continue", "c1", [_req("a", "c1"), _req("b", "c1")])
    assert box.record("svc", "3", "continue", "o1", [_req("a", "o1")])
    first = box.next_pending("b")
    assert first is not None
    box.mark(first.seq, "delivered", 1, None)
    assert box.record("svc", "2", "rollback", "r1", [_req("a", "r1"), _req("b", "r1")])
    assert [p.request.decision_id for p in box.pending("a")] == ["o1", "r1"]
    assert [p.request.decision_id for p in box.pending("b")] == ["r1"]
    assert box.count("superseded", ["a"]) == 1 and box.count("delivered", ["b"]) == 1


def test_an_outbox_written_before_superseding_is_upgraded(tmp_path: Path) -> None:
    """An outbox file without the service columns opens, keeps its rows and supersedes."""
    import sqlite3

    path = tmp_path / "o.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, webhook TEXT NOT NULL,
              decision_id TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL,
              headers TEXT NOT NULL, body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
              state TEXT NOT NULL DEFAULT 'pending', last_error TEXT,
              UNIQUE (webhook, decision_id));
            INSERT INTO outbox (webhook, decision_id, method, url, headers, body)
              VALUES ('a', 'old', 'POST', 'http://x/', '[]', x'7b7d');""")
    box = Outbox(path)
    assert box.record("svc", "2", "rollback", "r1", [_req("a", "r1")])
    assert [p.request.decision_id for p in box.pending("a")] == ["old", "r1"]


def test_failed_attempts_are_counted_and_given_up(tmp_path: Path) -> None:
    """Marking keeps the attempt count; failed requests are no longer pending."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.record("svc", "2", "rollback", "d1", [_req("a", "d1"), _req("b", "d1")])
    item = box.next_pending("a")
    assert item is not None
    box.mark(item.seq, "pending", 3, "http_503")
    again = box.next_pending("a")
    assert again is not None and again.attempts == 3
    box.mark(item.seq, "failed", 4, "http_503")
    assert box.next_pending("a") is None
    assert box.count("failed", ["a"]) == 1
    assert box.orphans(["a"]) == ["b"]
