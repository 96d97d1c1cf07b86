"""Which endpoint a log line belongs to, through its trace id.

A request's log lines are usually written before its SERVER span ends, so they wait here
until the span arrives (or ``wait_ns`` of event time passes, when they are released without
an endpoint). Lines that come after their span (exceptions recorded on it) find the endpoint
among recently ended spans: the last ``max_recent`` to ``2 x max_recent`` of them, kept as two
generations of plain dicts (the newer is looked at first; when it is full, it becomes the older
and the older is dropped), which costs one dict store per span instead of LRU bookkeeping.
Memory is bounded by the traffic of ``wait_ns`` and by ``max_pending`` lines waiting: a feed
whose spans never come (logs only, or spans on a topic this agent does not read) at tens of
thousands of lines per second would otherwise hold every traced line for ``wait_ns``; past the
bound the longest-waiting lines go without an endpoint (they were counted already).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NO_ENDPOINT = ""
MAX_PENDING_LINES = 100_000


@dataclass(frozen=True, slots=True)
class PendingLine:
    """One log line waiting for its endpoint."""

    service: str
    version: str
    trace_id: str
    time_unix_nano: int
    template_id: int

    def to_json(self) -> list[Any]:
        return [self.service, self.version, self.trace_id, self.time_unix_nano,
                self.template_id]

    @classmethod
    def from_json(cls, data: list[Any]) -> PendingLine:
        return cls(str(data[0]), str(data[1]), str(data[2]), int(data[3]), int(data[4]))


class TraceJoin:
    """Pairs log lines with the endpoint of the request (trace) that wrote them."""

    def __init__(self, wait_ns: int, max_recent: int = 2048,
                 max_pending: int = MAX_PENDING_LINES) -> None:
        self._wait_ns = wait_ns
        self._max_recent = max_recent
        self._max_pending = max_pending
        self._waiting = 0  # lines in _pending
        self._pending: dict[tuple[str, str], list[PendingLine]] = {}
        self._recent: dict[tuple[str, str], str] = {}
        self._older: dict[tuple[str, str], str] = {}

    def line(self, line: PendingLine) -> list[tuple[PendingLine, str]]:
        """Lines whose endpoint is known now: this one if its span already ended, else none."""
        if not line.trace_id:
            return [(line, NO_ENDPOINT)]
        key = (line.service, line.trace_id)
        endpoint = self._recent.get(key)
        if endpoint is None:
            endpoint = self._older.get(key)
        if endpoint is not None:
            return [(line, endpoint)]
        self._pending.setdefault(key, []).append(line)
        self._waiting += 1
        if self._waiting > self._max_pending:
            self._drop_oldest(self._waiting - self._max_pending)
        return []

    def _drop_oldest(self, n: int) -> None:
        """Stop waiting for the traces waited on longest (dicts keep arrival order) until at
        least ``n`` lines are gone."""
        pending = self._pending
        while n > 0 and pending:
            lines = pending.pop(next(iter(pending)))
            self._waiting -= len(lines)
            n -= len(lines)

    @property
    def waiting(self) -> int:
        """Lines waiting for their span."""
        return self._waiting

    def span(self, service: str, trace_id: str, endpoint: str) -> list[tuple[PendingLine, str]]:
        """The lines that waited for this span, now with its endpoint."""
        if not trace_id:
            return []
        key = (service, trace_id)
        recent = self._recent
        recent[key] = endpoint
        if len(recent) >= self._max_recent:
            self._older, self._recent = recent, {}
        if not self._pending:  # a spans-only feed: nothing ever waits
            return []
        waiting = self._pending.pop(key, None)
        if not waiting:
            return []
        self._waiting -= len(waiting)
        return [(line, endpoint) for line in waiting]

    def expire(self, now_unix_nano: int) -> list[tuple[PendingLine, str]]:
        """Lines that waited longer than ``wait_ns``: released without an endpoint."""
        cutoff = now_unix_nano - self._wait_ns
        out: list[tuple[PendingLine, str]] = []
        for key in [k for k, lines in self._pending.items() if lines[0].time_unix_nano < cutoff]:
            out.extend((line, NO_ENDPOINT) for line in self._pending.pop(key))
        self._waiting -= len(out)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"pending": [x.to_json() for lines in self._pending.values() for x in lines],
                "older": [[s, t, e] for (s, t), e in self._older.items()],
                "recent": [[s, t, e] for (s, t), e in self._recent.items()]}

    def restore(self, data: dict[str, Any]) -> None:
        self._pending = {}
        for raw in data.get("pending", []):
            line = PendingLine.from_json(raw)
            self._pending.setdefault((line.service, line.trace_id), []).append(line)
        self._waiting = sum(map(len, self._pending.values()))
        self._older = {(str(s), str(t)): str(e) for s, t, e in data.get("older", [])}
        self._recent = {(str(s), str(t)): str(e) for s, t, e in data.get("recent", [])}
