"""A log-bucketed, mergeable histogram of durations.

Bucket ``i`` holds values in ``[GROWTH**i, GROWTH**(i+1))`` milliseconds, so every bucket is
about 4% wide whatever the scale: a 20% latency shift moves a value ~5 buckets. Memory is one
integer per occupied bucket (a few hundred at most between 1 us and 1 hour), so the cost of a
comparison does not grow with traffic. Histograms of the same shape merge by adding counts,
which is what makes them summaries agents can exchange.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

GROWTH = 1.04
LOG_GROWTH = math.log(GROWTH)
# Values at or below this many milliseconds share the lowest bucket.
MIN_MS = 0.001
MIN_INDEX = math.floor(math.log(MIN_MS) / LOG_GROWTH)


def bucket_of(value_ms: float) -> int:
    """The bucket index of a duration in milliseconds."""
    if value_ms <= MIN_MS:
        return MIN_INDEX
    return math.floor(math.log(value_ms) / LOG_GROWTH)


def bucket_mid_ms(index: int) -> float:
    """The geometric middle of bucket ``index`` in milliseconds."""
    return float(GROWTH ** (index + 0.5))


@dataclass(slots=True)
class Histogram:
    """Counts per log bucket; mutable while a time bucket fills, merged for a window."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0

    def add(self, value_ms: float, count: int = 1) -> None:
        index = bucket_of(value_ms)
        self.counts[index] = self.counts.get(index, 0) + count
        self.total += count

    def merge(self, other: Histogram) -> None:
        counts = self.counts
        for index, n in other.counts.items():
            counts[index] = counts.get(index, 0) + n
        self.total += other.total

    @classmethod
    def merged(cls, parts: Iterable[Histogram]) -> Histogram:
        out = cls()
        for part in parts:
            out.merge(part)
        return out

    def quantile_ms(self, q: float) -> float:
        """The value below which a fraction ``q`` of the durations fall (bucket middle)."""
        if self.total == 0:
            return math.nan
        rank = q * self.total
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return bucket_mid_ms(index)
        return bucket_mid_ms(max(self.counts))

    def mean_ms(self) -> float:
        if self.total == 0:
            return math.nan
        return sum(bucket_mid_ms(i) * n for i, n in self.counts.items()) / self.total

    def to_json(self) -> dict[str, int]:
        return {str(i): n for i, n in self.counts.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> Histogram:
        counts = {int(i): int(n) for i, n in data.items()}
        return cls(counts, sum(counts.values()))
