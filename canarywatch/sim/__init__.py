"""Realistic canary telemetry made by the real OpenTelemetry SDK, for tests, benchmarks, demos."""

from __future__ import annotations

from canarywatch.sim.examples import EXAMPLE_INCIDENT, example_incident
from canarywatch.sim.generator import (
    generate_batches,
    generate_messages,
    load_loghub_lines,
    write_collector_files,
)
from canarywatch.sim.scenario import (
    DEFAULT_ENDPOINTS,
    MESSAGING_ENDPOINTS,
    Endpoint,
    Fault,
    Scenario,
)

__all__ = [
    "DEFAULT_ENDPOINTS",
    "EXAMPLE_INCIDENT",
    "MESSAGING_ENDPOINTS",
    "Endpoint",
    "Fault",
    "Scenario",
    "example_incident",
    "generate_batches",
    "generate_messages",
    "load_loghub_lines",
    "write_collector_files",
]
