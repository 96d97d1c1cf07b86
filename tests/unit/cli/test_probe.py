"""`canarywatch probe`: the container health check follows the configured port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import run_cli


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/healthz": 200, "/readyz": 503}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def alive_not_ready() -> Iterator[int]:
    """A real HTTP server: /healthz 200, /readyz 503."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_probe_uses_the_port_from_the_environment(script: Path, alive_not_ready: int) -> None:
    """probe asks /healthz on CANARYWATCH_SERVER__LISTEN's port (wildcard host -> loopback)."""
    env = {"CANARYWATCH_SERVER__LISTEN": f"0.0.0.0:{alive_not_ready}"}
    live = run_cli(["probe"], env=env)
    assert live.returncode == 0, live.stderr
    assert f"127.0.0.1:{alive_not_ready}/healthz" in live.stdout
    ready = run_cli(["probe", "--ready"], env=env)
    assert ready.returncode == 1
    assert "/readyz: 503" in ready.stderr


def test_probe_fails_when_nothing_listens(script: Path, alive_not_ready: int) -> None:
    """With no daemon on the configured port, probe exits 1 (unhealthy), not 0."""
    result = run_cli(["probe"], env={"CANARYWATCH_SERVER__LISTEN": "127.0.0.1:1"})
    assert result.returncode == 1
    assert "127.0.0.1:1/healthz" in result.stderr
