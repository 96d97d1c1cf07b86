"""Tests for baseline/canary role assignment."""

from __future__ import annotations

from canarywatch.cohort import Cohort, CohortResolver
from canarywatch.config import CohortConfig, ServiceCohorts


def _feed(resolver: CohortResolver, service: str, version: str | None, n: int) -> None:
    for _ in range(n):
        resolver.observe(service, version)


def test_no_roles_before_enough_traffic() -> None:
    """Roles are not guessed from a handful of events."""
    r = CohortResolver(CohortConfig(auto_min_events=50))
    _feed(r, "svc", "1.0", 10)
    _feed(r, "svc", "2.0", 2)
    assert r.roles("svc") is None
    assert r.cohort_of("svc", "1.0") is Cohort.OTHER


def test_majority_version_is_baseline_and_minor_one_canary() -> None:
    """The version with most traffic is the baseline, the other one a canary."""
    r = CohortResolver(CohortConfig(auto_min_events=50))
    _feed(r, "svc", "2.0", 10)  # seen first but smaller
    _feed(r, "svc", "1.0", 90)
    roles = r.roles("svc")
    assert roles is not None
    assert roles.baseline == "1.0"
    assert roles.canaries == ("2.0",)
    assert r.cohort_of("svc", "2.0") is Cohort.CANARY


def test_baseline_sticks_once_chosen() -> None:
    """A canary taking more traffic later does not become the baseline."""
    r = CohortResolver(CohortConfig(auto_min_events=50))
    _feed(r, "svc", "1.0", 90)
    _feed(r, "svc", "2.0", 10)
    assert r.roles("svc") is not None
    _feed(r, "svc", "2.0", 500)
    roles = r.roles("svc")
    assert roles is not None and roles.baseline == "1.0"


def test_tiny_versions_are_not_canaries() -> None:
    """A version below the minimum share of traffic is not compared."""
    r = CohortResolver(CohortConfig(auto_min_events=50, auto_min_canary_share=0.01))
    _feed(r, "svc", "1.0", 2000)
    _feed(r, "svc", "0.9", 3)
    roles = r.roles("svc")
    assert roles is not None and roles.canaries == ()


def test_explicit_roles_win() -> None:
    """Roles from config or the command line are used as given."""
    cfg = CohortConfig(services={"svc": ServiceCohorts(baseline="2.0", canary=("1.0",))})
    r = CohortResolver(cfg)
    _feed(r, "svc", "1.0", 90)
    roles = r.roles("svc")
    assert roles is not None and roles.baseline == "2.0"
    g = CohortResolver(CohortConfig(), global_roles=ServiceCohorts(baseline="a", canary=("b",)))
    _feed(g, "other", "a", 5)
    assert g.roles("other") is None  # the canary was not seen in this service
    _feed(g, "other", "b", 1)
    roles = g.roles("other")
    assert roles is not None and roles.canaries == ("b",)


def test_unversioned_events_are_counted_not_guessed() -> None:
    """Events without a version count separately and never become a cohort."""
    r = CohortResolver(CohortConfig())
    _feed(r, "svc", None, 7)
    assert r.unversioned == 7
    assert r.services() == []
    assert r.cohort_of("svc", None) is Cohort.UNVERSIONED


def test_snapshot_round_trip() -> None:
    """Roles and counts survive a snapshot and restore."""
    r = CohortResolver(CohortConfig(auto_min_events=50))
    _feed(r, "svc", "1.0", 90)
    _feed(r, "svc", "2.0", 10)
    r.roles("svc")
    again = CohortResolver(CohortConfig(auto_min_events=50))
    again.restore(r.snapshot())
    assert again.roles("svc") == r.roles("svc")
