"""The analysis stage: fold tagged events into windows, and judge a canary when asked.

State is per (service, version): a :class:`VersionWindow` of time buckets, plus per service
what is remembered about each template. ``evaluate`` is a pure function of that state, the
judge's per-canary look history and the event time passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from canarywatch.analysis.base import SignalResult
from canarywatch.analysis.endpoint_cap import EndpointCap
from canarywatch.analysis.join import PendingLine, TraceJoin
from canarywatch.analysis.logs import TemplateInfo, log_signals
from canarywatch.analysis.sequential import sequential_signals
from canarywatch.analysis.spans import span_signals
from canarywatch.analysis.windows import Summary, VersionWindow
from canarywatch.config import AnalysisConfig
from canarywatch.decide.judge import Exposure, LookState, decide
from canarywatch.events import Action, LogEvent, SpanEvent, SpanKind, TemplateMatch, Verdict
from canarywatch.serialize import verdict_from_json

if TYPE_CHECKING:
    from canarywatch.history.judge import HistoryJudge

log = logging.getLogger(__name__)

_NS = 1_000_000_000
_SNAPSHOT_VERSION = 1
_SERVER = SpanKind.SERVER
_CONSUMER = SpanKind.CONSUMER


class Analyzer:
    """Windows per (service, version), templates per service, look history per canary."""

    def __init__(self, config: AnalysisConfig, max_examples: int = 3,
                 history: HistoryJudge | None = None) -> None:
        self._config = config
        # Learned service models (canarywatch.history): refine the log signal, and stand in
        # for a baseline that has no data in the window.
        self._history = history
        self._max_examples = max_examples
        self._bucket_ns = max(1, int(config.bucket_s * _NS))
        self._window_ns = int(config.window_s * _NS)
        # Keep one bucket more than the window so a look between boundaries sees it all.
        self._keep_slots = -(-self._window_ns // self._bucket_ns) + 1
        recent_ns = int(config.recent_window_s * _NS)
        self._window_lengths = [self._window_ns]
        # Post-change windows: the recent window and its half, so a fault that began late is
        # judged on mostly post-onset data whether it needs 20 s or a minute of evidence.
        for length in (recent_ns, recent_ns // 2):
            if self._bucket_ns <= length < self._window_ns and length not in self._window_lengths:
                self._window_lengths.append(length)
        self._windows: dict[tuple[str, str], VersionWindow] = {}
        self._templates: dict[str, dict[int, TemplateInfo]] = {}
        self._looks: dict[tuple[str, str], LookState] = {}
        self._caps: dict[str, EndpointCap] = {}  # per service, shared by its versions
        self._join = TraceJoin(int(config.log_join_wait_s * _NS))
        self._expired_to = 0
        self._versions: dict[str, list[str]] = {}  # per service, the versions with a window
        # Per service: [templates forgotten after the miner evicted them, their lines].
        self.evicted: dict[str, list[int]] = {}

    def _window(self, service: str, version: str) -> VersionWindow:
        key = (service, version)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = VersionWindow(self._bucket_ns, self._keep_slots)
            self._versions.setdefault(service, []).append(version)
        return window

    def forget_templates(self, service: str, evicted: list[tuple[int, int]],
                         keep: Mapping[int, str]) -> int:
        """Forget templates the miner evicted: ``evicted`` holds (template id, lines it
        matched). Their lines in the window's slots fold into each slot's ``evicted_logs``
        (still counted in its ``logs``), and the evicted total of the service grows. A
        template in ``keep`` (id -> its text: it drove a current verdict) stays, with that
        text. Returns the number of templates forgotten."""
        book = self._templates.get(service)
        gone: set[int] = set()
        lines = 0
        for tid, n in evicted:
            if tid in keep:
                if book is not None and tid in book:
                    book[tid].text = keep[tid]
                continue
            if book is not None:
                book.pop(tid, None)
            gone.add(tid)
            lines += n
        if not gone:
            return 0
        for version in self._versions.get(service, ()):
            self._windows[(service, version)].forget_templates(gone)
        total = self.evicted.setdefault(service, [0, 0])
        total[0] += len(gone)
        total[1] += lines
        return len(gone)

    def observe_span(self, ev: SpanEvent) -> None:
        """Count a SERVER/CONSUMER span with a version: one request of its endpoint."""
        version = ev.version
        kind = ev.kind
        if version is None or (kind is not _SERVER and kind is not _CONSUMER
                               and not ev.is_entry):
            return
        self.observe_request(ev.service, version, ev.endpoint, ev.start_time_unix_nano,
                             ev.end_time_unix_nano, ev.is_error, ev.http_status, ev.trace_id)

    def observe_request(self, service: str, version: str, endpoint: str,  # noqa: PLR0917
                        start_unix_nano: int, end_unix_nano: int, is_error: bool,
                        http_status: int | None, trace_id: str) -> None:
        """One request (an entry span) of ``endpoint``; ``is_error``: its span status.

        Runs once per entry span, so the duration and the failure test are written out
        here (the same results as SpanEvent's properties, fewer calls).
        """
        window = self._windows.get((service, version))
        if window is None:
            window = self._window(service, version)
        cap = self._caps.get(service)
        if cap is None:
            cap = self._caps[service] = EndpointCap(service,
                                                    self._config.max_endpoints_per_service)
        endpoint = cap.endpoint(endpoint)
        window.add_span(end_unix_nano, endpoint,  # a failure: span status ERROR or a 5xx
                        is_error or (http_status is not None and http_status >= 500),
                        max(0, end_unix_nano - start_unix_nano) / 1e6, trace_id)
        if trace_id:
            waiting = self._join.span(service, trace_id, endpoint)
            if waiting:
                self._attribute(waiting)
        if end_unix_nano - self._expired_to >= self._bucket_ns:
            self._expire(end_unix_nano)

    def endpoint_count(self, service: str) -> tuple[int, int] | None:
        """(endpoints kept under their own name, requests folded into ``other``) of one
        service; None before its first request."""
        cap = self._caps.get(service)
        return None if cap is None else (len(cap.kept), cap.folded_requests)

    def endpoint_counts(self) -> dict[str, tuple[int, int]]:
        """Per service: (endpoints kept under their own name, requests folded into
        ``other`` so far)."""
        return {s: (len(c.kept), c.folded_requests) for s, c in self._caps.items()}

    def observe_log(self, ev: LogEvent, match: TemplateMatch) -> None:
        """Count one log line (or recorded exception) under its template."""
        if ev.version is None:
            return
        book = self._templates.setdefault(ev.service, {})
        info = book.get(match.template_id)
        if info is None:
            info = book[match.template_id] = TemplateInfo(ev.severity, ev.time_unix_nano)
        info.observe(ev, ev.version, self._max_examples)
        self._window(ev.service, ev.version).add_log(ev.time_unix_nano, match.template_id)
        self._attribute(self._join.line(PendingLine(
            ev.service, ev.version, ev.trace_id, ev.time_unix_nano, match.template_id)))
        # Lines whose span never comes (a logs-only feed) must not pile up.
        self._expire(ev.time_unix_nano)

    def _attribute(self, lines: list[tuple[PendingLine, str]]) -> None:
        for line, endpoint in lines:
            if endpoint and line.template_id in self._templates.get(line.service, ()):
                self._window(line.service, line.version).add_endpoint_line(
                    line.time_unix_nano, line.template_id, endpoint)

    def _expire(self, now_unix_nano: int) -> None:
        """Drop lines whose request never showed up (at most once per bucket of time)."""
        if now_unix_nano - self._expired_to >= self._bucket_ns:
            self._join.expire(now_unix_nano)
            self._expired_to = now_unix_nano

    def window_summary(self, service: str, version: str, start_unix_nano: int,
                       end_unix_nano: int) -> Summary | None:
        """The merged buckets of one version starting in ``[start, end)``; None if unseen."""
        window = self._windows.get((service, version))
        return None if window is None else window.summary(start_unix_nano, end_unix_nano)

    def template_info(self, service: str, template_id: int) -> TemplateInfo | None:
        """What is remembered about one template of ``service`` (None if unknown)."""
        return self._templates.get(service, {}).get(template_id)

    def signals(self, service: str, baseline_version: str, canary_version: str,
                now_unix_nano: int, template_text: Callable[[int], str],
                ) -> tuple[list[SignalResult], Exposure]:
        """Every test of this look, and how much canary data they rest on."""
        canary_window = self._windows.get((service, canary_version))
        baseline_window = self._windows.get((service, baseline_version))
        first = canary_window.first_seen_unix_nano if canary_window else None
        age_s = 0.0 if first is None else max(0.0, (now_unix_nano - first) / _NS)
        history = self._history
        if history is not None and canary_window is not None and history.view(service) and (
                baseline_window is None or _silent(baseline_window, now_unix_nano
                                                   - self._window_ns, now_unix_nano + 1)):
            return self._history_signals(history, service, canary_window, canary_version,
                                         now_unix_nano=now_unix_nano, age_s=age_s,
                                         template_text=template_text)
        if canary_window is None or baseline_window is None:
            canary = (canary_window.summary(now_unix_nano - self._window_ns, now_unix_nano + 1)
                      if canary_window else Summary())
            return [], Exposure(canary.requests, canary.logs, age_s)
        results: list[SignalResult] = []
        exposure = Exposure(0, 0, age_s)
        for window_ns in self._window_lengths:
            start = now_unix_nano - window_ns
            canary = canary_window.summary(start, now_unix_nano + 1)
            baseline = baseline_window.summary(start, now_unix_nano + 1)
            if window_ns == self._window_ns:
                exposure = Exposure(canary.requests, canary.logs, age_s)
            found = span_signals(canary, baseline, canary_version, baseline_version,
                                 self._config)
            book = self._templates.get(service, {})
            share = _traffic_share(canary, baseline)
            if share is not None:
                found.extend(log_signals(
                    canary.templates, baseline.templates, book, share,
                    baseline_version=baseline_version, canary_version=canary_version,
                    config=self._config, template_text=template_text))
            for endpoint, c_lines, b_lines, ep_share in _per_endpoint(canary, baseline):
                found.extend(log_signals(
                    c_lines, b_lines, book, ep_share, baseline_version=baseline_version,
                    canary_version=canary_version, config=self._config,
                    template_text=template_text, endpoint=endpoint))
            if history is not None:
                found = history.refine(service, found, canary, canary_version)
            results.extend(_in_window(r, window_ns) for r in found)
        if self._config.always_valid_share > 0:
            results.extend(self._sequential(service, canary_window, baseline_window,
                                            canary_version, baseline_version,
                                            now_unix_nano, template_text))
        return results, exposure

    def _sequential(self, service: str, canary_window: VersionWindow,  # noqa: PLR0917
                    baseline_window: VersionWindow, canary_version: str,
                    baseline_version: str, now_unix_nano: int,
                    template_text: Callable[[int], str]) -> list[SignalResult]:
        """The always-valid count tests on everything since the canary's start."""
        canary = canary_window.since_start(now_unix_nano + 1)
        baseline = baseline_window.since_start(now_unix_nano + 1)
        found = sequential_signals(
            canary, baseline, self._templates.get(service, {}),
            canary_version=canary_version, baseline_version=baseline_version,
            config=self._config, template_text=template_text,
            per_endpoint=_per_endpoint(canary, baseline))
        if self._history is not None:
            found = self._history.refine(service, found, canary, canary_version)
        return found

    def _history_signals(self, history: HistoryJudge, service: str,
                         canary_window: VersionWindow, canary_version: str, *,
                         now_unix_nano: int, age_s: float, template_text: Callable[[int], str],
                         ) -> tuple[list[SignalResult], Exposure]:
        """The tests of a version with no live baseline, against its service's model."""
        results: list[SignalResult] = []
        exposure = Exposure(0, 0, age_s)
        book = self._templates.get(service, {})
        for window_ns in self._window_lengths:
            canary = canary_window.summary(now_unix_nano - window_ns, now_unix_nano + 1)
            if window_ns == self._window_ns:
                exposure = Exposure(canary.requests, canary.logs, age_s)
            found = history.signals(service, canary, canary_version, book, template_text)
            results.extend(_in_window(r, window_ns) for r in found)
        return results, exposure

    def evaluate(self, service: str, baseline_version: str, canary_version: str,
                 now_unix_nano: int, template_text: Callable[[int], str]) -> Verdict:
        """Judge one canary at event time ``now_unix_nano``; a rollback stays a rollback."""
        key = (service, canary_version)
        state = self._looks.get(key, LookState())
        results, exposure = self.signals(service, baseline_version, canary_version,
                                         now_unix_nano, template_text)
        verdict, self._looks[key] = decide(
            service, baseline_version, canary_version, now_unix_nano, results=results,
            exposure=exposure, state=state, config=self._config)
        if verdict.action is Action.ROLLBACK and state.rollback is None:
            log.info("%s/%s: rollback (%s)", service, canary_version,
                     verdict.reasons[0].summary if verdict.reasons else "")
        return verdict

    def snapshot(self) -> dict[str, Any]:
        """Plain JSON-able state."""
        return {
            "version": _SNAPSHOT_VERSION,
            "windows": [[s, v, w.to_json()] for (s, v), w in self._windows.items()],
            "templates": {s: {str(t): i.to_json() for t, i in book.items()}
                          for s, book in self._templates.items()},
            "join": self._join.to_json(),
            "endpoints": {s: c.to_json() for s, c in self._caps.items()},
            "evicted": self.evicted,
            "looks": [[s, c, st.looks, st.streak,
                       None if st.rollback is None else st.rollback.to_json()]
                      for (s, c), st in self._looks.items()],
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._windows = {
            (s, v): VersionWindow.from_json(self._bucket_ns, self._keep_slots, w)
            for s, v, w in snapshot.get("windows", [])}
        self._versions = {}
        for s, v in self._windows:
            self._versions.setdefault(s, []).append(v)
        self.evicted = {str(s): [int(t), int(n)]
                        for s, (t, n) in snapshot.get("evicted", {}).items()}
        self._templates = {s: {int(t): TemplateInfo.from_json(i) for t, i in book.items()}
                           for s, book in snapshot.get("templates", {}).items()}
        self._join.restore(snapshot.get("join", {}))
        limit = self._config.max_endpoints_per_service
        self._caps = {s: EndpointCap.from_json(s, limit, c)
                      for s, c in snapshot.get("endpoints", {}).items()}
        self._looks = {
            (s, c): LookState(int(looks), int(streak),
                              None if rb is None else verdict_from_json(rb))
            for s, c, looks, streak, rb in snapshot.get("looks", [])}


def _silent(window: VersionWindow, start_unix_nano: int, end_unix_nano: int) -> bool:
    """True when a version has neither requests nor lines in ``[start, end)``."""
    summary = window.summary(start_unix_nano, end_unix_nano)
    return summary.logs == 0 and not summary.endpoints


def _in_window(result: SignalResult, window_ns: int) -> SignalResult:
    """Name the window a result was computed on, in its key and its evidence."""
    window_s = window_ns / _NS
    if not result.reason.summary:  # a light result (logs.light_reason): its key only
        return replace(result, key=f"{result.key}@{window_s:g}s")
    reason = replace(result.reason, details=(*result.reason.details, ("window_s", window_s)))
    return replace(result, key=f"{result.key}@{window_s:g}s", reason=reason)


def _per_endpoint(canary: Summary, baseline: Summary,
                  ) -> list[tuple[str, dict[int, int], dict[int, int], float]]:
    """Per endpoint both cohorts served: template lines per cohort and the canary's share."""
    lines: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    for counts, side in ((canary.by_endpoint, 0), (baseline.by_endpoint, 1)):
        for (tid, endpoint), n in counts.items():
            lines.setdefault(endpoint, ({}, {}))[side][tid] = n
    out = []
    for endpoint, (c_lines, b_lines) in sorted(lines.items()):
        rc = canary.endpoints[endpoint].requests if endpoint in canary.endpoints else 0
        rb = baseline.endpoints[endpoint].requests if endpoint in baseline.endpoints else 0
        if c_lines and rc > 0 and rb > 0:
            out.append((endpoint, c_lines, b_lines, rc / (rc + rb)))
    return out


def _traffic_share(canary: Summary, baseline: Summary) -> float | None:
    """The canary's share of the traffic: by requests, else by log lines."""
    rc, rb = canary.requests, baseline.requests
    if rc > 0 and rb > 0:
        return rc / (rc + rb)
    lc, lb = canary.logs, baseline.logs
    if lc > 0 and lb > 0:
        return lc / (lc + lb)
    return None
