"""Webhook credentials reach the receiver but never the outbox in clear."""

from __future__ import annotations

import base64
import logging
import sqlite3
import stat
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from canarywatch.actions.outbox import Outbox
from canarywatch.actions.spec import Request
from canarywatch.actions.testing import WebhookReceiver
from canarywatch.actions.webhooks import WebhookDispatcher
from canarywatch.config import ActionsConfig, RetryConfig, WebhookConfig
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Verdict
from canarywatch.metrics import create_metrics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

URL_PASSWORD = "p%40ss-in-the-url"  # percent-encoded '@'
API_KEY = "header-api-key-0123456789"
FILE_KEY = "file-header-key-abcdef"


def _verdict() -> Verdict:
    return Verdict(service="cart", baseline_version="1.0", canary_version="2.0",
                   action=Action.ROLLBACK, at_unix_nano=1_795_000_000_000_000_000, score=0.0)


def test_url_password_and_secret_headers_are_sent_but_not_stored(tmp_path: Path) -> None:
    """user:pass@ goes out as Basic auth, secret headers by reference; state files hold neither."""
    key_file = tmp_path / "key"
    key_file.write_text(FILE_KEY + "\n")
    state = tmp_path / "state"
    with WebhookReceiver() as receiver:
        hook = WebhookConfig(
            name="ops", on=("rollback",),
            url=receiver.url.replace("http://", f"http://ops:{URL_PASSWORD}@") + "/hook",
            secret_headers_env={"X-Api-Key": "HOOK_KEY"},
            secret_headers_file={"X-Other-Key": str(key_file)})
        dispatcher = WebhookDispatcher(
            ActionsConfig(webhooks=(hook,), retry=RetryConfig(base_delay_s=0.05)), state,
            create_metrics(CollectorRegistry()), environ={"HOOK_KEY": API_KEY})
        try:
            dispatcher.send(_verdict())
            assert dispatcher.flush(timeout_s=20.0)
        finally:
            dispatcher.close()
        [got] = receiver.received
    expected = base64.b64encode(b"ops:p@ss-in-the-url").decode()
    assert got.headers["authorization"] == f"Basic {expected}"
    assert got.headers["x-api-key"] == API_KEY
    assert got.headers["x-other-key"] == FILE_KEY
    assert got.path == "/hook"
    for path in state.iterdir():
        data = path.read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        for secret in (URL_PASSWORD, "p@ss-in-the-url", API_KEY, FILE_KEY, expected):
            assert secret.encode() not in data, (path.name, secret)


def test_a_plain_header_that_looks_secret_is_refused(tmp_path: Path) -> None:
    """A literal X-Api-Key header would be stored in clear: ConfigError naming it."""
    hook = WebhookConfig(name="a", url="http://127.0.0.1:9/", headers={"X-Api-Key": "abc"})
    with pytest.raises(ConfigError) as err:
        WebhookDispatcher(ActionsConfig(webhooks=(hook,)), tmp_path,
                          create_metrics(CollectorRegistry()), environ={})
    assert err.value.key == "actions.webhooks.0.headers.X-Api-Key"


def test_rows_from_older_versions_lose_their_url_password(tmp_path: Path) -> None:
    """An outbox row holding user:pass@ is rewritten without it when the outbox opens."""
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    outbox.record("cart", "2.0", "rollback", "cwd-1", [Request(
        webhook="ops", decision_id="cwd-1", method="POST",
        url="https://ops:old-secret-pw@hooks.example/x", headers=(), body=b"{}")])
    outbox.close()
    Outbox(path).close()
    with sqlite3.connect(path) as db:
        urls = [row[0] for row in db.execute("SELECT url FROM outbox")]
    assert urls == ["https://hooks.example/x"]


QUERY_TOKEN = "query-token-0123456789abcdef"
PATH_SECRET = "XXXXpathsecret0123456789"


def test_secrets_in_the_url_path_and_query_are_sent_but_never_stored_or_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A ?token= URL and a Slack-style path given by url_file reach the receiver; no state
    file, log line (DEBUG) or metric holds them, even after failed attempts."""
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "state"
    registry = CollectorRegistry()
    with WebhookReceiver(replies=[503, 503]) as receiver:
        url_file = tmp_path / "hook-url"
        url_file.write_text(f"{receiver.url}/services/T000/B000/{PATH_SECRET}\n")
        hooks = (WebhookConfig(name="query", on=("rollback",),
                               url=f"{receiver.url}/hook?token={QUERY_TOKEN}"),
                 WebhookConfig(name="slack", on=("rollback",), url_file=str(url_file)))
        dispatcher = WebhookDispatcher(
            ActionsConfig(webhooks=hooks, retry=RetryConfig(base_delay_s=0.05)), state,
            create_metrics(registry), environ={})
        try:
            dispatcher.send(_verdict())
            assert dispatcher.flush(timeout_s=20.0)
        finally:
            dispatcher.close()
        paths = sorted(r.path for r in receiver.received if r.status == 200)
    assert paths == [f"/hook?token={QUERY_TOKEN}", f"/services/T000/B000/{PATH_SECRET}"]
    assert "holds a credential (the query parameter 'token')" in caplog.text
    texts = {p.name: p.read_bytes() for p in state.iterdir()}
    texts["log"] = caplog.text.encode()
    texts["metrics"] = generate_latest(registry)
    for name, data in texts.items():
        for secret in (QUERY_TOKEN, PATH_SECRET):
            assert secret.encode() not in data, (name, secret)


def test_outbox_rows_from_older_versions_lose_a_secret_url(tmp_path: Path) -> None:
    """A pending row stored with a ?token= URL in clear is rewritten to the reference when
    the dispatcher opens, and still delivered to the full URL."""
    with WebhookReceiver() as receiver:
        url = f"{receiver.url}/hook?token={QUERY_TOKEN}"
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        outbox.record("cart", "2.0", "rollback", "cwd-1", [Request(
            webhook="query", decision_id="cwd-1", method="POST", url=url, headers=(),
            body=b"{}")])
        outbox.close()
        dispatcher = WebhookDispatcher(
            ActionsConfig(webhooks=(WebhookConfig(name="query", url=url),)), tmp_path,
            create_metrics(CollectorRegistry()), environ={})
        try:
            with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
                stored = [row[0] for row in db.execute("SELECT url FROM outbox")]
            assert dispatcher.flush(timeout_s=20.0)
        finally:
            dispatcher.close()
        assert [r.path for r in receiver.received] == [f"/hook?token={QUERY_TOKEN}"]
    assert stored == ["secret-url:"]


def test_a_url_file_without_a_url_is_refused_without_showing_it(tmp_path: Path) -> None:
    """url_file holding something else: ConfigError naming the key, not the content."""
    url_file = tmp_path / "hook-url"
    url_file.write_text("not-a-url-but-a-secret-0123456789")
    hook = WebhookConfig(name="a", url_file=str(url_file))
    with pytest.raises(ConfigError) as err:
        WebhookDispatcher(ActionsConfig(webhooks=(hook,)), tmp_path,
                          create_metrics(CollectorRegistry()), environ={})
    assert err.value.key == "actions.webhooks.0.url_file"
    assert "0123456789" not in str(err.value)
