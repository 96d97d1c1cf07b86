"""Things about the input a user must hear once: a service without versions, a cohort whose
data was mostly rejected. Each is logged once and listed in the replay report."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from canarywatch.rejects import RejectTally

log = logging.getLogger(__name__)

MIN_EVENTS = 20  # a service needs this many events before its share without a version counts
UNVERSIONED_SHARE = 0.5  # more than this share of a service's events without a version: say so


class InputNotices:
    """Counts each service's events with and without a version; says once per service when
    most have none, naming the keys tried and the config key that sets them."""

    def __init__(self, version_keys: Sequence[str]) -> None:
        self._keys = tuple(version_keys)
        self._versioned: dict[str, int] = {}
        self._unversioned: dict[str, int] = {}
        self._told: set[str] = set()
        self.notices: list[str] = []

    def observe(self, service: str, version: str | None, n: int) -> None:
        """Count ``n`` events of ``service`` (``version`` None: without one)."""
        counts = self._unversioned if version is None else self._versioned
        counts[service] = counts.get(service, 0) + n
        if version is None and service not in self._told:
            self._check(service)

    def _check(self, service: str) -> None:
        without = self._unversioned.get(service, 0)
        total = without + self._versioned.get(service, 0)
        if total < MIN_EVENTS or without <= UNVERSIONED_SHARE * total:
            return
        self._told.add(service)
        share = "none" if without == total else f"{without} of {total}"
        text = (f"{service}: {share} of its events carry a version, so they are counted, not "
                f"judged; looked for {', '.join(self._keys)} on the resource and the record "
                "(set the keys with cohorts.version_keys)")
        if without == total:
            text = (f"{service}: no event carries a version ({total} so far), so none is "
                    f"judged; looked for {', '.join(self._keys)} on the resource and the "
                    "record (set the keys with cohorts.version_keys)")
        log.warning("%s", text)
        self.notices.append(text)

    def rejected_cohorts(self, rejects: RejectTally,
                         traffic: Mapping[str, Mapping[str, int]],
                         roles: Mapping[tuple[str, str], str]) -> list[str]:
        """Sentences for each (service, version) most of whose events were rejected, e.g.
        ``checkout 1.5.0 (canary): all 524 records were rejected: ...``."""
        out: list[str] = []
        for (service, version), (n, detail) in rejects.by_version.items():
            kept = traffic.get(service, {}).get(version, 0) if version is not None else \
                self._unversioned.get(service, 0)
            if n <= kept:
                continue
            role = roles.get((service, version or ""), "")
            who = f"{service} {version}" if version is not None else f"{service} (no version)"
            if role:
                who = f"{who} ({role})"
            amount = f"all {n}" if kept == 0 else f"{n} of {n + kept}"
            out.append(f"{who}: {amount} records were rejected, e.g. {detail}")
        return out
