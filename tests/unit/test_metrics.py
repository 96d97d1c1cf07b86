"""Tests for the metrics module and the Grafana dashboard that reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from canarywatch.metrics import create_metrics

REPO = Path(__file__).resolve().parents[2]


def _exposed_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        kind = family.type
        base = family.name
        if kind == "counter":
            names.update({f"{base}_total", f"{base}_created"})
        elif kind == "histogram":
            names.update({f"{base}_bucket", f"{base}_sum", f"{base}_count"})
        else:
            names.add(base)
    return names


def test_each_registry_is_independent() -> None:
    """Metrics go on the registry passed in, so two can live side by side (one per test)."""
    a, b = CollectorRegistry(), CollectorRegistry()
    create_metrics(a).verdicts.labels("rollback").inc()
    create_metrics(b)
    assert a.get_sample_value("canarywatch_verdicts_total", {"action": "rollback"}) == 1.0
    assert b.get_sample_value("canarywatch_verdicts_total", {"action": "rollback"}) is None


def test_dashboard_queries_only_metrics_that_exist() -> None:
    """Every metric the Grafana dashboard queries is one canarywatch exposes."""
    registry = CollectorRegistry()
    create_metrics(registry)
    exposed = _exposed_names(registry)
    dashboard = json.loads((REPO / "config" / "grafana-dashboard.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"canarywatch_\w+", target["expr"])}
    assert used, "the dashboard queries nothing"
    assert used <= exposed, used - exposed


def _by_cohort(registry: CollectorRegistry, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                cohort = sample.labels["cohort"]
                out[cohort] = out.get(cohort, 0.0) + sample.value
    return out


def test_records_consumed_and_events_decoded_share_one_cohort_vocabulary() -> None:
    """Kafka records counted as the daemon counts them get the same cohort labels, with the
    same totals, as the events decoded from them: a versioned event is never `other` in
    one metric and baseline/canary in the other."""
    from canarywatch import config as config_mod
    from canarywatch.pipeline import Pipeline
    from canarywatch.sim import Fault, Scenario
    from canarywatch.sim.generator import generate_batches
    from canarywatch.sources.base import PayloadKind, Record

    registry = CollectorRegistry()
    pipeline = Pipeline(config_mod.load(environ={}), metrics=create_metrics(registry))
    scenario = Scenario(duration_s=90.0, seed=3, faults=(Fault("new_error", start_s=30.0),))
    for offset, (kind, payload) in enumerate(generate_batches(scenario)):
        topic = "otlp_spans" if kind is PayloadKind.OTLP_SPANS else "otlp_logs"
        batch = pipeline.decode_batch(Record(payload, kind, f"{topic}:0:{offset}"))
        pipeline.feed_batch(batch)
        pipeline.count_consumed(topic, batch.origins)  # what the daemon does per record
    pipeline.finish()
    consumed = _by_cohort(registry, "canarywatch_records_consumed_total")
    decoded = _by_cohort(registry, "canarywatch_events_decoded_total")
    assert consumed.get("baseline", 0) > 0 and consumed.get("canary", 0) > 0
    assert consumed == decoded
