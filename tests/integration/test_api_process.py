"""The HTTP API in its own process: fed the agent's board and status, restarted when it dies,
asking the agent for /metrics; the bearer token file re-read when it changes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from canarywatch.config import ServerConfig
from canarywatch.events import Action, Reason, Signal, Verdict
from canarywatch.server import ApiServer, VerdictBoard
from canarywatch.server.auth import TokenFile
from canarywatch.server.http import bind
from canarywatch.server.process import ApiProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

TOKEN = "api-process-token-0123456789abcdef"


def _verdict(action: Action, at: int) -> Verdict:
    return Verdict(service="checkout", baseline_version="1.4.2", canary_version="1.5.0",
                   action=action, at_unix_nano=at, score=0.0,
                   reasons=(Reason(signal=Signal.ERROR_RATE, summary="5xx", failed=True),))


def _get(port: int, path: str, token: str | None = TOKEN) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _until(predicate: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Agent:
    """What the agent side gives the API process: a board, a registry, ready and live."""

    def __init__(self, tmp_path: Path) -> None:
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN)
        self.board = VerdictBoard()
        self.registry = CollectorRegistry()
        self.consumed = Counter("canarywatch_test_consumed", "records", registry=self.registry)
        self.ready = True
        self.live = True
        config = ServerConfig(listen="127.0.0.1:0", bearer_token_file=str(token_file))
        self.api = ApiProcess(bind("127.0.0.1", 0), config, self.board, self.registry,
                              ready=lambda: self.ready, live=lambda: self.live,
                              state_dir=tmp_path, page=lambda: b"<html>page</html>",
                              stale_s=120.0)

    def verdict_actions(self) -> list[str]:
        status, body = _get(self.api.port, "/v1/verdicts")
        return [v["action"] for v in json.loads(body)["verdicts"]] if status == 200 else []


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    agent = Agent(tmp_path)
    agent.api.start()
    yield agent
    agent.api.stop()


def test_api_process_serves_the_agents_board_and_status(agent: Agent) -> None:
    """A verdict on the agent's board is served by the API process; ready and live follow."""
    assert agent.api.pid != os.getpid()
    _until(lambda: _get(agent.api.port, "/readyz")[0] == 200, "ready")
    assert agent.verdict_actions() == []
    agent.board.send(_verdict(Action.ROLLBACK, 100))
    _until(lambda: agent.verdict_actions() == ["rollback"], "the verdict in the API process")
    agent.live = False
    _until(lambda: _get(agent.api.port, "/healthz")[0] == 503, "/healthz 503")
    agent.ready = False
    _until(lambda: _get(agent.api.port, "/readyz")[0] == 503, "/readyz 503")


def test_metrics_hold_the_agents_and_the_api_processs_counters(agent: Agent) -> None:
    """/metrics shows the agent's registry and the API process's own counters (401s)."""
    agent.consumed.inc(7)
    _until(lambda: _get(agent.api.port, "/healthz")[0] == 200, "the API process")
    assert _get(agent.api.port, "/v1/verdicts", token="wrong-token-0123456789")[0] == 401
    status, text = _get(agent.api.port, "/metrics", token=None)
    assert status == 200
    assert b"canarywatch_test_consumed_total 7.0" in text
    assert b'canarywatch_http_auth_failures_total{endpoint="verdicts"} 1.0' in text
    assert _get(agent.api.port, "/")[1] == b"<html>page</html>"


def test_a_killed_api_process_is_started_again_with_the_board(agent: Agent) -> None:
    """SIGKILL of the API process: a new one serves the same port and board, counted."""
    agent.board.send(_verdict(Action.ROLLBACK, 100))
    _until(lambda: agent.verdict_actions() == ["rollback"], "the verdict")
    first = agent.api.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    _until(lambda: agent.api.pid != first and agent.verdict_actions() == ["rollback"],
           "a new API process with the board")
    assert agent.registry.get_sample_value("canarywatch_api_process_restarts_total") == 1.0


def test_stop_ends_the_api_process_and_frees_the_port(tmp_path: Path) -> None:
    """After stop() the API process has exited and the port can be bound again."""
    agent = Agent(tmp_path)
    agent.api.start()
    port = agent.api.port
    _until(lambda: _get(port, "/healthz")[0] == 200, "the API process")
    pid = agent.api.pid
    agent.api.stop()
    assert pid is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: it exited
    bind("127.0.0.1", port).close()


def test_a_rotated_token_file_applies_without_restart(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Rewriting the token file switches the token; an unusable new file keeps the old one."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    config = ServerConfig(listen="127.0.0.1:0", bearer_token_file=str(token_file))
    server = ApiServer("127.0.0.1:0", VerdictBoard(), CollectorRegistry(), lambda: True,
                       bearer_token=TokenFile(config, check_s=0.0))
    server.start()
    try:
        assert _get(server.port, "/v1/verdicts")[0] == 200
        rotated = "rotated-token-fedcba9876543210"
        replacement = tmp_path / "token.new"
        replacement.write_text(rotated + "\n")
        replacement.replace(token_file)  # as Kubernetes swaps a Secret: a new inode
        assert _get(server.port, "/v1/verdicts")[0] == 401
        assert _get(server.port, "/v1/verdicts", token=rotated)[0] == 200
        token_file.write_text("short")
        assert _get(server.port, "/v1/verdicts", token=rotated)[0] == 200
        assert "the previous token stays in force" in caplog.text
        assert "short" not in caplog.text
    finally:
        server.stop()


def test_a_new_flagger_revision_reaches_the_agent_across_processes(tmp_path: Path) -> None:
    """A Flagger call with a new checksum (token given) makes the API process tell the agent
    that the service's next release started, once per move, never for the first checksum."""
    agent = Agent(tmp_path)
    released: list[str] = []
    agent.api = ApiProcess(bind("127.0.0.1", 0), ServerConfig(
        listen="127.0.0.1:0", bearer_token_file=str(tmp_path / "token")), agent.board,
        CollectorRegistry(), ready=lambda: True, live=lambda: True, state_dir=tmp_path,
        on_new_revision=released.append)
    agent.api.start()
    try:
        _until(lambda: _get(agent.api.port, "/readyz")[0] == 200, "ready")

        def hook(checksum: str) -> None:
            body = json.dumps({"name": "checkout", "namespace": "shop", "phase": "Progressing",
                               "checksum": checksum, "metadata": {"token": TOKEN}}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{agent.api.port}/v1/flagger/rollback", data=body,
                headers={"Content-Type": "application/json"}, method="POST")
            # 403 (nothing to roll back) records the revision all the same.
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=10).close()

        hook("rev-1")
        hook("rev-1")
        assert released == []
        hook("rev-2")
        _until(lambda: released == ["checkout"], "the release told to the agent")
    finally:
        agent.api.stop()
