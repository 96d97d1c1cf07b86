"""The daemon's HTTP API in a process of its own, fed with snapshots of the agent's state.

Why a process: the consume loop is CPU-bound Python. On a thread of the same process the API
waits for the GIL after every system call it makes (accept, read, write, close: each one
releases the GIL, and the consume loop takes it back for up to ``sys.getswitchinterval()``),
and behind every long C call of the loop (a state checkpoint's JSON encoding holds the GIL
for tens of milliseconds). 1,000 concurrent ``GET /v1/verdicts`` then took 1.8 s at p99 and
``/healthz`` 250 ms on an idle two-core machine. In its own process the API has its own GIL
and the operating system schedules both side by side.

What crosses between the two, over two socket pairs (pickled tuples; both ends are this
code, nothing from the network is unpickled):

- agent -> API (``feed``): the whole verdict board each time it changes, and every
  :data:`STATUS_EVERY_S` what ``ready()`` and ``live()`` answer. The API process answers
  ``/healthz`` 503 when that status is older than ``stale_s``: the agent process stopped
  answering.
- API -> agent (``ask``): ``GET /metrics`` asks for the agent's exposition (the API process
  appends its own counters: auth failures, refused revisions, timeouts), ``GET /`` for the
  report page, ``GET /v1/models[/<service>]`` for the rolling history (an empty answer: no
  such service); a Flagger revision that moved forward tells the agent
  (``release:<service>``) so its webhooks release the rollbacks receivers latch for that
  service. One question at a time, each within :data:`~canarywatch.server.http.
  REQUEST_TIMEOUT_S`.

The agent binds the listening socket (so a taken port is a ConfigError at start, as before)
and keeps it: an API process that dies is started again (after :data:`RESTART_MIN_S`,
doubling up to :data:`RESTART_MAX_S`; counted in ``canarywatch_api_process_restarts_total``)
and connections wait in the listen backlog meanwhile. The API process dies with the agent
(``PR_SET_PDEATHSIG`` on Linux; elsewhere when its feed closes), ignores SIGINT and SIGTERM
(the agent stops it after its own shutdown), opens ``flagger.sqlite3`` itself (the agent no
longer touches it) and reads the bearer token itself, again when the file changes
(:class:`~canarywatch.server.auth.TokenFile`).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from canarywatch.config import ServerConfig
from canarywatch.server.board import VerdictBoard
from canarywatch.server.http import REQUEST_TIMEOUT_S

logger = logging.getLogger(__name__)

STATUS_EVERY_S = 0.25
RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STOP_WAIT_S = 5.0
_RELEASE = "release:"  # a question that tells the agent a service's next release started


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """What the API process is started with (the first message on its feed)."""

    server: ServerConfig
    state_dir: str | None
    stale_s: float
    log_level: str
    log_format: str
    page: bool
    models: bool = False


class ApiProcess:
    """Runs :class:`~canarywatch.server.http.ApiServer` in a child process (see the module
    docstring) on ``sock``, a listening socket from :func:`~canarywatch.server.http.bind`.

    ``board`` is the agent's verdict board; ``ready``/``live`` and ``page`` are called on
    this process's threads, as :class:`ApiServer` would call them.
    """

    def __init__(self, sock: socket.socket, config: ServerConfig, board: VerdictBoard,
                 registry: CollectorRegistry, *, ready: Callable[[], bool],
                 live: Callable[[], bool], state_dir: Path | None = None,
                 page: Callable[[], bytes] | None = None, stale_s: float = 120.0,
                 models: Callable[[str | None], bytes | None] | None = None,
                 on_new_revision: Callable[[str], object] | None = None) -> None:
        self._sock = sock
        self._on_new_revision = on_new_revision
        self._board = board
        self._registry = registry
        self._ready = ready
        self._live = live
        self._page = page
        self._models = models
        root = logging.getLogger()
        self._spec = ApiSpec(config, str(state_dir) if state_dir is not None else None,
                             stale_s, logging.getLevelName(root.getEffectiveLevel()),
                             _log_format(root), page is not None, models is not None)
        self._restarts = Counter("canarywatch_api_process_restarts",
                                 "Times the HTTP API process died and was started again",
                                 registry=registry)
        self._stopping = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._feed: Connection | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def pid(self) -> int | None:
        """The API process's id (None before :meth:`start`)."""
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        """Start the API process and the thread that feeds and supervises it."""
        self._spawn()
        self._thread = threading.Thread(target=self._supervise, name="api-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the API process (it closes its connections) and release the port."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2 * STOP_WAIT_S)
        if self._child is not None:
            _wait_or_kill(self._child)
        self._sock.close()

    # -- agent side ---------------------------------------------------------------------------

    def _spawn(self) -> None:
        feed_here, feed_there = socket.socketpair()
        ask_here, ask_there = socket.socketpair()
        fds = (self._sock.fileno(), feed_there.fileno(), ask_there.fileno())
        self._child = subprocess.Popen(
            [sys.executable, "-m", "canarywatch.server.process", str(os.getpid()),
             *map(str, fds)], pass_fds=fds, stdin=subprocess.DEVNULL)
        feed_there.close()
        ask_there.close()
        self._feed = Connection(feed_here.detach())
        self._feed.send(self._spec)
        ask = Connection(ask_here.detach())
        threading.Thread(target=self._answer, args=(ask,), name="api-ask", daemon=True).start()
        logger.debug("HTTP API process %d started", self._child.pid)

    def _supervise(self) -> None:
        """Feed the board and the status; start the API process again when it dies."""
        sent = -1
        delay_s = RESTART_MIN_S
        started_at = time.monotonic()
        while True:  # a stop is seen inside, so the API process is always told
            version = self._board.wait_changed(sent, STATUS_EVERY_S)
            assert self._child is not None and self._feed is not None
            try:
                if self._stopping.is_set():
                    self._feed.send(("stop",))
                    # PR_SET_PDEATHSIG fires when the thread that started the process ends:
                    # let a process this thread started finish its shutdown first.
                    _wait_or_kill(self._child)
                    break
                if version != sent:
                    self._feed.send(("board", self._board.current()))
                    sent = version
                self._feed.send(("status", self._ready(), self._live()))
                continue
            except OSError:  # the API process is gone (or going): see below
                pass
            code = _wait_or_kill(self._child)
            self._feed.close()
            if self._stopping.is_set():
                break
            if time.monotonic() - started_at > RESTART_MAX_S:
                delay_s = RESTART_MIN_S
            logger.error("the HTTP API process exited with code %s; starting it again in "
                         "%.0f s", code, delay_s)
            if self._stopping.wait(delay_s):
                break
            delay_s = min(RESTART_MAX_S, delay_s * 2)
            self._restarts.inc()
            self._spawn()
            started_at = time.monotonic()
            sent = -1
        if self._feed is not None:
            self._feed.close()

    def _answer(self, ask: Connection) -> None:
        """Answer the API process's questions (``metrics``, ``page``) until it goes away."""
        from prometheus_client import generate_latest  # noqa: PLC0415

        with ask:
            while True:
                try:
                    number, what = ask.recv()
                except (EOFError, OSError):
                    return
                try:
                    if what == "metrics":
                        body = generate_latest(self._registry)
                    elif what == "page" and self._page is not None:
                        body = self._page()
                    elif what.startswith("models") and self._models is not None:
                        body = self._models(what[len("models/"):] or None) or b""
                    elif what.startswith(_RELEASE):
                        if self._on_new_revision is not None:
                            self._on_new_revision(what[len(_RELEASE):])
                        body = b"ok"
                    else:
                        raise ValueError(f"unknown question {what!r}")
                    answer: tuple[int, bool, bytes | str] = (number, True, body)
                except Exception as exc:  # answered as an error, never fatal here
                    logger.exception("answering the HTTP API process's %r", what)
                    answer = (number, False, f"{type(exc).__name__}: {exc}")
                try:
                    ask.send(answer)
                except OSError:
                    return


