"""A service's learned baseline: what its healthy versions did, as a plain, versioned file.

The model keeps *sufficient statistics* (sums that add up when two models merge) and derives
the numbers the judge uses from them:

- per template: lines ``count`` over ``requests`` of exposure, and ``sum_sq_rate`` =
  sum over history windows of ``c_i**2 / E_i`` (lines c_i, requests E_i in window i). The mean
  rate is ``count / requests``; the Pearson dispersion of window counts around it is
  ``(sum_sq_rate / rate - count) / (windows - 1)`` (1 for Poisson windows; more when windows
  vary more than Poisson, as real services do);
- per endpoint: requests, errors and ``sum_sq_error_rate`` the same way, the latency
  histogram (the analysis's log buckets, mergeable) and the per-window median latency's
  mean and spread in log-milliseconds;
- the TF-IDF vocabulary and idf weights of the template texts (scikit-learn), so the
  similarity index is rebuilt without refitting.

The file is JSON (``FORMAT``, ``FORMAT_VERSION``); see ``models/README.md``. It never holds
pickled objects: :func:`canarywatch.history.store.load_model` parses it with ``json`` and
checks every field, so a model file from elsewhere cannot run code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from canarywatch.events import Severity

FORMAT = "canarywatch.service-model"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class TemplateStats:
    """One known template of the service and how often healthy versions logged it."""

    text: str
    severity: Severity
    count: int  # lines in the history
    sum_sq_rate: float  # sum over windows of lines**2 / requests (dispersion)
    windows_seen: int  # history windows with at least one line
    first_seen_unix_nano: int
    last_seen_unix_nano: int
    examples: tuple[str, ...] = ()  # a few raw lines, nothing more
    endpoints: tuple[tuple[str, int], ...] = ()  # lines per endpoint, where the trace told


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """One endpoint of the service: traffic, errors and latency in the history."""

    name: str
    requests: int
    errors: int
    sum_sq_error_rate: float  # sum over windows of errors**2 / requests
    windows: int  # history windows with requests on this endpoint
    latency: tuple[tuple[int, int], ...]  # (log bucket, count), as analysis.histogram
    median_windows: int = 0  # windows with enough requests for a median
    log_median_sum: float = 0.0  # sum of ln(median ms) over those windows
    log_median_sq_sum: float = 0.0


@dataclass(frozen=True, slots=True)
class TextIndexState:
    """A fitted TF-IDF vectoriser: its vocabulary (column order) and idf weights."""

    vocabulary: tuple[str, ...] = ()
    idf: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceModel:
    """What one service's healthy versions did over ``windows`` windows of ``window_s``."""

    service: str
    versions: tuple[str, ...]
    window_s: float
    windows: int  # history windows with exposure
    requests: int  # exposure: requests (or log lines when the service has no spans)
    exposure: str  # "requests" or "log_lines"
    start_unix_nano: int
    end_unix_nano: int
    templates: tuple[TemplateStats, ...] = ()
    endpoints: tuple[EndpointStats, ...] = ()
    index: TextIndexState = field(default_factory=TextIndexState)

    @property
    def duration_s(self) -> float:
        return max(0.0, (self.end_unix_nano - self.start_unix_nano) / 1e9)

    def describe(self) -> str:
        """``7 days of 1.4.2's history`` (the versions it was learned from, and how long)."""
        versions = ", ".join(self.versions[-3:]) or "unknown versions"
        if len(self.versions) > 3:
            versions = f"{len(self.versions)} versions up to {versions}"
        return f"{_span(self.duration_s)} of {versions}'s history"


def rate(count: int, exposure: int) -> float:
    """Events per unit of exposure (0 with no exposure)."""
    return count / exposure if exposure > 0 else 0.0


def dispersion(count: int, sum_sq_rate: float, exposure: int, windows: int) -> float:
    """Pearson dispersion of window counts around the mean rate; at least 1 (Poisson)."""
    mean = rate(count, exposure)
    if windows < 2 or mean <= 0.0:
        return 1.0
    return max(1.0, (sum_sq_rate / mean - count) / (windows - 1))


def rate_sd(count: int, sum_sq_rate: float, exposure: int) -> float:
    """Exposure-weighted standard deviation of the per-window rates."""
    if exposure <= 0:
        return 0.0
    variance = (sum_sq_rate - count * rate(count, exposure)) / exposure
    return math.sqrt(max(0.0, variance))


def template_dispersion(model: ServiceModel, t: TemplateStats) -> float:
    return dispersion(t.count, t.sum_sq_rate, model.requests, model.windows)


def error_dispersion(e: EndpointStats) -> float:
    return dispersion(e.errors, e.sum_sq_error_rate, e.requests, e.windows)


def median_log_sd(e: EndpointStats) -> float:
    """Window-to-window spread of the median latency, in ln(ms) (0 below 3 windows)."""
    n = e.median_windows
    if n < 3:
        return 0.0
    mean = e.log_median_sum / n
    return math.sqrt(max(0.0, (e.log_median_sq_sum - n * mean * mean) / (n - 1)))


def _span(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
