"""`canarywatch replay` and webhooks: never called by accident, delivered with --deliver."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from canarywatch.actions.testing import WebhookReceiver
from canarywatch.cli import main
from canarywatch.sim import Fault, Scenario, write_collector_files

SCENARIO = Scenario(duration_s=240.0, seed=31,
                    faults=(Fault("new_error", start_s=60.0, endpoint="GET /cart",
                                  magnitude=0.3),))


def test_replay_calls_no_webhook_without_deliver(tmp_path: Path) -> None:
    """A replay with --webhook but without --deliver sends nothing to the router."""
    files = [str(p) for p in write_collector_files(SCENARIO, tmp_path / "in")]
    with WebhookReceiver() as receiver:
        code = main(["replay", "--webhook", receiver.url, "--state-dir",
                     str(tmp_path / "state"), *files])
        assert code == 3
        assert not receiver.wait_arrived(1, timeout_s=1.0)


def test_replay_deliver_sends_each_change_signed(tmp_path: Path) -> None:
    """With --deliver every verdict change reaches the webhook once, signed with the secret."""
    files = [str(p) for p in write_collector_files(SCENARIO, tmp_path / "in")]
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    with WebhookReceiver() as receiver:
        code = main(["replay", "--deliver", "--webhook", receiver.url,
                     "--webhook-secret-file", str(secret), "--state-dir",
                     str(tmp_path / "state"), *files])
        assert code == 3
        actions = []
        for request in receiver.accepted:
            body = request.json()
            assert isinstance(body, dict)
            actions.append(body["action"])
            digest = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
            assert request.headers["x-canarywatch-signature"] == f"sha256={digest}"
            assert request.headers["idempotency-key"] == body["id"]
        assert actions[-1] == "rollback"
        assert actions.count("rollback") == 1
