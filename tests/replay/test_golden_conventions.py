"""Golden replay tests: canaries whose instrumentation writes another semantic-convention
version than their baseline's, or no route at all, are still compared endpoint by endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from canarywatch.sim import MESSAGING_ENDPOINTS, Fault, Scenario

Replay = Any

BASE = dict(duration_s=300.0, rps=40.0, canary_share=0.10)
CHECKOUT_FAULT = Fault("error_rate", start_s=60.0, endpoint="POST /checkout", magnitude=0.10)
NEWER_HTTP = [("http_legacy", "http"), ("http_legacy_no_route", "http_no_route")]


def _failed(final: dict[str, object]) -> list[dict[str, object]]:
    reasons = final["reasons"]
    assert isinstance(reasons, list)
    return [r for r in reasons if isinstance(r, dict) and r.get("failed")]


def _endpoints(final: dict[str, object]) -> set[object]:
    reasons = final["reasons"]
    assert isinstance(reasons, list)
    return {r.get("endpoint") for r in reasons if isinstance(r, dict)}


@pytest.mark.parametrize(("baseline", "canary"), NEWER_HTTP)
def test_newer_http_convention_with_a_fault_rolls_back(replay: Replay, baseline: str,
                                                       canary: str) -> None:
    """A canary on the newer HTTP convention failing 10% of one endpoint rolls back on it."""
    s = Scenario(seed=41, faults=(CHECKOUT_FAULT,), baseline_instrumentation=baseline,
                 canary_instrumentation=canary, **BASE)  # type: ignore[arg-type]
    run = replay(s)
    assert run.exit_code == 3
    assert any(r["signal"] == "error_rate" and r.get("endpoint") == "POST /checkout"
               for r in _failed(run.final)), run.final["reasons"]


@pytest.mark.parametrize(("baseline", "canary"), NEWER_HTTP)
def test_newer_http_convention_without_a_fault_does_not_roll_back(
        replay: Replay, baseline: str, canary: str) -> None:
    """The same release without the fault: no rollback, and no endpoint seen in one cohort."""
    s = Scenario(seed=42, baseline_instrumentation=baseline, canary_instrumentation=canary,
                 **BASE)  # type: ignore[arg-type]
    run = replay(s)
    assert run.exit_code == 0
    assert all(v["action"] != "rollback" for v in run.verdicts)
    assert not any("appears only in" in str(r.get("summary")) for v in run.verdicts
                   for r in v["reasons"])  # type: ignore[attr-defined]


def test_raw_path_span_names_without_route_and_a_fault_roll_back(replay: Replay) -> None:
    """Spans named `GET /products/48213` with no route are templated, and the fault found."""
    fault = Fault("error_rate", start_s=60.0, endpoint="GET /products/{id}", magnitude=0.15)
    s = Scenario(seed=43, faults=(fault,), baseline_instrumentation="raw_path",
                 canary_instrumentation="raw_path", **BASE)  # type: ignore[arg-type]
    run = replay(s)
    assert run.exit_code == 3
    assert any(r["signal"] == "error_rate" and r.get("endpoint") == "GET /products/{id}"
               for r in _failed(run.final)), run.final["reasons"]
    assert not any("/products/1" in str(e) for e in _endpoints(run.final))


def test_messaging_consumers_across_the_convention_change_roll_back(replay: Replay) -> None:
    """`orders process` vs `process orders` consumers, 10% failing with no exception events."""
    fault = Fault("error_rate", start_s=60.0, endpoint="process orders", magnitude=0.10)
    s = Scenario(seed=44, faults=(fault,), endpoints=MESSAGING_ENDPOINTS,
                 baseline_instrumentation="messaging_legacy",
                 canary_instrumentation="messaging", **BASE)  # type: ignore[arg-type]
    run = replay(s)
    assert run.exit_code == 3
    assert any(r["signal"] == "error_rate" and r.get("endpoint") == "process orders"
               for r in _failed(run.final)), run.final["reasons"]


def test_messaging_consumers_across_the_convention_change_without_fault(replay: Replay) -> None:
    """The same consumers without the fault: no rollback."""
    s = Scenario(seed=45, endpoints=MESSAGING_ENDPOINTS,
                 baseline_instrumentation="messaging_legacy",
                 canary_instrumentation="messaging", **BASE)  # type: ignore[arg-type]
    run = replay(s)
    assert run.exit_code == 0
    assert all(v["action"] != "rollback" for v in run.verdicts)
