"""The daemon's rolling history: each service's baseline cohort, window by window, kept in
its state and exported as a model file (the format of :mod:`canarywatch.history.store`).

At every look the pipeline calls :meth:`RollingHistory.looked`. Each ``window_s`` of event
time that has passed is read back from the analysis buckets (the same counts the judge uses,
so nothing is folded twice on the hot path) and added to the service's history:

- the baseline's windows (the version carrying the traffic, not itself under judgement) join
  the history as they close;
- a canary's windows (and those of a version judged against a model, having no live
  baseline) wait aside, summed, until its verdict: ``promote`` adds them to the history and
  every later window of that version joins directly; ``rollback`` discards them, and that
  version never joins.

Memory is bounded: windows are summed into blocks of :data:`BLOCK_WINDOWS` windows, and at
most ``ceil(max_windows / BLOCK_WINDOWS)`` blocks per service are kept (the oldest block is
dropped whole). Each block holds the model's sufficient statistics (sums, so blocks add up
exactly as models merge) keyed by template id; texts are resolved on export, the miner's
current text first, so a template that generalised counts as one.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from canarywatch.analysis.histogram import Histogram
from canarywatch.analysis.logs import TemplateInfo
from canarywatch.analysis.windows import EndpointCounts, Summary
from canarywatch.cohort import Roles
from canarywatch.config import Config
from canarywatch.errors import StateError
from canarywatch.events import Action, Severity, Verdict
from canarywatch.history.index import fit_index
from canarywatch.history.learn import MIN_MEDIAN_REQUESTS
from canarywatch.history.model import EndpointStats, ServiceModel, TemplateStats
from canarywatch.state import read_snapshot

_NS = 1_000_000_000
BLOCK_WINDOWS = 60  # windows per block: with 60-s windows the history rolls an hour at a time
MAX_EXAMPLES = 3
_SNAPSHOT_VERSION = 1


class HistorySource(Protocol):
    """What the rolling history reads from the pipeline at a look."""

    def services(self) -> list[str]: ...

    def roles(self, service: str) -> Roles | None: ...

    def verdicts(self) -> list[Verdict]: ...

    def window_summary(self, service: str, version: str, start_unix_nano: int,
                       end_unix_nano: int) -> Summary | None: ...

    def template_text(self, service: str, template_id: int) -> str: ...

    def template_info(self, service: str, template_id: int) -> TemplateInfo | None: ...


@dataclass(slots=True)
class _Template:
    text: str
    severity: Severity
    count: int = 0
    sum_sq_rate: float = 0.0
    windows_seen: int = 0
    first_seen_unix_nano: int = 0
    last_seen_unix_nano: int = 0
    examples: list[str] = field(default_factory=list)
    endpoints: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> list[Any]:
        return [self.text, int(self.severity), self.count, self.sum_sq_rate, self.windows_seen,
                self.first_seen_unix_nano, self.last_seen_unix_nano, self.examples,
                self.endpoints]

    @classmethod
    def from_json(cls, d: list[Any]) -> _Template:
        return cls(str(d[0]), Severity(int(d[1])), int(d[2]), float(d[3]), int(d[4]),
                   int(d[5]), int(d[6]), [str(x) for x in d[7]],
                   {str(k): int(v) for k, v in d[8].items()})


@dataclass(slots=True)
class _Endpoint:
    requests: int = 0
    errors: int = 0
    sum_sq_error_rate: float = 0.0
    windows: int = 0
    latency: Histogram = field(default_factory=Histogram)
    median_windows: int = 0
    log_median_sum: float = 0.0
    log_median_sq_sum: float = 0.0

    def add_window(self, counts: EndpointCounts) -> None:
        self.requests += counts.requests
        self.errors += counts.errors
        self.sum_sq_error_rate += counts.errors * counts.errors / counts.requests
        self.windows += 1
        self.latency.merge(counts.latency)
        if counts.requests >= MIN_MEDIAN_REQUESTS:
            log_median = math.log(max(counts.latency.quantile_ms(0.5), 1e-3))
            self.median_windows += 1
            self.log_median_sum += log_median
            self.log_median_sq_sum += log_median * log_median

    def add(self, other: _Endpoint) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.sum_sq_error_rate += other.sum_sq_error_rate
        self.windows += other.windows
        self.latency.merge(other.latency)
        self.median_windows += other.median_windows
        self.log_median_sum += other.log_median_sum
        self.log_median_sq_sum += other.log_median_sq_sum

    def to_json(self) -> list[Any]:
        return [self.requests, self.errors, self.sum_sq_error_rate, self.windows,
                self.latency.to_json(), self.median_windows, self.log_median_sum,
                self.log_median_sq_sum]

    @classmethod
    def from_json(cls, d: list[Any]) -> _Endpoint:
        return cls(int(d[0]), int(d[1]), float(d[2]), int(d[3]), Histogram.from_json(d[4]),
                   int(d[5]), float(d[6]), float(d[7]))


@dataclass(slots=True)
class Block:
    """Sums over consecutive windows of one service (or one waiting canary)."""

    exposure: str  # "requests" or "log_lines"
    start_unix_nano: int = 0
    end_unix_nano: int = 0
    windows: int = 0
    requests: int = 0  # exposure, in ``exposure`` units
    versions: list[str] = field(default_factory=list)
    templates: dict[int, _Template] = field(default_factory=dict)
    endpoints: dict[str, _Endpoint] = field(default_factory=dict)
    # to_json's answer while no window was added since: a closed block never changes, so a
    # week of history costs a checkpoint nothing but the newest block.
    _json: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def add_window(self, start: int, end: int, versions: Iterable[str], summary: Summary, *,
                   source: HistorySource, service: str) -> None:
        """Fold one window's summary (its exposure > 0) into the sums."""
        exposure = summary.requests if self.exposure == "requests" else summary.logs
        if exposure <= 0:
            return
        self._json = None
        if not self.windows or start < self.start_unix_nano:
            self.start_unix_nano = start
        self.end_unix_nano = max(self.end_unix_nano, end)
        self.windows += 1
        self.requests += exposure
        for v in versions:
            if v not in self.versions:
                self.versions.append(v)
        for name, counts in summary.endpoints.items():
            if counts.requests > 0:
                self.endpoints.setdefault(name, _Endpoint()).add_window(counts)
        for tid, n in summary.templates.items():
            if n <= 0:
                continue
            t = self.templates.get(tid)
            info = source.template_info(service, tid)
            if t is None:
                text = _text(source, service, tid, info)
                t = self.templates[tid] = _Template(
                    text, info.severity if info else Severity.UNSPECIFIED,
                    first_seen_unix_nano=start)
            else:
                t.text = _text(source, service, tid, info)  # templates generalise
                if info is not None:
                    t.severity = max(t.severity, info.severity)
            t.count += n
            t.sum_sq_rate += n * n / exposure
            t.windows_seen += 1
            t.last_seen_unix_nano = end
            if info is not None and len(t.examples) < MAX_EXAMPLES:
                for v in versions:
                    for body, *_evidence in info.examples.get(v, []):
                        if len(t.examples) < MAX_EXAMPLES and body not in t.examples:
                            t.examples.append(body)
        for (tid, endpoint), n in summary.by_endpoint.items():
            t = self.templates.get(tid)
            if t is not None:
                t.endpoints[endpoint] = t.endpoints.get(endpoint, 0) + n

    def to_json(self) -> dict[str, Any]:
        if self._json is None:
            self._json = self._to_json()
        return self._json

    def _to_json(self) -> dict[str, Any]:
        return {"exposure": self.exposure, "start": self.start_unix_nano,
                "end": self.end_unix_nano, "windows": self.windows, "requests": self.requests,
                "versions": self.versions,
                "templates": {str(k): t.to_json() for k, t in self.templates.items()},
                "endpoints": {k: e.to_json() for k, e in self.endpoints.items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Block:
        return cls(str(d["exposure"]), int(d["start"]), int(d["end"]), int(d["windows"]),
                   int(d["requests"]), [str(v) for v in d["versions"]],
                   {int(k): _Template.from_json(t) for k, t in d["templates"].items()},
                   {str(k): _Endpoint.from_json(e) for k, e in d["endpoints"].items()})


def _text(source: HistorySource, service: str, tid: int, info: TemplateInfo | None) -> str:
    try:
        return source.template_text(service, tid)
    except KeyError:  # evicted by the miner's bound: its first line stands for it
        for lines in (info.examples.values() if info else ()):
            if lines:
                return lines[0][0]
        return f"#{tid}"


@dataclass(slots=True)
class _Service:
    blocks: deque[Block]
    cursor: int = 0  # start of the next window to read (Unix ns), 0 before the first
    exposure: str = "log_lines"  # "requests" once the service has shown entry spans
    waiting: dict[str, Block] = field(default_factory=dict)  # canary -> its windows so far
    promoted: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)


class RollingHistory:
    """Bounded history of every service's baseline cohort (see the module docstring).

    ``window_s``: window length (a multiple of the analysis bucket, at most the analysis
    window: the windows are read back from its buckets); ``max_windows``: history kept per
    service, in windows (rounded up to whole blocks of :data:`BLOCK_WINDOWS`).
    """

    def __init__(self, window_s: float, max_windows: int) -> None:
        if window_s <= 0 or max_windows <= 0:
            raise ValueError("window_s and max_windows must be > 0")
        self.window_ns = int(window_s * _NS)
        self.max_blocks = -(-max_windows // BLOCK_WINDOWS)
        self._services: dict[str, _Service] = {}

    def _service(self, name: str) -> _Service:
        state = self._services.get(name)
        if state is None:
            state = self._services[name] = _Service(deque(maxlen=self.max_blocks))
        return state

    def looked(self, source: HistorySource, now_unix_nano: int, *, retained_ns: int,
               complete_to_unix_nano: int) -> None:
        """Read every window that ended by ``complete_to`` (the event time up to which every
        input has delivered; at most ``now``) and began at most ``retained_ns`` before
        ``now`` (older buckets are gone) into the history or the waiting canaries."""
        verdicts = {(v.service, v.canary_version): v.action for v in source.verdicts()}
        w = self.window_ns
        last_end = min(now_unix_nano, complete_to_unix_nano) // w * w
        for service in source.services():
            roles = source.roles(service)
            if roles is None:
                continue
            state = self._service(service)
            judged = [v for v in (roles.baseline, *roles.canaries) if (service, v) in verdicts]
            for version in judged:
                action = verdicts[(service, version)]
                if action is Action.PROMOTE and version not in state.promoted:
                    state.promoted.add(version)
                    waiting = state.waiting.pop(version, None)
                    if waiting is not None and waiting.windows:
                        state.blocks.append(waiting)
                elif action is Action.ROLLBACK and version not in state.rejected:
                    state.rejected.add(version)
                    state.waiting.pop(version, None)
            trusted = [v for v in (roles.baseline, *roles.canaries)
                       if v not in state.rejected
                       and (v in state.promoted or (v == roles.baseline and v not in judged))]
            candidates = [v for v in judged if v not in state.promoted
                          and v not in state.rejected]
            start = max(state.cursor, (now_unix_nano - retained_ns) // w * w + w)
            while start + w <= last_end:
                self._read(source, service, state, start, trusted=trusted,
                           candidates=candidates)
                start += w
            state.cursor = max(state.cursor, start)

    def _read(self, source: HistorySource, service: str, state: _Service, start: int, *,
              trusted: list[str], candidates: list[str]) -> None:
        end = start + self.window_ns
        parts = {v: source.window_summary(service, v, start, end)
                 for v in (*trusted, *candidates)}
        if state.exposure == "log_lines" and any(s is not None and s.endpoints
                                                 for s in parts.values()):
            state.exposure = "requests"  # windows so far counted lines: start afresh
            state.blocks.clear()
            state.waiting.clear()
        healthy = [v for v in trusted if parts[v] is not None]
        if healthy:
            block = self._open_block(state, start)
            block.add_window(start, end, healthy, _merged(parts[v] for v in healthy),
                             source=source, service=service)
        for v in candidates:
            part = parts[v]
            if part is not None:
                state.waiting.setdefault(v, Block(state.exposure)).add_window(
                    start, end, (v,), part, source=source, service=service)

    def _open_block(self, state: _Service, start: int) -> Block:
        blocks = state.blocks
        span = self.window_ns * BLOCK_WINDOWS
        if blocks and blocks[-1].windows and blocks[-1].exposure == state.exposure and (
                blocks[-1].start_unix_nano // span == start // span):
            return blocks[-1]
        block = Block(state.exposure)
        blocks.append(block)  # the deque drops the oldest block past max_blocks
        return block

    # -- export -----------------------------------------------------------------------------

    def services(self) -> list[str]:
        return sorted(s for s, st in self._services.items() if any(b.windows for b in st.blocks))

    def model(self, service: str, source: HistorySource | None = None) -> ServiceModel | None:
        """The service's history as a model (None when it has none yet). ``source``: the
        pipeline, whose miner gives each template its current text."""
        state = self._services.get(service)
        blocks = [b for b in state.blocks if b.windows] if state is not None else []
        if not blocks:
            return None
        versions: list[str] = []
        templates: dict[str, _Template] = {}
        endpoints: dict[str, _Endpoint] = {}
        for b in blocks:
            versions.extend(v for v in b.versions if v not in versions)
            for tid, t in b.templates.items():
                text = t.text
                if source is not None:
                    with contextlib.suppress(KeyError):
                        text = source.template_text(service, tid)
                into = templates.get(text)
                if into is None:
                    templates[text] = _Template(
                        text, t.severity, t.count, t.sum_sq_rate, t.windows_seen,
                        t.first_seen_unix_nano, t.last_seen_unix_nano, list(t.examples),
                        dict(t.endpoints))
                    continue
                into.severity = max(into.severity, t.severity)
                into.count += t.count
                into.sum_sq_rate += t.sum_sq_rate
                into.windows_seen += t.windows_seen
                into.first_seen_unix_nano = min(into.first_seen_unix_nano,
                                                t.first_seen_unix_nano)
                into.last_seen_unix_nano = max(into.last_seen_unix_nano, t.last_seen_unix_nano)
                into.examples = (into.examples + t.examples)[:MAX_EXAMPLES]
                for name, n in t.endpoints.items():
                    into.endpoints[name] = into.endpoints.get(name, 0) + n
            for name, e in b.endpoints.items():
                endpoints.setdefault(name, _Endpoint()).add(e)
        stats = tuple(TemplateStats(
            t.text, t.severity, t.count, t.sum_sq_rate, t.windows_seen, t.first_seen_unix_nano,
            t.last_seen_unix_nano, tuple(t.examples), tuple(sorted(t.endpoints.items())))
            for t in templates.values())
        return ServiceModel(
            service=service, versions=tuple(versions), window_s=self.window_ns / _NS,
            windows=sum(b.windows for b in blocks), requests=sum(b.requests for b in blocks),
            exposure=blocks[-1].exposure,
            start_unix_nano=min(b.start_unix_nano for b in blocks),
            end_unix_nano=max(b.end_unix_nano for b in blocks), templates=stats,
            endpoints=tuple(EndpointStats(
                name, e.requests, e.errors, e.sum_sq_error_rate, e.windows,
                tuple(sorted(e.latency.counts.items())), e.median_windows, e.log_median_sum,
                e.log_median_sq_sum) for name, e in sorted(endpoints.items())),
            index=fit_index([t.text for t in stats]))

    # -- state ------------------------------------------------------------------------------

    def snapshot(self, source: HistorySource | None = None) -> dict[str, Any]:
        """The history as JSON for the state file. With ``source`` (the pipeline), template
        texts are brought up to the miner's current ones first, so a model learned from the
        saved state (``learn --from-state``) is the model the agent serves."""
        if source is not None:
            self._refresh_texts(source)
        return {"version": _SNAPSHOT_VERSION, "window_ns": self.window_ns, "services": {
            name: {"blocks": [b.to_json() for b in st.blocks], "cursor": st.cursor,
                   "exposure": st.exposure,
                   "waiting": {v: b.to_json() for v, b in st.waiting.items()},
                   "promoted": sorted(st.promoted), "rejected": sorted(st.rejected)}
            for name, st in self._services.items()}}

    def _refresh_texts(self, source: HistorySource) -> None:
        for name, st in self._services.items():
            for block in (*st.blocks, *st.waiting.values()):
                for tid, t in block.templates.items():
                    with contextlib.suppress(KeyError):
                        text = source.template_text(name, tid)
                        if text != t.text:
                            t.text = text
                            block._json = None

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Resume from :meth:`snapshot`; a history of another window length is dropped
        (its sums cannot be re-cut) and rebuilt from here on."""
        self._services = {}
        if int(snapshot.get("window_ns", 0)) != self.window_ns:
            return
        for name, st in snapshot.get("services", {}).items():
            state = self._service(str(name))
            state.blocks.extend(Block.from_json(b) for b in st["blocks"])
            state.cursor = int(st["cursor"])
            state.exposure = str(st["exposure"])
            state.waiting = {str(v): Block.from_json(b) for v, b in st["waiting"].items()}
            state.promoted = {str(v) for v in st["promoted"]}
            state.rejected = {str(v) for v in st["rejected"]}


def _merged(parts: Iterable[Summary | None]) -> Summary:
    out = Summary()
    for s in parts:
        if s is None:
            continue
        for name, counts in s.endpoints.items():
            mine = out.endpoints.get(name)
            if mine is None:
                mine = out.endpoints[name] = EndpointCounts()
            mine.merge(counts)
        for tid, n in s.templates.items():
            out.templates[tid] = out.templates.get(tid, 0) + n
        for key, n in s.by_endpoint.items():
            out.by_endpoint[key] = out.by_endpoint.get(key, 0) + n
        out.logs += s.logs
    return out


DEFAULT_WINDOW_S = 60.0


def rolling_from_config(config: Config) -> RollingHistory | None:
    """The daemon's rolling history as ``models.history_windows`` and ``history_window_s``
    say (None when ``history_windows`` is 0)."""
    models, analysis = config.models, config.analysis
    if models.history_windows == 0:
        return None
    window_s = models.history_window_s
    if window_s is None:
        buckets = max(1, math.floor(min(DEFAULT_WINDOW_S, analysis.window_s) / analysis.bucket_s
                                    + 1e-9))
        window_s = buckets * analysis.bucket_s
    return RollingHistory(window_s, models.history_windows)


def models_from_state(state_dir: Path, config: Config) -> list[ServiceModel]:
    """Every service's rolling history saved in a daemon's state directory (read-only, so
    the daemon may be running). Raises StateError when the state cannot be read."""
    rolling = rolling_from_config(config) or RollingHistory(DEFAULT_WINDOW_S, 1)
    snapshot = read_snapshot(state_dir)
    saved = None if snapshot is None else snapshot.get("history")
    if not isinstance(saved, dict):
        raise StateError(f"{state_dir} holds no rolling history (is it a canarywatch "
                         f"state directory, with models.history_windows above 0?)")
    rolling.window_ns = int(saved.get("window_ns", rolling.window_ns))
    rolling.restore(saved)
    return [m for m in (rolling.model(s) for s in rolling.services()) if m is not None]
