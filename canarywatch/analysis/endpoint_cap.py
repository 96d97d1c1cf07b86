"""Bounded endpoint cardinality per service: past the limit the lightest fold into ``other``.

One :class:`EndpointCap` per service, shared by all its versions, so both cohorts fold the
same names. Endpoints keep their name first come, first kept; a folded name whose traffic grows
past twice the least-trafficked kept endpoint's takes its place (checked when the folded
name's count reaches a power of two, so the cost stays constant per request), and the
displaced endpoint's later requests fold. Memory: ``limit`` kept names and at most
``4 x limit`` folded names being counted (the lighter half is forgotten when full).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

OTHER = "other"
_FOLDED_PER_KEPT = 4
_FIRST_PROMOTION_CHECK = 8


class EndpointCap:
    """Maps a service's endpoint names to at most ``limit`` kept names plus :data:`OTHER`."""

    def __init__(self, service: str, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.service = service
        self.limit = limit
        self.kept: dict[str, int] = {}  # kept endpoint -> requests seen
        self._folded: dict[str, int] = {}  # folded name -> requests seen (bounded)
        self.folded_requests = 0  # requests counted under OTHER so far

    def endpoint(self, name: str) -> str:
        """The name to count one request of ``name`` under: itself, or OTHER."""
        kept = self.kept
        n = kept.get(name)
        if n is not None:
            kept[name] = n + 1
            return name
        if len(kept) < self.limit:
            kept[name] = 1
            return name
        return self._fold(name)

    def _fold(self, name: str) -> str:
        folded = self._folded
        n = folded.get(name, 0) + 1
        if n >= _FIRST_PROMOTION_CHECK and n & (n - 1) == 0:
            least = min(self.kept, key=self.kept.__getitem__)
            if n > 2 * self.kept[least]:
                folded[least] = self.kept.pop(least)
                del folded[name]
                self.kept[name] = n
                return name
        if self.folded_requests == 0:
            log.warning("%s: more than %d endpoints; the least-trafficked are counted as %r "
                        "(analysis.max_endpoints_per_service)", self.service, self.limit, OTHER)
        self.folded_requests += 1
        if name not in folded and len(folded) >= _FOLDED_PER_KEPT * self.limit:
            keep = sorted(folded.values(), reverse=True)[len(folded) // 2]
            self._folded = folded = {k: v for k, v in folded.items() if v > keep}
        folded[name] = n
        return OTHER

    def to_json(self) -> dict[str, Any]:
        return {"kept": self.kept, "folded": self._folded, "folded_requests": self.folded_requests}

    @classmethod
    def from_json(cls, service: str, limit: int, data: dict[str, Any]) -> EndpointCap:
        cap = cls(service, limit)
        kept = sorted(((str(k), int(v)) for k, v in data.get("kept", {}).items()),
                      key=lambda kv: -kv[1])
        cap.kept = dict(kept[:limit])
        cap._folded = {str(k): int(v) for k, v in data.get("folded", {}).items()}
        cap.folded_requests = int(data.get("folded_requests", 0))
        return cap
