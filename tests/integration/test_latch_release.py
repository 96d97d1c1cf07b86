"""Latched rollbacks are released when the service's next release starts (real HTTP receiver).

The Flagger load tester's gate stays open after ``/rollback/open``; canarywatch closes it
(``/rollback/close``) at the next canary version's first verdict or a new Flagger revision,
across restarts, and not for the canary that rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from canarywatch.actions.testing import WebhookReceiver
from canarywatch.actions.webhooks import WebhookDispatcher
from canarywatch.config import ActionsConfig, RetryConfig, WebhookConfig
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Reason, Signal, Verdict
from canarywatch.metrics import create_metrics
from canarywatch.server.answers import FlaggerRequest, Hook
from canarywatch.server.board import VerdictBoard
from canarywatch.server.revisions import FlaggerRevisions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

RETRY = RetryConfig(max_attempts=20, base_delay_s=0.05, max_delay_s=0.2)
T0 = 1_795_000_000_000_000_000


def _verdict(canary: str, action: Action, at: int = T0) -> Verdict:
    reason = Reason(signal=Signal.LOG_SIGNATURE, summary="new ERROR template", failed=True)
    return Verdict(service="checkout", baseline_version="1.4.2", canary_version=canary,
                   action=action, at_unix_nano=at, score=0.0, reasons=(reason,))


def _gate(url: str, **fields: object) -> WebhookConfig:
    return WebhookConfig.model_validate({
        "name": "loadtester", "url": url, "preset": "flagger-loadtester", "on": ["rollback"],
        "params": {"namespace": "shop", "name": "checkout"}, **fields})


class _Dispatchers:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.made: list[WebhookDispatcher] = []

    def __call__(self, hook: WebhookConfig) -> WebhookDispatcher:
        d = WebhookDispatcher(ActionsConfig(webhooks=(hook,), retry=RETRY), self.state_dir,
                              create_metrics(CollectorRegistry()), environ={})
        self.made.append(d)
        return d


@pytest.fixture
def dispatchers(tmp_path: Path) -> Iterator[_Dispatchers]:
    made = _Dispatchers(tmp_path / "state")
    try:
        yield made
    finally:
        for d in made.made:
            d.close()


def _calls(receiver: WebhookReceiver) -> list[tuple[str, object]]:
    return [(r.path, r.json()) for r in receiver.accepted]


GATE = {"name": "checkout", "namespace": "shop"}


def test_next_canary_version_closes_the_gate_after_a_restart(
        dispatchers: _Dispatchers) -> None:
    """Rollback of 1.5.0 opens the gate; after a restart, 1.5.0's verdicts leave it open and
    1.6.0's first verdict (a continue, which this webhook is not 'on') closes it, once."""
    with WebhookReceiver() as receiver:
        first = dispatchers(_gate(receiver.url))
        first.send(_verdict("1.5.0", Action.CONTINUE))
        first.send(_verdict("1.5.0", Action.ROLLBACK))
        assert first.flush(10.0)
        first.close()
        second = dispatchers(_gate(receiver.url))
        second.send(_verdict("1.5.0", Action.ROLLBACK, T0 + 10))  # re-derived: nothing new
        assert second.flush(10.0)
        assert _calls(receiver) == [("/rollback/open", GATE)]
        second.send(_verdict("1.6.0", Action.CONTINUE, T0 + 3600))
        second.send(_verdict("1.6.0", Action.PROMOTE, T0 + 4200))
        assert second.flush(10.0)
        assert _calls(receiver) == [("/rollback/open", GATE), ("/rollback/close", GATE)]
        second.close()
        third = dispatchers(_gate(receiver.url))  # the release is not sent again
        third.send(_verdict("1.6.0", Action.PROMOTE, T0 + 4300))
        assert third.flush(10.0)
    assert len(receiver.accepted) == 2


def test_a_new_flagger_revision_closes_the_gate(dispatchers: _Dispatchers) -> None:
    """A Canary revision moving forward (same canary version label) releases the latch."""
    with WebhookReceiver() as receiver:
        d = dispatchers(_gate(receiver.url))
        board = VerdictBoard()
        revisions = FlaggerRevisions(on_new_revision=lambda s: d.release(s, why="revision"))
        rollback = _verdict("1.5.0", Action.ROLLBACK)
        board.send(rollback)
        d.send(rollback)
        assert d.flush(10.0)

        def ask(checksum: str) -> None:
            revisions.resolve(board, FlaggerRequest(
                service="checkout", namespace="shop", name="checkout", checksum=checksum,
                canary_version=None, hook=Hook.ROLLOUT, require_promote=False, token=None),
                authenticated=True)

        ask("rev-1")
        ask("rev-1")
        assert d.flush(10.0)
        assert _calls(receiver) == [("/rollback/open", GATE)]
        ask("rev-2")
        assert d.flush(10.0)
    assert _calls(receiver) == [("/rollback/open", GATE), ("/rollback/close", GATE)]


def test_a_pending_rollback_is_superseded_by_its_release(dispatchers: _Dispatchers,
                                                         tmp_path: Path) -> None:
    """Receiver down: the rollback waits; the next release starts; receiver back: only the
    close arrives (never an open after the close)."""
    receiver = WebhookReceiver()
    receiver.start()
    port = receiver.port
    receiver.stop()
    d = dispatchers(_gate(f"http://127.0.0.1:{port}/"))
    d.send(_verdict("1.5.0", Action.ROLLBACK))
    d.send(_verdict("1.6.0", Action.CONTINUE))
    with WebhookReceiver(port=port) as back:
        assert d.flush(15.0)
    assert _calls(back) == [("/rollback/close", GATE)]


def test_release_latch_is_refused_on_a_preset_that_does_not_latch() -> None:
    """release_latch: true on the generic preset is a config error naming the key."""
    hook = WebhookConfig.model_validate({"name": "x", "url": "http://127.0.0.1:1/",
                                         "release_latch": True})
    with pytest.raises(ConfigError, match=r"actions\.webhooks\.0\.release_latch"):
        WebhookDispatcher(ActionsConfig(webhooks=(hook,)), Path("/nonexistent"),
                          create_metrics(CollectorRegistry()), environ={})


def test_release_latch_false_leaves_the_gate_to_the_operator(
        dispatchers: _Dispatchers) -> None:
    """With release_latch: false nothing is sent when the next release starts."""
    with WebhookReceiver() as receiver:
        d = dispatchers(_gate(receiver.url, release_latch=False))
        d.send(_verdict("1.5.0", Action.ROLLBACK))
        d.send(_verdict("1.6.0", Action.CONTINUE))
        assert d.flush(10.0)
    assert _calls(receiver) == [("/rollback/open", GATE)]