def _wait_or_kill(child: subprocess.Popen[bytes]) -> int:
    """``child``'s exit code, killing it if it has not exited within :data:`STOP_WAIT_S`."""
    try:
        return child.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def _log_format(root: logging.Logger) -> str:
    from canarywatch.logsetup import JsonFormatter  # noqa: PLC0415

    formatters = [h.formatter for h in root.handlers]
    return "json" if any(isinstance(f, JsonFormatter) for f in formatters) else "text"


# -- API process side -------------------------------------------------------------------------


class _Status:
    """The agent's last ``ready``/``live`` as fed, and when it came."""

    def __init__(self, stale_s: float) -> None:
        self.stale_s = stale_s
        self.ready = False
        self.live = True
        self.at = time.monotonic()

    def is_live(self) -> bool:
        return self.live and time.monotonic() - self.at <= self.stale_s


class _Asker:
    """Asks the agent process one question at a time (from the server's executor threads)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._number = 0

    def __call__(self, what: str) -> bytes:
        with self._lock:
            self._number += 1
            self._conn.send((self._number, what))
            deadline = time.monotonic() + REQUEST_TIMEOUT_S
            while True:  # an answer to an earlier question that timed out is dropped
                if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"the agent did not answer {what!r}")
                number, ok, body = self._conn.recv()
                if number != self._number:
                    continue
                if not ok:
                    raise RuntimeError(f"the agent could not answer {what!r}: {body}")
                assert isinstance(body, bytes)
                return body


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the agent died before prctl
        os._exit(0)


def main(argv: list[str]) -> int:
    """``python -m canarywatch.server.process PARENT_PID LISTEN_FD FEED_FD ASK_FD``."""
    parent_pid, listen_fd, feed_fd, ask_fd = map(int, argv)
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from canarywatch import logsetup  # noqa: PLC0415
    from canarywatch.server.auth import TokenFile, load_bearer_token  # noqa: PLC0415
    from canarywatch.server.http import ApiServer  # noqa: PLC0415
    from canarywatch.server.revisions import FILE_NAME, FlaggerRevisions  # noqa: PLC0415

    feed = Connection(feed_fd)
    spec: ApiSpec = feed.recv()
    logsetup.configure(spec.log_level, spec.log_format)
    config = spec.server
    token = (TokenFile(config) if config.bearer_token_file else load_bearer_token(config))
    ask = _Asker(Connection(ask_fd))
    revisions = FlaggerRevisions(Path(spec.state_dir) / FILE_NAME
                                 if spec.state_dir is not None else None,
                                 on_new_revision=lambda service: ask(_RELEASE + service))
    board = VerdictBoard()
    status = _Status(spec.stale_s)
    server = ApiServer(config.listen, board, CollectorRegistry(), lambda: status.ready,
                       bearer_token=token, revisions=revisions, live=status.is_live,
                       page=(lambda: ask("page")) if spec.page else None,
                       more_metrics=lambda: ask("metrics"),
                       models=(lambda service: ask(f"models/{service or ''}") or None)
                       if spec.models else None,
                       sock=socket.socket(fileno=listen_fd))
    server.start()
    try:
        while True:
            try:
                message = feed.recv()
            except (EOFError, OSError):
                break
            if message[0] == "board":
                board.replace_all(message[1])
            elif message[0] == "status":
                status.ready, status.live, status.at = message[1], message[2], time.monotonic()
            elif message[0] == "stop":
                break
    finally:
        server.stop()
        revisions.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
