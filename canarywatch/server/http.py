"""The daemon's HTTP API (standard library only).

=======  ==========================  =================================================
method   path                        answer
=======  ==========================  =================================================
GET      ``/healthz``                200 while the consume loop makes progress
                                     (``live()``), 503 when it hangs or stalls
GET      ``/readyz``                 200 once ready (``ready()``), 503 before
GET      ``/metrics``                Prometheus exposition of the registry passed in
GET      ``/v1/verdicts``            ``{"verdicts": [Verdict.to_json(), ...]}``
GET      ``/v1/verdicts/<service>``  Argo Rollouts web metric JSON
                                     (``?canary_version=`` picks one canary)
POST     ``/v1/flagger/rollback``    Flagger ``rollback`` hook: 200 roll back, 403 not
POST     ``/v1/flagger/gate``        Flagger gate hooks (``?hook=rollout`` default,
                                     ``?hook=confirm-promotion``): 200 healthy, 403 not
=======  ==========================  =================================================

What each router is told, and why, is in :mod:`canarywatch.server.answers`. When a bearer
token is configured, the ``/v1/`` endpoints need ``Authorization: Bearer <token>`` (Flagger
webhooks cannot set headers, so the Flagger endpoints also take it as ``metadata.token``);
without it they answer 401. ``/healthz``, ``/readyz`` and ``/metrics`` stay open for probes
and scrapers.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from canarywatch.actions.credentials import read_secret
from canarywatch.config import ServerConfig
from canarywatch.server.answers import (
    Answer,
    BadRequestError,
    argo_result,
    gate_answer,
    parse_flagger,
    rollback_answer,
)
from canarywatch.server.board import FlaggerRevisions, VerdictBoard

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
_VERDICTS = "/v1/verdicts"


def load_bearer_token(config: ServerConfig) -> str | None:
    """The server's bearer token from ``server.bearer_token_env`` / ``_file``, or None."""
    return read_secret("server.bearer_token", config.bearer_token_env, config.bearer_token_file)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: ApiServer


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("http %s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: object) -> None:
        self._send(status, json.dumps(body).encode("utf-8"), "application/json")

    def _authorized(self, alternative: str | None = None) -> bool:
        token = self.server.api.bearer_token
        if token is None:
            return True
        header = self.headers.get("Authorization", "")
        offered = header[7:] if header[:7].lower() == "bearer " else alternative
        if offered is not None and hmac.compare_digest(offered.encode(), token.encode()):
            return True
        self._json(401, {"error": "missing or wrong bearer token"})
        return False

    def do_GET(self) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        path = url.path
        if path == "/healthz":
            live = api.live()
            self._json(200 if live else 503, {"status": "ok" if live else "stalled"})
        elif path == "/readyz":
            ready = api.ready()
            self._json(200 if ready else 503, {"ready": ready})
        elif path == "/metrics":
            self._send(200, generate_latest(api.registry), CONTENT_TYPE_LATEST)
        elif path in (_VERDICTS, _VERDICTS + "/"):
            if self._authorized():
                self._json(200, {"verdicts": [v.to_json() for v in api.board.current()]})
        elif path.startswith(_VERDICTS + "/"):
            if self._authorized():
                service = unquote(path[len(_VERDICTS) + 1:])
                version = dict(parse_qsl(url.query)).get("canary_version")
                self._json(200, argo_result(service, api.board.select(service, version)))
        elif path in ("/v1/flagger/rollback", "/v1/flagger/gate"):
            self._json(405, {"error": "use POST"})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        answer: Callable[..., Answer]
        if url.path == "/v1/flagger/rollback":
            answer = rollback_answer
        elif url.path == "/v1/flagger/gate":
            answer = gate_answer
        else:
            self.close_connection = True  # the body was not read
            self._json(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._json(400, {"error": "a JSON body up to 1 MiB is required"})
            return
        raw = self.rfile.read(length)
        try:
            request = parse_flagger(json.loads(raw), dict(parse_qsl(url.query)))
        except (ValueError, UnicodeDecodeError) as exc:  # BadRequestError and JSON errors
            message = str(exc) if isinstance(exc, BadRequestError) else "body is not valid JSON"
            self._json(400, {"error": message})
            return
        if not self._authorized(request.token):
            return
        api = self.server.api
        floor = api.revisions.floor(request.namespace, request.name, request.checksum,
                                    api.board.seq)
        verdict = api.board.select(request.service, request.canary_version, floor)
        result = answer(request, verdict)
        self._json(result.status, result.body)


class ApiServer:
    """Serves the endpoints above on ``listen`` (``HOST:PORT``; port 0 picks a free one)."""

    def __init__(self, listen: str, board: VerdictBoard, registry: CollectorRegistry,
                 ready: Callable[[], bool], bearer_token: str | None = None, *,
                 live: Callable[[], bool] = lambda: True) -> None:
        host, _, port = listen.rpartition(":")
        self._address = (host.strip("[]"), int(port))
        self.board = board
        self.registry = registry
        self.ready = ready
        self.live = live
        self.bearer_token = bearer_token or None
        self.revisions = FlaggerRevisions()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Bind and serve in a daemon thread; OSError when the address cannot be bound."""
        server_cls = _Server6 if ":" in self._address[0] else _Server
        server = server_cls(self._address, _Handler)
        server.api = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="api-server",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        logger.info("HTTP API listening on %s:%d", self._address[0], self.port)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = None
