"""Nobody changes a rollback decision without being allowed to: auth, revisions, limits."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from canarywatch.events import Action, Reason, Signal, Verdict
from canarywatch.server import ApiServer, VerdictBoard
from canarywatch.server.revisions import FlaggerRevisions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TOKEN = "the-real-token-0123456789abcdef"
ROLLBACK_OF_150 = Verdict(
    service="checkout", baseline_version="1.4.2", canary_version="1.5.0",
    action=Action.ROLLBACK, at_unix_nano=100, score=0.0,
    reasons=(Reason(signal=Signal.ERROR_RATE, summary="5xx up", failed=True),))


class Api:
    def __init__(self, token: str | None, tmp_path: Path) -> None:
        self.board = VerdictBoard()
        self.board.send(ROLLBACK_OF_150)
        self.registry = CollectorRegistry()
        self.revisions = FlaggerRevisions(tmp_path / "flagger.sqlite3")
        self.server = ApiServer("127.0.0.1:0", self.board, self.registry, lambda: True,
                                bearer_token=token, revisions=self.revisions)
        self.server.start()

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
        conn = HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
        finally:
            conn.close()

    def flagger(self, path: str, checksum: str, token: str | None = None,
                header_token: str | None = None) -> int:
        metadata = {"token": token} if token is not None else {}
        payload = {"name": "checkout", "namespace": "shop", "phase": "Progressing",
                   "checksum": checksum, "metadata": metadata}
        headers = {"Content-Type": "application/json"}
        if header_token is not None:
            headers["Authorization"] = f"Bearer {header_token}"
        return self.call("POST", path, json.dumps(payload).encode(), headers)[0]

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def api_with_token(tmp_path: Path) -> Iterator[Api]:
    api = Api(TOKEN, tmp_path)
    yield api
    api.server.stop()
    api.revisions.close()


@pytest.fixture
def api_without_token(tmp_path: Path) -> Iterator[Api]:
    api = Api(None, tmp_path)
    yield api
    api.server.stop()
    api.revisions.close()


PROTECTED = [("GET", "/v1/verdicts", "verdicts"), ("GET", "/v1/verdicts/checkout", "verdicts"),
             ("POST", "/v1/flagger/rollback", "flagger_rollback"),
             ("POST", "/v1/flagger/gate?hook=rollout", "flagger_gate"),
             ("POST", "/v1/flagger/gate?hook=confirm-promotion", "flagger_gate")]


@pytest.mark.parametrize(("method", "path", "endpoint"), PROTECTED)
@pytest.mark.parametrize("offered", [None, "wrong-token-0123456789abcdef", TOKEN[:-1]])
def test_unauthenticated_requests_get_401_and_change_nothing(
        api_with_token: Api, method: str, path: str, endpoint: str,
        offered: str | None) -> None:
    """No token or a wrong one: 401, counted, and no Canary revision is recorded."""
    api = api_with_token
    payload = {"name": "checkout", "namespace": "shop", "checksum": "attacker",
               "metadata": {"token": offered} if offered else {}}
    body = json.dumps(payload).encode() if method == "POST" else None
    headers = {"Authorization": f"Bearer {offered}"} if offered and method == "GET" else {}
    status, answer = api.call(method, path, body, headers)
    assert status == 401
    assert "verdicts" not in answer and "action" not in answer  # nothing leaks either
    assert api.revisions.get("shop", "checkout") is None
    assert api.board.current() == [ROLLBACK_OF_150]
    assert api.metric("canarywatch_http_auth_failures_total", endpoint=endpoint) == 1.0


def test_probes_and_metrics_stay_open(api_with_token: Api) -> None:
    """/healthz, /readyz and /metrics answer without a token."""
    for path in ("/healthz", "/readyz"):
        assert api_with_token.call("GET", path)[0] == 200
    conn = HTTPConnection("127.0.0.1", api_with_token.server.port, timeout=5)
    conn.request("GET", "/metrics")
    assert conn.getresponse().status == 200
    conn.close()


def test_revision_reset_attack_fails_with_a_token(api_with_token: Api) -> None:
    """Flagger (with the token) sees the rollback; a tokenless made-up checksum changes nothing."""
    api = api_with_token
    assert api.flagger("/v1/flagger/rollback", "real-rev", token=TOKEN) == 200
    assert api.flagger("/v1/flagger/gate", "made-up") == 401
    assert api.flagger("/v1/flagger/gate", "made-up", token="guess-0123456789abcdef") == 401
    assert api.flagger("/v1/flagger/rollback", "real-rev", header_token=TOKEN) == 200
    assert api.flagger("/v1/flagger/gate?hook=rollout", "real-rev", token=TOKEN) == 403
    stored = api.revisions.get("shop", "checkout")
    assert stored is not None and stored.checksum == "real-rev"


def test_revision_reset_attack_fails_without_a_token(api_without_token: Api) -> None:
    """No token: a made-up checksum cannot hide the rollback; refused, logged, counted."""
    api = api_without_token
    assert api.flagger("/v1/flagger/rollback", "real-rev") == 200
    status, body = api.call("POST", "/v1/flagger/gate", json.dumps(
        {"name": "checkout", "namespace": "shop", "checksum": "made-up"}).encode())
    assert status == 403  # the attacker's own call is answered under the real revision
    assert "refused" in str(body["revision"])
    assert api.flagger("/v1/flagger/rollback", "made-up") == 200
    # Flagger's own calls still see the rollback
    assert api.flagger("/v1/flagger/rollback", "real-rev") == 200
    assert api.flagger("/v1/flagger/gate?hook=rollout", "real-rev") == 403
    stored = api.revisions.get("shop", "checkout")
    assert stored is not None and stored.checksum == "real-rev" and stored.hidden == {}
    assert api.metric("canarywatch_flagger_revision_refused_total") == 2.0


def test_revision_reset_attack_fails_after_a_restart(tmp_path: Path) -> None:
    """The recorded revision survives a restart, so a fresh start is no window for a reset."""
    first = Api(None, tmp_path)
    try:
        assert first.flagger("/v1/flagger/rollback", "real-rev") == 200
    finally:
        first.server.stop()
        first.revisions.close()
    second = Api(None, tmp_path)
    try:
        assert second.flagger("/v1/flagger/rollback", "made-up") == 200
        assert second.flagger("/v1/flagger/rollback", "real-rev") == 200
    finally:
        second.server.stop()
        second.revisions.close()


def test_oversized_deep_and_empty_bodies_are_refused(api_without_token: Api) -> None:
    """Over 1 MiB: 413; 1 MiB of nested arrays or 40 levels: 400; no body: 400."""
    api = api_without_token
    big = b'{"name": "' + b"x" * (1 << 20) + b'"}'
    assert api.call("POST", "/v1/flagger/rollback", big)[0] == 413
    nested = b"[" * ((1 << 20) - 1)
    status, body = api.call("POST", "/v1/flagger/rollback", nested)
    assert status == 400 and "nested" in str(body["error"])
    forty = b'{"a":' * 40 + b"1" + b"}" * 40
    assert api.call("POST", "/v1/flagger/gate", forty)[0] == 400
    assert api.call("POST", "/v1/flagger/gate", b"")[0] == 400
    assert api.call("GET", "/healthz")[0] == 200  # and the server is still there


def _run(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "canarywatch", "run", "--http-listen", "0.0.0.0:0",
         "--bootstrap-servers", "127.0.0.1:9", "--state-dir", str(tmp_path / "state"),
         "--log-format", "text", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


@pytest.mark.timeout(240)
def test_non_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    """0.0.0.0 without a token: exit 2, naming server.bearer_token_file and how to set it."""
    process = _run(tmp_path)
    out, _ = process.communicate(timeout=200)  # a loaded machine imports slowly
    assert process.returncode == 2
    text = out.decode()
    assert "server.bearer_token_file" in text and "openssl rand" in text
    assert "--insecure-no-auth" in text


@pytest.mark.timeout(240)
def test_insecure_no_auth_starts_and_says_so(tmp_path: Path) -> None:
    """--insecure-no-auth serves off loopback, with a warning at start."""
    process = _run(tmp_path, "--insecure-no-auth")
    try:
        deadline = time.monotonic() + 200
        seen = b""
        assert process.stdout is not None
        while time.monotonic() < deadline and b"--insecure-no-auth" not in seen:
            seen += process.stdout.readline()
        assert b"WARNING" in seen and b"without a token" in seen
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
