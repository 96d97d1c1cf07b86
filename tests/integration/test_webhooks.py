"""Webhook delivery end to end: real HTTP(S) receivers on loopback, a real SQLite outbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from canarywatch.actions.testing import Reply, WebhookReceiver
from canarywatch.actions.webhooks import OUTBOX_FILE, WebhookDispatcher, webhooks_from_flags
from canarywatch.config import ActionsConfig, RetryConfig, WebhookConfig
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Reason, Signal, Verdict
from canarywatch.metrics import create_metrics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FAST_RETRY = RetryConfig(max_attempts=50, base_delay_s=0.05, max_delay_s=0.2)
T0 = 1_795_000_000_000_000_000


def _verdict(action: Action = Action.ROLLBACK, canary: str = "1.5.0", at: int = T0,
             summary: str = 'payment "declined" <!channel>') -> Verdict:
    reason = Reason(signal=Signal.LOG_SIGNATURE, summary=summary, failed=True,
                    template="payment <*> declined", canary_count=14)
    return Verdict(service="checkout", baseline_version="1.4.2", canary_version=canary,
                   action=action, at_unix_nano=at, score=0.02, reasons=(reason,))


class Rig:
    """Dispatchers on one state directory, each with its own metrics registry."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.open: list[WebhookDispatcher] = []
        self.registry = CollectorRegistry()

    def dispatcher(self, webhooks: Sequence[WebhookConfig], retry: RetryConfig = FAST_RETRY,
                   environ: dict[str, str] | None = None) -> WebhookDispatcher:
        self.registry = CollectorRegistry()
        d = WebhookDispatcher(ActionsConfig(webhooks=tuple(webhooks), retry=retry),
                              self.state_dir, create_metrics(self.registry),
                              environ=environ or {})
        self.open.append(d)
        return d

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def close(self) -> None:
        for d in self.open:
            d.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path / "state")
    try:
        yield r
    finally:
        r.close()


def _hook(url: str, **fields: object) -> WebhookConfig:
    return WebhookConfig.model_validate({"name": "router", "url": url, **fields})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_flaky_receiver_gets_the_decision_once_with_a_valid_signature(rig: Rig) -> None:
    """Three failures (one with Retry-After: 1) then success: one decision, one id, signed."""
    replies = [Reply(503), Reply(429, retry_after="1"), Reply(500)]
    with WebhookReceiver(replies) as receiver:
        d = rig.dispatcher([_hook(receiver.url + "/hooks/cw", secret_env="HOOK_SECRET")],
                           environ={"HOOK_SECRET": "k3y"})
        d.send(_verdict())
        assert d.flush(20.0)
    attempts = receiver.received
    assert [r.status for r in attempts] == [503, 429, 500, 200]
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1
    assert len({r.body for r in attempts}) == 1
    delivered = receiver.accepted[0]
    body = delivered.json()
    assert isinstance(body, dict)
    assert body["id"] == delivered.headers["idempotency-key"]
    assert body["action"] == "rollback" and body["service"] == "checkout"
    assert body["reasons"][0]["summary"] == 'payment "declined" <!channel>'
    expected = hmac.new(b"k3y", delivered.body, hashlib.sha256).hexdigest()
    assert delivered.headers["x-canarywatch-signature"] == f"sha256={expected}"
    assert attempts[2].arrived_s - attempts[1].arrived_s >= 1.0  # Retry-After honoured
    assert rig.metric("canarywatch_webhook_attempts_total", webhook="router") == 4
    assert rig.metric("canarywatch_webhook_successes_total", webhook="router") == 1
    assert rig.metric("canarywatch_webhook_failures_total", webhook="router",
                      reason="http_503") == 1
    assert rig.metric("canarywatch_outbox_depth") == 0


