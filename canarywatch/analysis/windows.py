"""Time-bucketed summaries per (service, version), kept inside a sliding window.

Each version of a service keeps one slot per ``bucket_s`` of event time: per endpoint the
requests, errors and a latency histogram; per template the number of lines. A comparison merges
the slots inside the window, so a fault that starts late is not diluted by hours of healthy
history, and memory is bounded by (window / bucket) x (endpoints + templates).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from math import floor, log
from typing import Any

from canarywatch.analysis.histogram import LOG_GROWTH, MIN_INDEX, MIN_MS, Histogram

EXAMPLES = 3  # trace ids kept per endpoint and slot: the slowest, and the latest errors


@dataclass(slots=True)
class EndpointCounts:
    requests: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=Histogram)
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (duration_ms, trace id)
    error_traces: list[str] = field(default_factory=list)  # latest last

    def add(self, is_error: bool, duration_ms: float, trace_id: str) -> None:
        self.requests += 1
        self.latency.add(duration_ms)
        if is_error:
            self.errors += 1
            if trace_id:
                self.error_traces = [*self.error_traces[1 - EXAMPLES:], trace_id]
        if trace_id and (len(self.slowest) < EXAMPLES or duration_ms > self.slowest[-1][0]):
            self.slowest = sorted([*self.slowest, (duration_ms, trace_id)], reverse=True)
            del self.slowest[EXAMPLES:]

    def merge(self, other: EndpointCounts) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.latency.merge(other.latency)
        if other.slowest:
            self.slowest = sorted([*self.slowest, *other.slowest], reverse=True)[:EXAMPLES]
        if other.error_traces:
            self.error_traces = [*self.error_traces, *other.error_traces][-EXAMPLES:]

    def to_json(self) -> list[Any]:
        return [self.requests, self.errors, self.latency.to_json(),
                [list(x) for x in self.slowest], self.error_traces]

    @classmethod
    def from_json(cls, data: list[Any]) -> EndpointCounts:
        return cls(int(data[0]), int(data[1]), Histogram.from_json(data[2]),
                   [(float(ms), str(t)) for ms, t in data[3]], [str(t) for t in data[4]])


@dataclass(slots=True)
class Slot:
    """What one version of one service did during one time bucket."""

    endpoints: dict[str, EndpointCounts] = field(default_factory=dict)
    templates: dict[int, int] = field(default_factory=dict)
    # Lines per (template, endpoint of the request that wrote them), where the trace told.
    by_endpoint: dict[tuple[int, str], int] = field(default_factory=dict)
    logs: int = 0
    # Lines (counted in `logs`) of templates the miner evicted since: no longer by template.
    evicted_logs: int = 0

    def forget_templates(self, gone: set[int]) -> None:
        """Fold the lines of templates in ``gone`` into :attr:`evicted_logs`."""
        templates = self.templates
        if len(gone) < len(templates):
            hit = [tid for tid in gone if tid in templates]
        else:
            hit = [tid for tid in templates if tid in gone]
        for tid in hit:
            self.evicted_logs += templates.pop(tid)
        if hit and self.by_endpoint:
            self.by_endpoint = {k: n for k, n in self.by_endpoint.items() if k[0] not in gone}

    def merge(self, other: Slot) -> None:
        """Add another slot's counts to this one."""
        for name, counts in other.endpoints.items():
            mine = self.endpoints.get(name)
            if mine is None:
                mine = self.endpoints[name] = EndpointCounts()
            mine.merge(counts)
        for tid, n in other.templates.items():
            self.templates[tid] = self.templates.get(tid, 0) + n
        for key, n in other.by_endpoint.items():
            self.by_endpoint[key] = self.by_endpoint.get(key, 0) + n
        self.logs += other.logs

    def to_json(self) -> dict[str, Any]:
        out = {"endpoints": {k: v.to_json() for k, v in self.endpoints.items()},
               "templates": {str(k): v for k, v in self.templates.items()},
               "by_endpoint": [[t, e, n] for (t, e), n in self.by_endpoint.items()],
               "logs": self.logs}
        if self.evicted_logs:
            out["evicted_logs"] = self.evicted_logs
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Slot:
        return cls({k: EndpointCounts.from_json(v) for k, v in data["endpoints"].items()},
                   {int(k): int(v) for k, v in data["templates"].items()},
                   {(int(t), str(e)): int(n) for t, e, n in data.get("by_endpoint", [])},
                   int(data["logs"]), int(data.get("evicted_logs", 0)))


@dataclass(slots=True)
class Summary:
    """The merged slots of one version inside a window."""

    endpoints: dict[str, EndpointCounts] = field(default_factory=dict)
    templates: dict[int, int] = field(default_factory=dict)
    by_endpoint: dict[tuple[int, str], int] = field(default_factory=dict)
    logs: int = 0

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints.values())

    def all_endpoints(self) -> EndpointCounts:
        """Every endpoint pooled together."""
        out = EndpointCounts()
        for counts in self.endpoints.values():
            out.merge(counts)
        return out

    @classmethod
    def of(cls, slots: Iterable[Slot]) -> Summary:
        out = cls()
        for slot in slots:
            for name, counts in slot.endpoints.items():
                mine = out.endpoints.get(name)
                if mine is None:
                    mine = out.endpoints[name] = EndpointCounts()
                mine.merge(counts)
            for tid, n in slot.templates.items():
                out.templates[tid] = out.templates.get(tid, 0) + n
            for key, n in slot.by_endpoint.items():
                out.by_endpoint[key] = out.by_endpoint.get(key, 0) + n
            out.logs += slot.logs
        return out


