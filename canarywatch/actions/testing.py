"""A real webhook receiver on loopback, scripted per request, for tests and benchmarks.

Plain HTTP, or HTTPS when given a server ``ssl.SSLContext``.

``WebhookReceiver(replies=[503, 503, Reply(429, retry_after="1"), 200])`` answers the first
requests with those replies and 200 afterwards; every request is recorded. A reply with
``hold`` set waits for that event before answering (a hung router), one with ``delay_s``
sleeps that long (a slow one).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    retry_after: str | None = None
    hold: threading.Event | None = None
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the receiver saw it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    arrived_s: float  # time.monotonic() when the request arrived

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class _State:
    replies: deque[Reply]
    received: list[Received] = field(default_factory=list)
    arrived: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length > 0 else b""
        arrived_s = time.monotonic()
        state = self.server.state
        with state.cond:
            reply = state.replies.popleft() if state.replies else Reply()
            state.arrived += 1
            state.cond.notify_all()
        if reply.hold is not None:
            reply.hold.wait(30.0)
        if reply.delay_s > 0:
            time.sleep(reply.delay_s)
        seen = Received(self.command, self.path,
                        {k.lower(): v for k, v in self.headers.items()}, body, reply.status,
                        arrived_s)
        with state.cond:
            state.received.append(seen)
            state.cond.notify_all()
        self.send_response(reply.status)
        if reply.retry_after is not None:
            self.send_header("Retry-After", reply.retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()


class WebhookReceiver:
    """Records requests on ``http://127.0.0.1:<port>``; ``port`` 0 picks a free one."""

    def __init__(self, replies: Sequence[int | Reply] = (), port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        self._state = _State(deque(r if isinstance(r, Reply) else Reply(r) for r in replies))
        self._port = port
        self._tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookReceiver:
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.state = self._state
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.1})
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    @property
    def received(self) -> list[Received]:
        with self._state.cond:
            return list(self._state.received)

    @property
    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx."""
        return [r for r in self.received if 200 <= r.status < 300]

    def wait_arrived(self, count: int, timeout_s: float = 10.0) -> bool:
        """Wait until ``count`` requests arrived (answered or still held); False on timeout."""
        with self._state.cond:
            return self._state.cond.wait_for(lambda: self._state.arrived >= count, timeout_s)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> bool:
        """Wait until ``count`` requests were received; False on timeout."""
        with self._state.cond:
            return self._state.cond.wait_for(lambda: len(self._state.received) >= count,
                                             timeout_s)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
