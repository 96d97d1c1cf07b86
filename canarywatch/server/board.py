"""The current verdict per canary, for routers that ask instead of being told.

:class:`VerdictBoard` is a :class:`~canarywatch.actions.base.VerdictSink`: the pipeline sends it
every verdict change, and the HTTP server's threads read it. A service can have several canary
versions on the board (an earlier canary's last verdict stays until a newer one replaces it);
:meth:`VerdictBoard.select` picks one: the named canary version, else the one whose verdict is
latest in event time, which is the canary currently being judged.

Flagger revisions (:mod:`canarywatch.server.revisions`) hide the verdicts that were on the
board when a Canary's revision changed: ``hidden`` maps a canary version to the event time of
its last verdict before the change, and only later verdicts of that version count.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from canarywatch.events import Verdict


class VerdictBoard:
    """Thread-safe current verdict per (service, canary version)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._verdicts: dict[tuple[str, str], Verdict] = {}
        self._version = 0

    def send(self, verdict: Verdict) -> None:
        """Replace the verdict of ``verdict``'s canary."""
        with self._lock:
            self._verdicts[verdict.key] = verdict
            self._version += 1
            self._changed.notify_all()

    def replace_all(self, verdicts: list[Verdict]) -> None:
        """Make ``verdicts`` the whole board (the API process's copy of the agent's)."""
        with self._lock:
            self._verdicts = {v.key: v for v in verdicts}
            self._version += 1
            self._changed.notify_all()

    def wait_changed(self, seen: int, timeout_s: float) -> int:
        """The :attr:`version` once it differs from ``seen``, or after ``timeout_s``."""
        with self._lock:
            self._changed.wait_for(lambda: self._version != seen, timeout_s)
            return self._version

    @property
    def version(self) -> int:
        """How many sends so far: a reader may cache what it rendered for one version."""
        with self._lock:
            return self._version

    def flush(self, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        return None

    def current(self) -> list[Verdict]:
        """Every canary's current verdict, ordered by service then canary version."""
        with self._lock:
            return [self._verdicts[k] for k in sorted(self._verdicts)]

    def find(self, service: str, hidden: Mapping[str, int] | None = None) -> list[Verdict]:
        """``service``'s current verdicts not hidden (see the module docstring), by version."""
        with self._lock:
            found = [v for k, v in sorted(self._verdicts.items()) if k[0] == service]
        if not hidden:
            return found
        return [v for v in found
                if v.canary_version not in hidden or v.at_unix_nano > hidden[v.canary_version]]

    def select(self, service: str, canary_version: str | None = None,
               hidden: Mapping[str, int] | None = None) -> Verdict | None:
        """The named canary's verdict, else the service's latest in event time; None if none.

        Verdicts in ``hidden`` do not count.
        """
        verdicts = self.find(service, hidden)
        if canary_version is not None:
            return next((v for v in verdicts if v.canary_version == canary_version), None)
        if not verdicts:
            return None
        return max(verdicts, key=lambda v: (v.at_unix_nano, v.canary_version))

