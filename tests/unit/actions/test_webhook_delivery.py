"""Signatures, Retry-After, backoff and single attempts against a real loopback receiver."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from canarywatch.actions.credentials import Credentials
from canarywatch.actions.delivery import attempt, backoff_s, parse_retry_after, sign
from canarywatch.actions.spec import Request
from canarywatch.actions.testing import Reply, WebhookReceiver
from canarywatch.config import RetryConfig

NO_CREDENTIALS = Credentials(secret=None, bearer_token_file=None, bearer_token_env_value=None,
                             ca_file=None)


def _request(url: str, body: bytes = b'{"id":"cwd-1"}') -> Request:
    return Request(webhook="w", decision_id="cwd-1", method="POST", url=url,
                   headers=(("Content-Type", "application/json"),), body=body)


def test_signature_matches_the_rfc_4231_vector() -> None:
    """The signature is hex HMAC-SHA256 (RFC 4231 test case 2) with a sha256= prefix."""
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"Jefe", b"what do ya want for nothing?") == "sha256=" + expected


def test_retry_after_reads_seconds_and_http_dates() -> None:
    """Retry-After is delta-seconds or an HTTP-date; garbage is ignored."""
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    """Delay n lies in [c/2, c] with c = min(max, base * 2**(n-1))."""
    retry = RetryConfig(max_attempts=10, base_delay_s=1.0, max_delay_s=30.0)
    rng = random.Random(7)
    for attempts, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (9, 30.0)):
        for _ in range(50):
            delay = backoff_s(attempts, retry, rng)
            assert ceiling / 2 <= delay <= ceiling
    spread = {round(backoff_s(4, retry, rng), 6) for _ in range(20)}
    assert len(spread) > 10


def test_backoff_never_retries_before_retry_after() -> None:
    """A receiver's Retry-After wins over a shorter backoff."""
    retry = RetryConfig(base_delay_s=0.1, max_delay_s=1.0)
    assert backoff_s(1, retry, random.Random(1), retry_after_s=42.0) == 42.0


def test_attempt_sends_idempotency_key_signature_and_token(tmp_path: Path) -> None:
    """One attempt carries the id header, the body's HMAC and the current bearer token."""
    token_file = tmp_path / "token"
    token_file.write_text("tok-1\n")
    creds = Credentials(secret=b"s3cret", bearer_token_file=str(token_file),
                        bearer_token_env_value=None, ca_file=None)
    with WebhookReceiver() as receiver:
        outcome = attempt(_request(receiver.url + "/hook?x=1"), creds, 5.0, 0.0)
        token_file.write_text("tok-2\n")
        attempt(_request(receiver.url + "/hook"), creds, 5.0, 0.0)
    assert outcome.ok and outcome.status == 200
    first, second = receiver.received
    assert first.path == "/hook?x=1"
    assert first.headers["idempotency-key"] == "cwd-1"
    assert first.headers["x-canarywatch-signature"] == sign(b"s3cret", first.body)
    assert first.headers["authorization"] == "Bearer tok-1"
    assert second.headers["authorization"] == "Bearer tok-2"


def test_attempt_classifies_failures() -> None:
    """5xx/429 are retried with the Retry-After hint; 404 is permanent."""
    replies = [Reply(503, retry_after="7"), Reply(429), Reply(404)]
    with WebhookReceiver(replies) as receiver:
        busy = attempt(_request(receiver.url), NO_CREDENTIALS, 5.0, 0.0)
        limited = attempt(_request(receiver.url), NO_CREDENTIALS, 5.0, 0.0)
        missing = attempt(_request(receiver.url), NO_CREDENTIALS, 5.0, 0.0)
    assert (busy.ok, busy.reason, busy.retry_after_s, busy.permanent) == (
        False, "http_503", 7.0, False)
    assert (limited.reason, limited.permanent) == ("http_429", False)
    assert (missing.reason, missing.permanent) == ("http_404", True)


def test_attempt_reports_a_closed_port_as_a_connection_failure() -> None:
    """Nothing listening is a retryable connection failure, not an exception."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = attempt(_request(f"http://127.0.0.1:{port}/"), NO_CREDENTIALS, 2.0, 0.0)
    assert (outcome.ok, outcome.reason, outcome.permanent) == (False, "connection", False)