class VersionWindow:
    """The slots of one (service, version), oldest evicted as event time moves on."""

    def __init__(self, bucket_ns: int, keep_slots: int) -> None:
        self._bucket_ns = bucket_ns
        self._keep = keep_slots
        self._slots: dict[int, Slot] = {}
        # Every slot evicted so far, merged: with the slots, everything since the start (the
        # always-valid tests' data; bounded like one slot).
        self._retired = Slot()
        self._newest = -1
        self.first_seen_unix_nano: int | None = None
        # The slot most events go to (the current bucket), to skip the dict lookup.
        self._hot_index = -1
        self._hot: Slot | None = None

    def _slot(self, t_unix_nano: int) -> Slot:
        first = self.first_seen_unix_nano
        if first is None or t_unix_nano < first:
            self.first_seen_unix_nano = t_unix_nano
        index = t_unix_nano // self._bucket_ns
        if index == self._hot_index and self._hot is not None:
            return self._hot
        slot = self._slots.get(index)
        if slot is None:
            slot = self._slots[index] = Slot()
            if index > self._newest:
                self._newest = index
                self.evict(index - self._keep)
        self._hot_index, self._hot = index, slot
        return slot

    def add_span(self, t_unix_nano: int, endpoint: str, is_error: bool, duration_ms: float,
                 trace_id: str = "") -> None:
        """One request of ``endpoint``: :meth:`EndpointCounts.add` written out, as this runs
        once per SERVER span."""
        slot = self._hot
        first = self.first_seen_unix_nano
        if (slot is None or first is None or t_unix_nano < first
                or t_unix_nano // self._bucket_ns != self._hot_index):
            slot = self._slot(t_unix_nano)
        counts = slot.endpoints.get(endpoint)
        if counts is None:
            counts = slot.endpoints[endpoint] = EndpointCounts()
        counts.requests += 1
        latency = counts.latency
        index = MIN_INDEX if duration_ms <= MIN_MS else floor(log(duration_ms) / LOG_GROWTH)
        buckets = latency.counts
        buckets[index] = buckets.get(index, 0) + 1
        latency.total += 1
        if is_error:
            counts.errors += 1
            if trace_id:
                counts.error_traces = [*counts.error_traces[1 - EXAMPLES:], trace_id]
        if trace_id:
            slowest = counts.slowest
            if len(slowest) < EXAMPLES or duration_ms > slowest[-1][0]:
                slowest = sorted([*slowest, (duration_ms, trace_id)], reverse=True)
                del slowest[EXAMPLES:]
                counts.slowest = slowest

    def add_log(self, t_unix_nano: int, template_id: int) -> None:
        slot = self._slot(t_unix_nano)
        slot.templates[template_id] = slot.templates.get(template_id, 0) + 1
        slot.logs += 1

    def add_endpoint_line(self, t_unix_nano: int, template_id: int, endpoint: str) -> None:
        """Attribute a line already counted by :meth:`add_log` to its request's endpoint."""
        if t_unix_nano // self._bucket_ns <= self._newest - self._keep:
            return  # its slot has left the window already
        slot = self._slot(t_unix_nano)
        key = (template_id, endpoint)
        slot.by_endpoint[key] = slot.by_endpoint.get(key, 0) + 1

    def forget_templates(self, gone: set[int]) -> None:
        """Fold the lines of the templates in ``gone`` into each slot's ``evicted_logs``."""
        for slot in self._slots.values():
            slot.forget_templates(gone)

    def evict(self, before_index: int) -> None:
        for index in [i for i in self._slots if i < before_index]:
            self._retired.merge(self._slots.pop(index))
        if self._hot_index < before_index:
            self._hot_index, self._hot = -1, None

    def summary(self, start_unix_nano: int, end_unix_nano: int) -> Summary:
        """Merge the slots whose bucket starts in ``[start, end)``."""
        lo = -(-start_unix_nano // self._bucket_ns)
        hi = end_unix_nano // self._bucket_ns
        return Summary.of(s for i, s in self._slots.items() if lo <= i < hi)

    def since_start(self, end_unix_nano: int) -> Summary:
        """Everything this version did from its first event to ``end`` (exclusive, by
        bucket start), evicted slots included."""
        hi = end_unix_nano // self._bucket_ns
        return Summary.of([self._retired, *(s for i, s in self._slots.items() if i < hi)])

    def to_json(self) -> dict[str, Any]:
        return {"slots": {str(i): s.to_json() for i, s in self._slots.items()},
                "retired": self._retired.to_json(),
                "newest": self._newest, "first_seen": self.first_seen_unix_nano}

    @classmethod
    def from_json(cls, bucket_ns: int, keep_slots: int, data: dict[str, Any]) -> VersionWindow:
        window = cls(bucket_ns, keep_slots)
        window._slots = {int(i): Slot.from_json(s) for i, s in data["slots"].items()}
        if "retired" in data:
            window._retired = Slot.from_json(data["retired"])
        window._newest = int(data["newest"])
        first = data.get("first_seen")
        window.first_seen_unix_nano = None if first is None else int(first)
        return window
