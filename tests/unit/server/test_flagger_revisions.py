"""Flagger revisions move forward only where allowed, and survive a restart."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from canarywatch.errors import StateError
from canarywatch.events import Action, Verdict
from canarywatch.server.answers import FlaggerRequest, Hook
from canarywatch.server.board import VerdictBoard
from canarywatch.server.revisions import FlaggerRevisions


def _v(canary: str, action: Action, at: int) -> Verdict:
    return Verdict(service="cart", baseline_version="1.0", canary_version=canary,
                   action=action, at_unix_nano=at, score=0.5)


def _ask(checksum: str | None, name: str = "cart") -> FlaggerRequest:
    return FlaggerRequest(service="cart", namespace="shop", name=name, checksum=checksum,
                          canary_version=None, hook=Hook.ROLLOUT, require_promote=False,
                          token=None)


def test_first_checksum_is_recorded_and_hides_nothing() -> None:
    """The first checksum of a Canary is recorded; a call without one records nothing."""
    board, revisions = VerdictBoard(), FlaggerRevisions()
    board.send(_v("2.0", Action.ROLLBACK, 10))
    assert revisions.resolve(board, _ask(None), authenticated=False).hidden == {}
    assert revisions.get("shop", "cart") is None
    first = revisions.resolve(board, _ask("aaa"), authenticated=False)
    assert first.changed and first.hidden == {}
    again = revisions.resolve(board, _ask("aaa"), authenticated=False)
    assert not again.changed and again.refused is None


def test_unauthenticated_change_that_would_hide_a_rollback_is_refused() -> None:
    """Without the token, a new checksum cannot hide the rollback answering now."""
    board, revisions = VerdictBoard(), FlaggerRevisions()
    board.send(_v("2.0", Action.ROLLBACK, 10))
    revisions.resolve(board, _ask("aaa"), authenticated=False)
    refused = revisions.resolve(board, _ask("made-up"), authenticated=False)
    assert refused.refused is not None and "rollback" in refused.refused
    assert not refused.changed and refused.hidden == {}
    stored = revisions.get("shop", "cart")
    assert stored is not None and stored.checksum == "aaa"
    assert revisions.refused == 1


def test_unauthenticated_change_moves_once_a_newer_canary_answers() -> None:
    """A new checksum is accepted when a newer canary version's verdict answers instead."""
    board, revisions = VerdictBoard(), FlaggerRevisions()
    board.send(_v("2.0", Action.ROLLBACK, 10))
    revisions.resolve(board, _ask("aaa"), authenticated=False)
    board.send(_v("2.1", Action.CONTINUE, 20))
    moved = revisions.resolve(board, _ask("bbb"), authenticated=False)
    assert moved.changed and moved.refused is None
    assert moved.hidden == {"2.0": 10, "2.1": 20}


def test_authenticated_change_moves_at_once() -> None:
    """With the token, the next release's checksum hides the last release's rollback."""
    board, revisions = VerdictBoard(), FlaggerRevisions()
    board.send(_v("2.0", Action.ROLLBACK, 10))
    revisions.resolve(board, _ask("aaa"), authenticated=True)
    moved = revisions.resolve(board, _ask("bbb"), authenticated=True)
    assert moved.changed and moved.hidden == {"2.0": 10}
    assert board.select("cart", hidden=moved.hidden) is None


def test_revisions_survive_a_restart_in_a_0600_file(tmp_path: Path) -> None:
    """Recorded revisions are read back from flagger.sqlite3, which only its owner reads."""
    path = tmp_path / "state" / "flagger.sqlite3"
    board = VerdictBoard()
    board.send(_v("2.0", Action.ROLLBACK, 10))
    revisions = FlaggerRevisions(path)
    revisions.resolve(board, _ask("aaa"), authenticated=True)
    revisions.resolve(board, _ask("bbb"), authenticated=True)
    revisions.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    reopened = FlaggerRevisions(path)
    stored = reopened.get("shop", "cart")
    assert stored is not None and stored.checksum == "bbb" and stored.hidden == {"2.0": 10}
    # After the restart the reset attack still fails: the rollback of 2.1 stands.
    board.send(_v("2.1", Action.ROLLBACK, 30))
    assert reopened.resolve(board, _ask("made-up"), authenticated=False).refused is not None
    reopened.close()


def test_a_corrupt_revisions_file_is_a_state_error(tmp_path: Path) -> None:
    """A revisions file that is not SQLite stops the start with StateError."""
    path = tmp_path / "flagger.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError, match="Flagger revisions"):
        FlaggerRevisions(path)
