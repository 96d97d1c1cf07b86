"""Per-service /metrics series, capped: the busiest services by name, the rest as ``other``.

One series per service and metric is what Prometheus users expect, until an agent sees
10,000 services (every one a series of every per-service metric, scraped forever). Past
``server.max_service_series`` services only the busiest keep their own label; the others are
summed under ``service="other"`` (the pattern of the endpoint cap, and of the cardinality
limits Prometheus guides ask for). The ranking (by events counted, from the cohort
resolver) is redone every :data:`RERANK_EVERY` updates, so its cost does not grow with the
services looked at each time; a service that leaves the top has its series removed.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable

from prometheus_client import Counter, Gauge

__all__ = ["OTHER", "RERANK_EVERY", "ServiceSeries"]

OTHER = "other"
RERANK_EVERY = 60  # housekeeping rounds between rankings (10 min of event time by default)


class ServiceSeries:
    """Gauges and counters labelled by service, at most ``limit`` services plus ``other``.

    ``traffic``: the events counted so far per service (for the ranking).
    """

    def __init__(self, limit: int, gauges: tuple[Gauge, ...], counters: tuple[Counter, ...],
                 traffic: Callable[[], dict[str, int]]) -> None:
        self._limit = limit
        self._gauges = gauges
        self._counters = counters
        self._traffic = traffic
        self._top: set[str] = set()
        self._values: dict[tuple[int, str], float] = {}  # (gauge index, service) -> value
        self._other: dict[int, float] = {}  # gauge index -> sum over services not in the top
        self._rounds = 0

    def label(self, service: str) -> str:
        """The label ``service`` is counted under now."""
        if service in self._top:
            return service
        if len(self._top) < self._limit:
            self._top.add(service)
            return service
        return OTHER

    def set(self, gauge: Gauge, service: str, value: float) -> None:
        """Set ``gauge`` (one of those given) for ``service``: its own series or its part of
        ``other``."""
        index = self._gauges.index(gauge)
        old = self._values.get((index, service), 0.0)
        self._values[(index, service)] = value
        if self.label(service) == service:
            gauge.labels(service).set(value)
        else:
            total = self._other[index] = self._other.get(index, 0.0) + value - old
            gauge.labels(OTHER).set(total)

    def inc(self, counter: Counter, service: str, amount: float) -> None:
        counter.labels(self.label(service)).inc(amount)

    def round(self) -> None:
        """One housekeeping round; every :data:`RERANK_EVERY`-th ranks services again."""
        self._rounds += 1
        if self._rounds % RERANK_EVERY == 0:
            self.rerank()

    def rerank(self) -> None:
        """The busiest ``limit`` services keep their own series; the rest move to ``other``."""
        traffic = self._traffic()
        if len(traffic) <= self._limit and len(self._top) <= self._limit:
            self._top |= set(traffic)
            return
        top = set(heapq.nlargest(self._limit, traffic, key=traffic.__getitem__))
        for service in self._top - top:
            for gauge in (*self._gauges, *self._counters):
                with contextlib.suppress(KeyError):  # never set for this service
                    gauge.remove(service)
        self._top = top
        self._other = {}
        for (index, service), value in self._values.items():
            gauge = self._gauges[index]
            if service in top:
                gauge.labels(service).set(value)
            else:
                self._other[index] = self._other.get(index, 0.0) + value
        for index, total in self._other.items():
            self._gauges[index].labels(OTHER).set(total)

    @property
    def services_with_series(self) -> int:
        return len(self._top)