def test_decision_made_while_receiver_is_down_arrives_after_a_restart(rig: Rig) -> None:
    """Receiver down, canarywatch restarted, receiver back: delivered once, same id."""
    port = _free_port()
    hook = _hook(f"http://127.0.0.1:{port}/hook")
    first = rig.dispatcher([hook])
    first.send(_verdict())
    deadline = time.monotonic() + 10
    while rig.metric("canarywatch_webhook_failures_total", webhook="router",
                     reason="connection") < 2:
        assert time.monotonic() < deadline, "no failed attempt against the closed port"
        time.sleep(0.02)
    assert rig.metric("canarywatch_outbox_depth") == 1
    first.close()
    with sqlite3.connect(rig.state_dir / OUTBOX_FILE) as db:
        (stored_id,) = db.execute("SELECT decision_id FROM outbox").fetchone()

    with WebhookReceiver(port=port) as receiver:
        second = rig.dispatcher([hook])
        assert second.flush(10.0)
        # The pipeline re-sending the same verdict, or the same action later, is no new decision.
        second.send(_verdict())
        second.send(_verdict(at=T0 + 60_000_000_000))
        assert second.flush(10.0)
        time.sleep(0.2)
    assert len(receiver.received) == 1
    delivered = receiver.received[0]
    assert delivered.headers["idempotency-key"] == stored_id
    body = delivered.json()
    assert isinstance(body, dict) and body["id"] == stored_id


def test_slow_receiver_does_not_slow_consumption(rig: Rig) -> None:
    """send() returns while a receiver holds a request; other webhooks keep delivering."""
    hold = threading.Event()
    with WebhookReceiver([Reply(200, hold=hold)]) as slow, WebhookReceiver() as fast:
        d = rig.dispatcher([
            _hook(slow.url, name="slow", on=["change"], timeout_s=30),
            _hook(fast.url, name="fast", on=["change"]),
        ])
        d.send(_verdict(canary="2.0"))
        assert slow.wait_arrived(1)
        for i in range(1, 31):
            d.send(_verdict(canary=f"2.{i}"))
        # Every send returned although the slow receiver has not answered anything yet.
        assert slow.received == [] and not hold.is_set()
        assert fast.wait_for(31)
        hold.set()
        assert d.flush(20.0)
    order = [r.json()["canary_version"] for r in slow.accepted]  # type: ignore[index]
    assert order == ["2.0", *[f"2.{i}" for i in range(1, 31)]]


def test_permanent_rejection_and_exhausted_retries_are_given_up(rig: Rig) -> None:
    """A 404 is not retried; 5xx stops after max_attempts; neither stays pending."""
    with WebhookReceiver([404]) as gone, WebhookReceiver([500, 500, 500]) as broken:
        d = rig.dispatcher([_hook(gone.url, name="gone"), _hook(broken.url, name="broken")],
                           retry=RetryConfig(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02))
        d.send(_verdict())
        assert not d.flush(10.0)  # nothing pending, but not everything delivered
        assert d.pending() == 0
    assert [r.status for r in gone.received] == [404]
    assert [r.status for r in broken.received] == [500, 500, 500]
    assert rig.metric("canarywatch_webhook_failures_total", webhook="gone",
                      reason="http_404") == 1
    with sqlite3.connect(rig.state_dir / OUTBOX_FILE) as db:
        states = dict(db.execute("SELECT webhook, state FROM outbox").fetchall())
    assert states == {"gone": "failed", "broken": "failed"}


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


