"""Which version of a service is the baseline and which are canaries.

Roles come from config (``cohorts.services``) or the command line first. Where they are not
given, canarywatch decides per service once it has seen ``auto_min_events`` versioned events:
the version carrying most of the traffic (the first seen on a tie) is the baseline and stays
the baseline; every other version carrying at least ``auto_min_canary_share`` of the traffic
is a canary compared with it. Events without a version are counted, never guessed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from canarywatch.config import CohortConfig, ServiceCohorts


class Cohort(str, enum.Enum):
    BASELINE = "baseline"
    CANARY = "canary"
    OTHER = "other"  # a version that is neither (yet)
    UNVERSIONED = "unversioned"


@dataclass(frozen=True, slots=True)
class Roles:
    baseline: str
    canaries: tuple[str, ...]


class CohortResolver:
    """Counts traffic per (service, version) and answers which role a version plays."""

    def __init__(self, config: CohortConfig,
                 overrides: dict[str, ServiceCohorts] | None = None,
                 global_roles: ServiceCohorts | None = None) -> None:
        self._config = config
        self._explicit = {**config.services, **(overrides or {})}
        self._global = global_roles
        self._counts: dict[str, dict[str, int]] = {}  # insertion order = first seen
        self._baseline: dict[str, str] = {}
        self.unversioned = 0

    def observe(self, service: str, version: str | None, n: int = 1) -> None:
        """Count ``n`` events of ``service`` at ``version``."""
        if version is None:
            self.unversioned += n
            return
        versions = self._counts.get(service)
        if versions is None:
            versions = self._counts[service] = {}
        versions[version] = versions.get(version, 0) + n

    def services(self) -> list[str]:
        return list(self._counts)

    def totals(self) -> dict[str, int]:
        """Events counted per service (all versions, and none)."""
        return {service: sum(counts.values()) for service, counts in self._counts.items()}

    def traffic(self, service: str) -> dict[str, int]:
        return dict(self._counts.get(service, {}))

    def roles(self, service: str) -> Roles | None:
        """The service's baseline and canaries now, or None while it cannot be told yet."""
        explicit = self._explicit.get(service)
        if explicit is not None:
            return Roles(explicit.baseline, explicit.canary)
        counts = self._counts.get(service, {})
        if self._global is not None:
            seen = [v for v in self._global.canary if v in counts]
            if self._global.baseline in counts and seen:
                return Roles(self._global.baseline, tuple(seen))
            return None
        total = sum(counts.values())
        baseline = self._baseline.get(service)
        if baseline is None:
            if total < self._config.auto_min_events:
                return None
            top = max(counts.values())
            baseline = next(v for v, n in counts.items() if n == top)
            self._baseline[service] = baseline
        floor = self._config.auto_min_canary_share * total
        canaries = tuple(v for v, n in counts.items() if v != baseline and n >= floor)
        return Roles(baseline, canaries) if canaries else Roles(baseline, ())

    def explicit_canaries(self, service: str) -> tuple[str, ...]:
        """The canary versions named for ``service`` in config or on the command line."""
        explicit = self._explicit.get(service)
        if explicit is not None:
            return explicit.canary
        return () if self._global is None else self._global.canary

    def cohort_of(self, service: str, version: str | None) -> Cohort:
        if version is None:
            return Cohort.UNVERSIONED
        roles = self.roles(service)
        if roles is None:
            return Cohort.OTHER
        if version == roles.baseline:
            return Cohort.BASELINE
        return Cohort.CANARY if version in roles.canaries else Cohort.OTHER

    def snapshot(self) -> dict[str, Any]:
        return {"counts": self._counts, "baseline": self._baseline,
                "unversioned": self.unversioned}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._counts = {s: {v: int(n) for v, n in vs.items()}
                        for s, vs in snapshot.get("counts", {}).items()}
        self._baseline = dict(snapshot.get("baseline", {}))
        self.unversioned = int(snapshot.get("unversioned", 0))
