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