def test_argo_abort_patches_over_tls_with_token_and_ca(rig: Rig, tmp_path: Path,
                                                       tls_files: tuple[Path, Path]) -> None:
    """The Argo preset PATCHes rollouts/<name>/status over verified TLS with the token."""
    cert, key = tls_files
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    token = tmp_path / "token"
    token.write_text("sa-token-1\n")
    with WebhookReceiver(tls=server_tls) as api:
        argo = _hook(api.url, name="argo", preset="argo-rollouts-abort", on=["change"],
                     bearer_token_file=str(token), ca_file=str(cert),
                     params={"namespace": "shop"})
        untrusted = _hook(api.url, name="untrusted", preset="argo-rollouts-abort",
                          params={"namespace": "shop"})
        d = rig.dispatcher([argo, untrusted], retry=RetryConfig(max_attempts=1))
        d.send(_verdict(Action.CONTINUE))
        d.send(_verdict(Action.ROLLBACK))
        assert not d.flush(10.0)  # the untrusted webhook gave up
        # (sent after the rollback was tried: a newer verdict supersedes a pending one)
        d.send(_verdict(Action.PROMOTE, at=T0 + 1))
        assert not d.flush(10.0)
        assert d.pending() == 0
    assert len(api.received) == 1
    patch = api.received[0]
    assert patch.method == "PATCH"
    assert patch.path == "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/checkout/status"
    assert patch.headers["content-type"] == "application/merge-patch+json"
    assert patch.headers["authorization"] == "Bearer sa-token-1"
    assert json.loads(patch.body) == {"status": {"abort": True}}
    assert rig.metric("canarywatch_webhook_failures_total", webhook="untrusted",
                      reason="tls") == 1


def test_flag_webhooks_send_every_change_signed_with_the_secret_file(rig: Rig,
                                                                      tmp_path: Path) -> None:
    """--webhook URLs get every change as generic JSON, signed with --webhook-secret-file."""
    secret = tmp_path / "secret"
    secret.write_text("flag-secret\n")
    with WebhookReceiver() as receiver:
        d = rig.dispatcher(webhooks_from_flags([receiver.url], secret))
        d.send(_verdict(Action.CONTINUE))
        assert d.flush(10.0)  # (else the rollback supersedes the continue still pending)
        d.send(_verdict(Action.ROLLBACK, at=T0 + 5))
        assert d.flush(10.0)
    actions = [r.json()["action"] for r in receiver.accepted]  # type: ignore[index]
    assert actions == ["continue", "rollback"]
    for r in receiver.accepted:
        mac = hmac.new(b"flag-secret", r.body, hashlib.sha256).hexdigest()
        assert r.headers["x-canarywatch-signature"] == f"sha256={mac}"
    with pytest.raises(ConfigError) as err:
        webhooks_from_flags(["localhost:8080/hook"], None)
    assert err.value.key == "--webhook"


def test_a_rollback_is_not_held_behind_an_older_decision_in_backoff(rig: Rig) -> None:
    """An older continue (another canary) told to retry in 60 s does not delay a rollback."""
    with WebhookReceiver([Reply(503, retry_after="60")]) as receiver:
        hook = _hook(receiver.url + "/hook", on=["change"])
        d = rig.dispatcher([hook])
        d.send(_verdict(Action.CONTINUE, canary="1.4.9"))
        deadline = time.monotonic() + 10
        while len(receiver.received) < 1:
            assert time.monotonic() < deadline, "the continue was never attempted"
            time.sleep(0.02)
        sent = time.monotonic()
        d.send(_verdict(Action.ROLLBACK))
        while len(receiver.received) < 2:
            assert time.monotonic() < deadline, "the rollback waited behind the backoff"
            time.sleep(0.02)
    rollback = receiver.received[1]
    assert rollback.json()["action"] == "rollback"
    assert rollback.arrived_s - sent < 5.0


def test_a_newer_verdict_supersedes_a_pending_one_for_the_same_canary(rig: Rig) -> None:
    """Receiver down: continue then rollback for one canary; back up, it gets the rollback only."""
    port = _free_port()
    hook = _hook(f"http://127.0.0.1:{port}/hook", on=["change"])
    d = rig.dispatcher([hook])
    d.send(_verdict(Action.CONTINUE))
    d.send(_verdict(Action.ROLLBACK, at=T0 + 30_000_000_000))
    with WebhookReceiver(port=port) as receiver:
        assert d.flush(15.0)
        time.sleep(0.2)
    assert [r.json()["action"] for r in receiver.received] == ["rollback"]
