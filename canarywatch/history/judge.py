"""Judging against history: the analyzer's hook into the service models.

Two uses, both returning the same :class:`SignalResult` values the judge already combines:

- :meth:`HistoryJudge.refine`, with a live baseline: a template the history knows (same
  text, or a reworded one at least ``models.similarity_threshold`` similar and of the same
  severity) can fail the canary only when it is also far above its historical rate. Its
  p-value becomes the larger of the live test's and the history test's, its effect gate both.
  A template absent from the live baseline but known in history becomes ``known``, or
  ``known (reworded)`` with the nearest known template shown.
- :meth:`HistoryJudge.signals`, with no live baseline: error rate, latency and templates of
  the version compared with the history.

Counts are tested with the conditional binomial test of the live judge, the history standing
in for the baseline cohort, made overdispersion-aware (quasi-likelihood): both counts are
divided by the history's Pearson dispersion of window counts, so windows that vary more than
Poisson widen the test as much as they vary. Latency: Mann-Whitney U against the history's
histogram, with the effect gate widened to three window-to-window spreads of the median.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from canarywatch.analysis.base import SignalResult
from canarywatch.analysis.logs import KNOWN, NEW, UNEXPECTED_FREQUENCY, TemplateInfo
from canarywatch.analysis.logs import failing_severities as _failing
from canarywatch.analysis.spans import ALL_ENDPOINTS
from canarywatch.analysis.stats import binom_sf, min_binomial_p, norm_sf, shift_test
from canarywatch.analysis.windows import EndpointCounts, Summary
from canarywatch.config import AnalysisConfig
from canarywatch.events import Reason, Severity, Signal
from canarywatch.history.model import ServiceModel, error_dispersion, median_log_sd
from canarywatch.history.model import template_dispersion as _tdisp
from canarywatch.history.view import Known, ModelView

KNOWN_REWORDED = "known (reworded)"
LATENCY_SPREADS = 3.0  # the latency gate: this many window-to-window spreads of the median


def count_test(c: int, exposure_c: int, h: int, exposure_h: int,
               dispersion: float) -> tuple[float, float]:
    """(p-value, smallest reachable p-value) of "c in exposure_c is above h in exposure_h".

    The exact conditional binomial test on counts divided by ``dispersion`` (>= 1).
    """
    if exposure_c <= 0 or exposure_h <= 0 or c <= 0:
        return 1.0, 1.0
    share = exposure_c / (exposure_c + exposure_h)
    k = int(c / dispersion)
    n = int((c + h) / dispersion)
    return binom_sf(k, n, share), min_binomial_p(n, share)


def _exposure(model: ServiceModel, canary: Summary, endpoint: str | None) -> int:
    if endpoint is not None:
        counts = canary.endpoints.get(endpoint)
        return 0 if counts is None else counts.requests
    return canary.requests if model.exposure == "requests" else canary.logs


def _per_1k(n: int, exposure: int) -> float:
    return 1000.0 * n / exposure if exposure > 0 else 0.0


class HistoryJudge:
    """The models of every service, and the tests against them."""

    def __init__(self, models: dict[str, ServiceModel], config: AnalysisConfig,
                 similarity_threshold: float) -> None:
        self._config = config
        self._views = {s: ModelView(m, similarity_threshold) for s, m in models.items()}
        self._failing = _failing(config)

    def view(self, service: str) -> ModelView | None:
        return self._views.get(service)

    def learned_from(self, service: str, version: str) -> bool:
        view = self._views.get(service)
        return view is not None and version in view.model.versions

    # -- with a live baseline --------------------------------------------------------------

    def refine(self, service: str, results: Sequence[SignalResult], canary: Summary,
               canary_version: str) -> list[SignalResult]:
        """Log results re-judged with the history; other results unchanged."""
        view = self._views.get(service)
        if view is None:
            return list(results)
        out = []
        for r in results:
            reason = r.reason
            if reason.signal is not Signal.LOG_SIGNATURE or reason.template is None:
                out.append(r)
                continue
            details = dict(reason.details)
            severity = Severity[str(details.get("severity", "INFO"))]
            known = view.known(reason.template, severity)
            if known is None:
                out.append(r)
                continue
            p_h, min_h, ratio, rate_c, rate_h = self._template_test(
                view, known, reason.canary_count, canary, reason.endpoint)
            effect_h = ratio >= self._config.template_min_ratio
            live_new = details.get("class") == NEW
            kind = (UNEXPECTED_FREQUENCY if effect_h and p_h < 0.5
                    else KNOWN_REWORDED if known.reworded else KNOWN)
            where = "" if reason.endpoint is None else f" on {reason.endpoint}"
            summary = (f"{severity.name} template {reason.template!r}{where}: "
                       f"{reason.canary_count} lines in {canary_version} "
                       f"({rate_c:.2f} per 1k), {_rewording(known)}at {rate_h:.2f} per 1k "
                       f"against {view.describe}"
                       + (" (none from the live baseline in the window)" if live_new else ""))
            new_reason = replace(reason, summary=summary, details=(
                *((k, v) for k, v in reason.details if k != "class"), ("class", kind),
                ("live_class", details.get("class")), *_history_details(view, known, p_h,
                                                                        ratio)))
            out.append(replace(
                r, p_value=max(r.p_value, p_h), min_p_value=max(r.min_p_value, min_h),
                effect_ok=r.effect_ok and effect_h, reason=new_reason,
                notable=r.notable and kind == UNEXPECTED_FREQUENCY))
        return out

    def _template_test(self, view: ModelView, known: Known, c: int, canary: Summary,
                       endpoint: str | None) -> tuple[float, float, float, float, float]:
        t = known.template
        h, exposure_h = view.lines_on(t, endpoint)
        exposure_c = _exposure(view.model, canary, endpoint)
        p, min_p = count_test(c, exposure_c, h, exposure_h, _tdisp(view.model, t))
        rate_c, rate_h = _per_1k(c, exposure_c), _per_1k(h, exposure_h)
        ratio = math.inf if rate_h == 0 else rate_c / rate_h
        return p, min_p, ratio, rate_c, rate_h

    # -- with no live baseline -------------------------------------------------------------

    def signals(self, service: str, canary: Summary, canary_version: str,
                book: dict[int, TemplateInfo],
                template_text: Callable[[int], str]) -> list[SignalResult]:
        """Every test of ``canary``'s window against the service's history."""
        view = self._views.get(service)
        if view is None:
            return []
        out: list[SignalResult] = []
        # Pooled over the endpoints the history knows; its dispersion: the largest of theirs.
        pooled = EndpointCounts()
        requests_h = errors_h = endpoints = 0
        pooled_dispersion = 1.0
        for name, counts in sorted(canary.endpoints.items()):
            stats = view.endpoints.get(name)
            if stats is None or stats.requests == 0:
                continue
            out.append(self._error_rate(view, name, counts, requests_h=stats.requests,
                                        errors_h=stats.errors,
                                        dispersion=error_dispersion(stats),
                                        canary_version=canary_version))
            out.append(self._latency(view, name, counts, canary_version))
            pooled.merge(counts)
            requests_h += stats.requests
            errors_h += stats.errors
            pooled_dispersion = max(pooled_dispersion, error_dispersion(stats))
            endpoints += 1
        if self._config.pooled_endpoints and endpoints > 1:
            out.append(self._error_rate(view, ALL_ENDPOINTS, pooled, requests_h=requests_h,
                                        errors_h=errors_h, dispersion=pooled_dispersion,
                                        canary_version=canary_version))
        for tid, c in canary.templates.items():
            info = book.get(tid)
            if info is not None and c > 0:
                out.append(self._template(view, tid, c, info, canary=canary,
                                          canary_version=canary_version,
                                          template_text=template_text))
        return out

    def _error_rate(self, view: ModelView, endpoint: str, canary: EndpointCounts, *,
                    requests_h: int, errors_h: int, dispersion: float,
                    canary_version: str) -> SignalResult:
        cfg = self._config
        rc, ec = canary.requests, canary.errors
        p, min_p = count_test(ec, rc, errors_h, requests_h, dispersion)
        rate_c, rate_h = ec / rc if rc else 0.0, errors_h / requests_h
        effect_ok = (rate_c - rate_h >= cfg.error_rate_min_delta
                     and rate_c >= cfg.error_rate_min_ratio * rate_h)
        reason = Reason(
            signal=Signal.ERROR_RATE, failed=False, p_value=p, effect_size=rate_c - rate_h,
            endpoint=endpoint, baseline_count=errors_h, canary_count=ec,
            summary=(f"{endpoint}: error rate {rate_c:.2%} in {canary_version} ({ec}/{rc}) vs "
                     f"{rate_h:.2%} against {view.describe}"),
            details=(("canary_rate", rate_c), ("baseline_rate", rate_h),
                     ("canary_requests", rc), ("baseline_requests", requests_h),
                     ("dispersion", dispersion),
                     ("canary_error_trace_ids", list(canary.error_traces)),
                     ("baseline", "history"), ("history", view.describe)))
        return SignalResult(f"error_rate:{endpoint}", p, min_p, rc >= cfg.min_requests,
                            effect_ok, reason)

    def _latency(self, view: ModelView, endpoint: str, canary: EndpointCounts,
                 canary_version: str) -> SignalResult:
        cfg = self._config
        test = shift_test(canary.latency, view.latency(endpoint), cfg.latency_confidence)
        spread = median_log_sd(view.endpoints[endpoint])
        min_ratio = max(cfg.latency_min_ratio, math.exp(LATENCY_SPREADS * spread))
        effect_ok = test.ratio >= min_ratio and test.delta_ms >= cfg.latency_min_delta_ms
        m, n = test.canary_n, test.baseline_n
        min_p = 1.0 if m == 0 or n == 0 else norm_sf(
            (m * n / 2.0 - 0.5) / math.sqrt(m * n * (m + n + 1) / 12.0))
        reason = Reason(
            signal=Signal.LATENCY, failed=False, p_value=test.p_value, effect_size=test.ratio,
            endpoint=endpoint, baseline_count=n, canary_count=m,
            summary=(f"{endpoint}: {canary_version} is {test.ratio:.2f}x the latency of "
                     f"{view.describe} (+{test.delta_ms:.1f} ms at the median; {m} requests)"),
            details=(("delta_ms", test.delta_ms if math.isfinite(test.delta_ms) else None),
                     ("canary_median_ms", test.canary_median_ms),
                     ("baseline_median_ms", test.baseline_median_ms),
                     ("min_ratio", min_ratio), ("baseline", "history"),
                     ("history", view.describe),
                     ("canary_slowest", [{"duration_ms": ms, "trace_id": t}
                                         for ms, t in canary.slowest])))
        return SignalResult(f"latency:{endpoint}", test.p_value, min_p,
                            m >= cfg.min_requests, effect_ok, reason)

    def _template(self, view: ModelView, tid: int, c: int, info: TemplateInfo, *,
                  canary: Summary, canary_version: str,
                  template_text: Callable[[int], str]) -> SignalResult:
        cfg = self._config
        try:
            text = template_text(tid)
        except KeyError:
            text = next((lines[0][0] for lines in info.examples.values() if lines), f"#{tid}")
        level = info.severity.name
        known = view.known(text, info.severity)
        severe = info.severity in self._failing
        exposure_c = _exposure(view.model, canary, None)
        if known is None:
            p, min_p = count_test(c, exposure_c, 0, view.model.requests, 1.0)
            ratio, kind = math.inf, NEW
            near = view.nearest(text)
            summary = (f"new {level} template in {canary_version}: {c} lines, never seen in "
                       f"{view.describe}: {text!r}")
            extra: tuple[tuple[str, object], ...] = (
                ("nearest_known_template", near[0].text if near else None),
                ("similarity", round(near[1], 4) if near else 0.0))
        else:
            p, min_p, ratio, rate_c, rate_h = self._template_test(view, known, c, canary, None)
            kind = (UNEXPECTED_FREQUENCY if ratio >= cfg.template_min_ratio and p < 0.5
                    else KNOWN_REWORDED if known.reworded else KNOWN)
            summary = (f"{level} template {text!r}: {c} lines in {canary_version} "
                       f"({rate_c:.2f} per 1k), {_rewording(known)}at {rate_h:.2f} per 1k "
                       f"against {view.describe}")
            extra = _history_details(view, known, p, ratio)
        examples = [{"version": canary_version, "body": body, "trace_id": trace_id}
                    for body, trace_id, *_ in info.examples.get(canary_version, [])]
        reason = Reason(
            signal=Signal.LOG_SIGNATURE, summary=summary, failed=False, p_value=p,
            effect_size=None if math.isinf(ratio) else ratio, template_id=tid, template=text,
            baseline_count=0 if known is None else known.template.count, canary_count=c,
            details=(("class", kind), ("severity", level), ("examples", examples),
                     ("baseline", "history"), *extra))
        effect_ok = ratio >= cfg.template_min_ratio
        return SignalResult(
            f"template:{tid}", p, min_p if severe else 1.0,
            severe and c >= cfg.min_template_count, effect_ok, reason,
            notable=kind == NEW or (kind == UNEXPECTED_FREQUENCY and severe and effect_ok))


def _rewording(known: Known) -> str:
    if not known.reworded:
        return "known in history "
    return (f"a rewording ({known.similarity:.2f} similar) of known "
            f"{known.template.text!r} ")


def _history_details(view: ModelView, known: Known, p: float,
                     ratio: float) -> tuple[tuple[str, object], ...]:
    t = known.template
    return (("history", view.describe), ("history_p_value", p),
            ("history_ratio", None if math.isinf(ratio) else ratio),
            ("history_rate_per_1k", _per_1k(t.count, view.model.requests)),
            ("history_dispersion", _tdisp(view.model, t)),
            ("nearest_known_template", t.text), ("similarity", round(known.similarity, 4)))
