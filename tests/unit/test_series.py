"""Per-service /metrics series are capped: the busiest services by name, the rest as other."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from canarywatch.config import validate
from canarywatch.events import LogEvent, Severity
from canarywatch.metrics import create_metrics
from canarywatch.pipeline import Pipeline
from canarywatch.series import OTHER, ServiceSeries


def _labels(registry: CollectorRegistry, name: str) -> dict[str, float]:
    return {s.labels["service"]: s.value for m in registry.collect() for s in m.samples
            if s.name == name}


def test_busiest_keep_their_series_and_the_rest_sum_under_other() -> None:
    """After ranking, the 3 busiest services have their own gauge; the others' values are
    summed under other, and a service that left the top has no series of its own left."""
    registry = CollectorRegistry()
    gauge = Gauge("g", "g", ["service"], registry=registry)
    counter = Counter("c", "c", ["service"], registry=registry)
    traffic = {f"s{i}": i for i in range(10)}
    series = ServiceSeries(3, (gauge,), (counter,), lambda: dict(traffic))
    for name in traffic:  # the first three seen take the places until a ranking
        series.set(gauge, name, 1.0)
        series.inc(counter, name, 2)
    assert _labels(registry, "g") == {"s0": 1, "s1": 1, "s2": 1, OTHER: 7}
    series.rerank()
    assert _labels(registry, "g") == {"s7": 1, "s8": 1, "s9": 1, OTHER: 7}
    assert set(_labels(registry, "c_total")) == {OTHER}  # the top ones counted nothing yet
    series.set(gauge, "s0", 5.0)
    series.set(gauge, "s9", 4.0)
    assert _labels(registry, "g") == {"s7": 1, "s8": 1, "s9": 4, OTHER: 11}


def test_pipeline_metrics_have_at_most_the_cap_of_service_series() -> None:
    """50 services and server.max_service_series 5: /metrics names 5 services plus other."""
    registry = CollectorRegistry()
    config = validate({"server": {"max_service_series": 5}, "analysis": {
        "evaluation_interval_s": 1}})
    pipeline = Pipeline(config, metrics=create_metrics(registry))
    t0 = 1_800_000_000 * 10**9
    events = [LogEvent(f"svc-{i % 50}", "1.0", t0 + k * 10_000_000, Severity.INFO, "hello")
              for k, i in enumerate(range(20_000))]
    pipeline.feed_events(events)
    pipeline.finish()
    services = _labels(registry, "canarywatch_templates")
    assert len(services) == 6 and OTHER in services
    assert services[OTHER] == 45  # one template in each of the 45 others
