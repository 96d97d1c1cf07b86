"""The daemon's HTTP API, served by aiohttp on its own thread and event loop.

=======  ==========================  ====  =============================================
method   path                        auth  answer
=======  ==========================  ====  =============================================
GET      ``/healthz``                no    200 while the consume loop makes progress
                                           (``live()``), 503 when it hangs or stalls
GET      ``/readyz``                 no    200 once ready (``ready()``), 503 before
GET      ``/metrics``                no    Prometheus exposition of the registry passed in
GET      ``/``                       yes   HTML report of the current canaries
                                           (:mod:`canarywatch.server.page`), when given
GET      ``/v1/verdicts``            yes   ``{"verdicts": [Verdict.to_json(), ...]}``
GET      ``/v1/verdicts/<service>``  yes   Argo Rollouts web metric JSON
                                           (``?canary_version=`` picks one canary)
GET      ``/v1/models``              yes   the daemon's rolling history per service:
                                           ``{"models": [{service, versions, windows, ...}]}``
GET      ``/v1/models/<service>``    yes   that history as a model file
                                           (:mod:`canarywatch.history.store`); 404 if none
POST     ``/v1/flagger/rollback``    yes   Flagger ``rollback`` hook: 200 roll back, 403 not
POST     ``/v1/flagger/gate``        yes   Flagger gate hooks (``?hook=rollout`` default,
                                           ``?hook=confirm-promotion``): 200 healthy, 403 not
=======  ==========================  ====  =============================================

What each router is told, and why, is in :mod:`canarywatch.server.answers`; what a Flagger
call may change (its Canary's revision, nothing else) in :mod:`canarywatch.server.revisions`.
When a bearer token is configured, the "auth" endpoints need ``Authorization: Bearer <token>``
(Flagger webhooks cannot set headers, so the Flagger endpoints also take it as
``metadata.token``); without it they answer 401, change nothing, and the attempt is counted in
``canarywatch_http_auth_failures_total{endpoint}``. Off loopback a token is required (see
:mod:`canarywatch.server.auth`).

Limits: bodies over :data:`MAX_BODY_BYTES` get 413; JSON nested deeper than
:data:`MAX_JSON_DEPTH` gets 400; a request not answered within :data:`REQUEST_TIMEOUT_S`
(a slow body included) gets 503; a connection that sends no complete request within
:data:`IDLE_TIMEOUT_S` is closed. The listen backlog is :data:`BACKLOG`; connections cost no
thread, so slow clients cannot starve ``/healthz``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from canarywatch.events import Verdict
from canarywatch.server.answers import (
    Answer,
    BadRequestError,
    FlaggerRequest,
    argo_result,
    gate_answer,
    parse_flagger,
    rollback_answer,
)
from canarywatch.server.auth import TokenFile, load_bearer_token, token_matches
from canarywatch.server.board import VerdictBoard
from canarywatch.server.revisions import FlaggerRevisions

__all__ = ["ApiServer", "load_bearer_token", "parse_json"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 1 << 20
MAX_JSON_DEPTH: Final = 32
REQUEST_TIMEOUT_S: Final = 10.0
IDLE_TIMEOUT_S: Final = 15.0
BACKLOG: Final = 4096

_T = TypeVar("_T")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode("utf-8"),
                        content_type="application/json", headers={"Cache-Control": "no-store"})


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` with the :data:`BACKLOG`; OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


async def _within(waiting: Awaitable[_T]) -> _T:
    """``await waiting``, or TimeoutError after :data:`REQUEST_TIMEOUT_S`."""
    return await asyncio.wait_for(waiting, REQUEST_TIMEOUT_S)


class _FixedToken:
    """A token given as a value (tests, the demo): it never changes."""

    def __init__(self, token: str) -> None:
        self._token = token

    def current(self) -> str:
        return self._token


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Parse a request body; BadRequestError when it is not JSON or nests deeper than
    ``max_depth`` (objects and arrays)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadRequestError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise BadRequestError("body is not valid JSON") from None
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = (node.values() if isinstance(node, dict)
                    else node if isinstance(node, list) else None)
        if children is None:
            continue
        if depth > max_depth:
            raise BadRequestError(f"JSON nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)
    return value


class ApiServer:
    """Serves the endpoints above on ``listen`` (``HOST:PORT``; port 0 picks a free one).

    ``revisions`` defaults to an in-memory :class:`FlaggerRevisions`; the daemon passes one
    kept in the state directory. Counters are registered on ``registry``.
    """

    def __init__(self, listen: str, board: VerdictBoard, registry: CollectorRegistry,
                 ready: Callable[[], bool], *, bearer_token: str | TokenFile | None = None,
                 revisions: FlaggerRevisions | None = None,
                 live: Callable[[], bool] = lambda: True,
                 page: Callable[[], bytes] | None = None,
                 more_metrics: Callable[[], bytes] | None = None,
                 sock: socket.socket | None = None,
                 models: Callable[[str | None], bytes | None] | None = None) -> None:
        host, _, port = listen.rpartition(":")
        self._address = (host.strip("[]"), int(port))
        self._sock = sock  # already bound and listening (the API process gets its parent's)
        self.board = board
        self.registry = registry
        self.ready = ready
        self.live = live
        self.page = page  # GET /: renders the HTML report (blocking; run off the loop)
        # GET /metrics: exposition text served before this registry's (blocking; off the loop)
        self.more_metrics = more_metrics
        self._tokens: TokenFile | _FixedToken | None = (
            bearer_token if isinstance(bearer_token, TokenFile)
            else _FixedToken(bearer_token) if bearer_token else None)
        # GET /v1/models[/<service>]: the JSON body, None for an unknown service (blocking)
        self.models = models
        self.revisions = revisions if revisions is not None else FlaggerRevisions()
        self._auth_failures = Counter(
            "canarywatch_http_auth_failures", "Requests refused for a missing or wrong token",
            ["endpoint"], registry=registry)
        self._refused = Counter(
            "canarywatch_flagger_revision_refused",
            "Flagger revision changes refused because they would hide a rollback",
            registry=registry)
        self._timeouts = Counter("canarywatch_http_timeouts",
                                 "Requests not answered within the per-request timeout",
                                 registry=registry)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._verdicts_body: tuple[int, bytes] | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    # -- handlers -------------------------------------------------------------------------

    @property
    def bearer_token(self) -> str | None:
        """The token requests must present now, or None when none is configured."""
        return self._tokens.current() if self._tokens is not None else None

    @web.middleware
    async def _guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        # Only handlers that wait for something (a body, the page, the agent's metrics) wrap
        # that wait in a timeout (_within): a timeout task per request cost the answers that
        # wait for nothing (/healthz, /v1/verdicts) about a tenth of their time.
        try:
            return await handler(request)
        except asyncio.TimeoutError:
            self._timeouts.inc()
            response = _json(503, {"error": f"not answered within {REQUEST_TIMEOUT_S:g} s"})
            response.force_close()
            return response
        except web.HTTPException as exc:  # aiohttp's own answers (404, 405, 413) as JSON
            if exc.status == 413:
                return _json(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return _json(exc.status, {"error": exc.reason})

    def _authorized(self, request: web.Request, endpoint: str,
                    alternative: str | None = None) -> bool:
        token = self.bearer_token
        if token is None:
            return True
        header = request.headers.get("Authorization", "")
        offered = header[7:] if header[:7].lower() == "bearer " else alternative
        if token_matches(offered, token):
            return True
        self._auth_failures.labels(endpoint).inc()
        logger.info("HTTP %s %s from %s: missing or wrong bearer token", request.method,
                    request.path, request.remote)
        return False

    async def _healthz(self, _request: web.Request) -> web.Response:
        live = self.live()
        return _json(200 if live else 503, {"status": "ok" if live else "stalled"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        ready = self.ready()
        return _json(200 if ready else 503, {"ready": ready})

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        if self.more_metrics is not None:
            more = await _within(asyncio.get_running_loop().run_in_executor(
                None, self.more_metrics))
            body = more + body
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _page(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "page"):
            return _json(401, {"error": "missing or wrong bearer token"})
        assert self.page is not None
        body = await _within(asyncio.get_running_loop().run_in_executor(None, self.page))
        return web.Response(body=body, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def _verdicts(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "verdicts"):
            return _json(401, {"error": "missing or wrong bearer token"})
        version = self.board.version
        cached = self._verdicts_body
        if cached is None or cached[0] != version:  # render once per board change
            body = json.dumps({"verdicts": [v.to_json() for v in self.board.current()]})
            cached = self._verdicts_body = (version, body.encode("utf-8"))
        return web.Response(body=cached[1], content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def _verdict(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "verdicts"):
            return _json(401, {"error": "missing or wrong bearer token"})
        service = request.match_info["service"]
        version = request.query.get("canary_version")
        return _json(200, argo_result(service, self.board.select(service, version)))

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "models"):
            return _json(401, {"error": "missing or wrong bearer token"})
        service = request.match_info.get("service")
        models = self.models
        body = None if models is None else await _within(
            asyncio.get_running_loop().run_in_executor(None, models, service))
        if body is None:
            if service is None:
                body = b'{"models": []}'
            else:
                return _json(404, {"error": f"no history of service {service!r}"})
        return web.Response(body=body, content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def _use_post(self, _request: web.Request) -> web.Response:
        return _json(405, {"error": "use POST"})

    async def _rollback(self, request: web.Request) -> web.Response:
        return await self._flagger(request, rollback_answer, "flagger_rollback")

    async def _gate(self, request: web.Request) -> web.Response:
        return await self._flagger(request, gate_answer, "flagger_gate")

    async def _flagger(self, request: web.Request,
                       answer: Callable[[FlaggerRequest, Verdict | None], Answer],
                       endpoint: str) -> web.Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _json(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
        raw = await _within(request.read())
        if not raw:
            return _json(400, {"error": "a JSON body up to 1 MiB is required"})
        try:
            asked = parse_flagger(parse_json(raw), request.query)
        except BadRequestError as exc:
            return _json(400, {"error": str(exc)})
        if not self._authorized(request, endpoint, asked.token):
            return _json(401, {"error": "missing or wrong bearer token"})
        resolution = self.revisions.resolve(self.board, asked,
                                            authenticated=self._tokens is not None,
                                            client=str(request.remote))
        verdict = self.board.select(asked.service, asked.canary_version, resolution.hidden)
        result = answer(asked, verdict)
        body = result.body
        if resolution.refused is not None:
            self._refused.inc()
            body = {**body, "revision": resolution.refused}
        return _json(result.status, body)

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._guard])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        if self.page is not None:
            app.router.add_get("/", self._page)
        app.router.add_get("/v1/verdicts", self._verdicts)
        app.router.add_get("/v1/verdicts/", self._verdicts)
        app.router.add_get("/v1/verdicts/{service:.+}", self._verdict)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/", self._models)
        app.router.add_get("/v1/models/{service:.+}", self._models)
        for path, handler in (("/v1/flagger/rollback", self._rollback),
                              ("/v1/flagger/gate", self._gate)):
            app.router.add_post(path, handler)
            app.router.add_get(path, self._use_post)
        return app

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and serve on a daemon thread; OSError when the address cannot be bound."""
        host, port = self._address
        sock = self._sock if self._sock is not None else bind(host, port)
        self._port = int(sock.getsockname()[1])
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False,
                               keepalive_timeout=IDLE_TIMEOUT_S, handler_cancellation=True,
                               shutdown_timeout=2.0)
        failed: list[BaseException] = []
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(runner.setup())
                loop.run_until_complete(web.SockSite(runner, sock).start())
            except BaseException as exc:  # handed to start()'s caller
                failed.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(runner.cleanup())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="api-server", daemon=True)
        self._thread.start()
        started.wait()
        if failed:
            sock.close()
            self._loop = self._thread = None
            raise failed[0]
        logger.info("HTTP API listening on %s:%d", host, self.port)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10.0)
        self._loop = self._thread = None
