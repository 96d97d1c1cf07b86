"""The board keeps the current verdict per canary and picks the one a router asks about."""

from __future__ import annotations

from canarywatch.events import Action, Verdict
from canarywatch.server.board import VerdictBoard


def _v(service: str, canary: str, action: Action, at: int) -> Verdict:
    return Verdict(service=service, baseline_version="1.0", canary_version=canary,
                   action=action, at_unix_nano=at, score=0.5)


def test_a_change_replaces_the_canary_verdict() -> None:
    """Each (service, canary version) has exactly its latest verdict."""
    board = VerdictBoard()
    board.send(_v("cart", "2.0", Action.CONTINUE, 1))
    board.send(_v("cart", "2.0", Action.ROLLBACK, 2))
    board.send(_v("auth", "5.0", Action.PROMOTE, 3))
    assert [(v.service, v.action) for v in board.current()] == [
        ("auth", Action.PROMOTE), ("cart", Action.ROLLBACK)]
    assert [v.canary_version for v in board.find("cart")] == ["2.0"]
    assert board.find("nope") == []


def test_select_prefers_the_named_then_the_latest_canary() -> None:
    """Without a version the newest verdict in event time answers; a named one wins."""
    board = VerdictBoard()
    board.send(_v("cart", "2.0", Action.ROLLBACK, 10))
    board.send(_v("cart", "2.1", Action.CONTINUE, 20))
    latest = board.select("cart")
    assert latest is not None and latest.canary_version == "2.1"
    named = board.select("cart", "2.0")
    assert named is not None and named.action is Action.ROLLBACK
    assert board.select("cart", "9.9") is None
    assert board.select("other") is None


def test_hidden_verdicts_do_not_count_until_their_canary_decides_again() -> None:
    """select/find skip a version's verdicts up to its hidden event time, not later ones."""
    board = VerdictBoard()
    board.send(_v("cart", "2.0", Action.ROLLBACK, 10))
    hidden = {"2.0": 10}
    assert board.select("cart", hidden=hidden) is None
    board.send(_v("cart", "2.1", Action.CONTINUE, 20))
    chosen = board.select("cart", hidden=hidden)
    assert chosen is not None and chosen.canary_version == "2.1"
    assert [v.canary_version for v in board.find("cart", hidden)] == ["2.1"]
    board.send(_v("cart", "2.0", Action.CONTINUE, 30))
    assert [v.canary_version for v in board.find("cart", hidden)] == ["2.0", "2.1"]
