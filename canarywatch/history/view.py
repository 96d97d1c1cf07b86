"""A loaded model ready for the judge: lookups by template text (exact, then similar)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from canarywatch.analysis.histogram import Histogram
from canarywatch.events import Severity
from canarywatch.history.index import TextIndex
from canarywatch.history.model import EndpointStats, ServiceModel, TemplateStats

_CACHE = 10_000  # looked-up texts remembered per service
WILDCARD = "<*>"


def _token_pattern(token: str) -> re.Pattern[str] | None:
    if WILDCARD not in token or token == WILDCARD:
        return None
    return re.compile(".*".join(re.escape(part) for part in token.split(WILDCARD)) + r"\Z")


def _covers(pattern: str, token: str) -> bool:
    """True when template token ``pattern`` stands for ``token`` (equal, or via <*>)."""
    if pattern in (token, WILDCARD):
        return True
    compiled = _token_pattern(pattern)
    return compiled is not None and compiled.match(token) is not None


def same_shape(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two template texts of one log statement, one more general than the other: the same
    token count, every position covered one way or the other, and at least half the
    positions the same constant word (so ``<*> <*> <*>`` does not swallow everything)."""
    if len(a) != len(b):
        return False
    constants = 0
    for x, y in zip(a, b, strict=True):
        if x == y:
            constants += WILDCARD not in x
        elif not (_covers(x, y) or _covers(y, x)):
            return False
    return constants >= max(1, len(a) / 2)


def combined(templates: list[TemplateStats], text: str) -> TemplateStats:
    """Several known templates seen now as one: counts add; the dispersion sum is bounded
    from above (Minkowski), so the combination is never judged tighter than its parts."""
    if len(templates) == 1:
        return templates[0]
    endpoints: dict[str, int] = {}
    for t in templates:
        for name, n in t.endpoints:
            endpoints[name] = endpoints.get(name, 0) + n
    return TemplateStats(
        text=text, severity=max(t.severity for t in templates),
        count=sum(t.count for t in templates),
        sum_sq_rate=sum(math.sqrt(t.sum_sq_rate) for t in templates) ** 2,
        windows_seen=max(t.windows_seen for t in templates),
        first_seen_unix_nano=min(t.first_seen_unix_nano for t in templates),
        last_seen_unix_nano=max(t.last_seen_unix_nano for t in templates),
        examples=tuple(e for t in templates for e in t.examples)[:3],
        endpoints=tuple(sorted(endpoints.items())))


@dataclass(frozen=True, slots=True)
class Known:
    """A template the history knows, for a text seen now."""

    template: TemplateStats
    similarity: float  # 1.0 for the same text

    @property
    def reworded(self) -> bool:
        return self.similarity < 1.0


class ModelView:
    """One service's model with its text index and per-endpoint latency histograms."""

    def __init__(self, model: ServiceModel, similarity_threshold: float) -> None:
        self.model = model
        self.threshold = similarity_threshold
        self._by_text = {t.text: t for t in model.templates}
        self._by_size: dict[int, list[tuple[tuple[str, ...], TemplateStats]]] = {}
        for t in model.templates:
            tokens = tuple(t.text.split())
            self._by_size.setdefault(len(tokens), []).append((tokens, t))
        self._index = TextIndex(model.index, [t.text for t in model.templates])
        self.endpoints: dict[str, EndpointStats] = {e.name: e for e in model.endpoints}
        self._latency: dict[str, Histogram] = {}
        self._cache: dict[tuple[str, Severity], Known | None] = {}
        self.label = f"{model.versions[-1] if model.versions else model.service} (history)"
        self.describe = model.describe()

    def latency(self, endpoint: str) -> Histogram:
        hist = self._latency.get(endpoint)
        if hist is None:
            stats = self.endpoints.get(endpoint)
            counts = dict(stats.latency) if stats is not None else {}
            hist = self._latency[endpoint] = Histogram(counts, sum(counts.values()))
        return hist

    def nearest(self, text: str) -> tuple[TemplateStats, float] | None:
        """The most similar known template, whatever its similarity."""
        found = self._index.nearest(text, 1)
        if not found:
            return None
        return self.model.templates[found[0].position], found[0].similarity

    def known(self, text: str, severity: Severity) -> Known | None:
        """The history's template for ``text``: the same text; else the known templates of
        the same severity it generalises or that generalise it (miners of two runs may
        draw a parameter's line differently: ``upstream <*> returned`` covers ``upstream
        redis returned`` and ``upstream http:<*> returned``), taken together; else the most
        similar one of the same severity at least ``threshold`` similar; else None."""
        key = (text, severity)
        if key in self._cache:
            return self._cache[key]
        exact = self._by_text.get(text)
        result: Known | None = None
        tokens = tuple(text.split())
        shaped = [t for toks, t in self._by_size.get(len(tokens), [])
                  if t.severity == severity and same_shape(tokens, toks)]
        if exact is not None:
            result = Known(exact, 1.0)
        elif shaped:
            result = Known(combined(shaped, text), 1.0)
        else:
            for n in self._index.nearest(text, 5):
                t = self.model.templates[n.position]
                if n.similarity >= self.threshold and t.severity == severity:
                    result = Known(t, min(n.similarity, 0.9999))
                    break
        if len(self._cache) >= _CACHE:
            self._cache.clear()
        self._cache[key] = result
        return result

    def lines_on(self, t: TemplateStats, endpoint: str | None) -> tuple[int, int]:
        """(history lines, history exposure) of ``t`` overall or on one endpoint."""
        if endpoint is None or not t.endpoints:
            return t.count, self.model.requests
        stats = self.endpoints.get(endpoint)
        lines = dict(t.endpoints).get(endpoint, 0)
        return lines, 0 if stats is None else stats.requests
