"""The bundled example incident the README's first command and the demo replay."""

from __future__ import annotations

from pathlib import Path

from canarywatch.sim.generator import write_collector_files
from canarywatch.sim.scenario import Fault, Scenario

EXAMPLE_INCIDENT = Scenario(
    duration_s=300.0,
    rps=40.0,
    canary_share=0.10,
    seed=7,
    faults=(Fault("new_error", start_s=120.0, endpoint="GET /cart", magnitude=0.3),),
)


def example_incident(out_dir: Path) -> list[Path]:
    """Write the example incident (5 min; from 120 s the 1.5.0 canary throws a new NPE on
    ``GET /cart`` in 30% of its requests) as collector file-exporter JSON; returns the files."""
    return write_collector_files(EXAMPLE_INCIDENT, out_dir, fmt="json")
