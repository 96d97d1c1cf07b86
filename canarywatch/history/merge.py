"""Merge two models of one service: every statistic the model keeps is a sum, so it adds.

Templates are matched by their exact text, endpoints by name; the similarity index is refitted
on the merged texts. Used by ``canarywatch learn`` to update a model with new history.
"""

from __future__ import annotations

from canarywatch.errors import CanarywatchError
from canarywatch.history.index import fit_index
from canarywatch.history.model import EndpointStats, ServiceModel, TemplateStats


def _template(a: TemplateStats, b: TemplateStats) -> TemplateStats:
    endpoints = dict(a.endpoints)
    for name, n in b.endpoints:
        endpoints[name] = endpoints.get(name, 0) + n
    return TemplateStats(
        a.text, max(a.severity, b.severity), a.count + b.count, a.sum_sq_rate + b.sum_sq_rate,
        a.windows_seen + b.windows_seen, min(a.first_seen_unix_nano, b.first_seen_unix_nano),
        max(a.last_seen_unix_nano, b.last_seen_unix_nano), (a.examples + b.examples)[:3],
        tuple(sorted(endpoints.items())))


def _endpoint(a: EndpointStats, b: EndpointStats) -> EndpointStats:
    latency = dict(a.latency)
    for bucket, n in b.latency:
        latency[bucket] = latency.get(bucket, 0) + n
    return EndpointStats(
        a.name, a.requests + b.requests, a.errors + b.errors,
        a.sum_sq_error_rate + b.sum_sq_error_rate, a.windows + b.windows,
        tuple(sorted(latency.items())), a.median_windows + b.median_windows,
        a.log_median_sum + b.log_median_sum, a.log_median_sq_sum + b.log_median_sq_sum)


def merge_models(old: ServiceModel, new: ServiceModel) -> ServiceModel:
    """``old`` and ``new`` history as one model; CanarywatchError if they do not fit."""
    if old.service != new.service:
        raise CanarywatchError(f"cannot merge models of {old.service!r} and {new.service!r}")
    if old.window_s != new.window_s or old.exposure != new.exposure:
        raise CanarywatchError(
            f"{old.service}: the model's windows ({old.window_s:g} s of {old.exposure}) differ "
            f"from the new history's ({new.window_s:g} s of {new.exposure}); relearn it")
    templates = {t.text: t for t in old.templates}
    for t in new.templates:
        templates[t.text] = _template(templates[t.text], t) if t.text in templates else t
    endpoints = {e.name: e for e in old.endpoints}
    for e in new.endpoints:
        endpoints[e.name] = _endpoint(endpoints[e.name], e) if e.name in endpoints else e
    merged = tuple(templates.values())
    versions = tuple(dict.fromkeys((*old.versions, *new.versions)))
    return ServiceModel(
        service=old.service, versions=versions, window_s=old.window_s,
        windows=old.windows + new.windows, requests=old.requests + new.requests,
        exposure=old.exposure,
        start_unix_nano=min(old.start_unix_nano, new.start_unix_nano) or new.start_unix_nano,
        end_unix_nano=max(old.end_unix_nano, new.end_unix_nano), templates=merged,
        endpoints=tuple(endpoints[name] for name in sorted(endpoints)),
        index=fit_index([t.text for t in merged]))
