"""The action interface: where verdict changes go once they are decided.

The pipeline calls :meth:`VerdictSink.send` for every verdict *change*, on its consuming
thread, so a sink must return quickly and never wait on a router. ``flush`` waits (bounded)
for pending work; ``close`` releases resources. :class:`InMemorySink` keeps what it was sent,
for tests; :class:`FanOut` sends one verdict to several sinks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from canarywatch.events import Verdict

logger = logging.getLogger(__name__)


class VerdictSink(Protocol):
    """Something that takes verdict changes: webhooks, the HTTP board, a test list."""

    def send(self, verdict: Verdict) -> None:
        """Accept one verdict change; never blocks on the outside world."""
        ...

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for pending deliveries; True when nothing is pending."""
        ...

    def close(self) -> None:
        """Stop background work; pending deliveries stay durable where the sink has storage."""
        ...


class InMemorySink:
    """Keeps every verdict it is sent, in order (for tests and ``replay``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verdicts: list[Verdict] = []

    def send(self, verdict: Verdict) -> None:
        with self._lock:
            self._verdicts.append(verdict)

    def flush(self, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        return None

    @property
    def verdicts(self) -> list[Verdict]:
        with self._lock:
            return list(self._verdicts)


class FanOut:
    """Sends each verdict to every sink; one failing sink does not starve the others."""

    def __init__(self, sinks: Sequence[VerdictSink]) -> None:
        self._sinks = tuple(sinks)

    def send(self, verdict: Verdict) -> None:
        for sink in self._sinks:
            try:
                sink.send(verdict)
            except Exception:  # a bug in one sink must not stop the others or the consumer
                logger.exception("verdict sink %s failed to accept a verdict",
                                 type(sink).__name__)

    def flush(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        done = True
        for sink in self._sinks:
            done = sink.flush(max(0.0, deadline - time.monotonic())) and done
        return done

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()
