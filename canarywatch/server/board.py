"""The current verdict per canary, for routers that ask instead of being told.

:class:`VerdictBoard` is a :class:`~canarywatch.actions.base.VerdictSink`: the pipeline sends it
every verdict change, and the HTTP server's threads read it. A service can have several canary
versions on the board (an earlier canary's last verdict stays until a newer one replaces it);
:meth:`VerdictBoard.select` picks one: the named canary version, else the one whose verdict is
latest in event time, which is the canary currently being judged.

Every send gets a sequence number. :class:`FlaggerRevisions` uses it so that an earlier
release's last verdict (say, the rollback of yesterday's canary) does not answer for a new
release of the same service: Flagger's payload carries a ``checksum`` of the canary's
revision; when it changes, verdicts sent before the change no longer count for that Canary.
The first checksum seen after a start only records the revision (verdicts restored from
state stay valid).
"""

from __future__ import annotations

import threading

from canarywatch.events import Verdict


class VerdictBoard:
    """Thread-safe current verdict per (service, canary version)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verdicts: dict[tuple[str, str], Verdict] = {}
        self._seqs: dict[tuple[str, str], int] = {}
        self._seq = 0

    def send(self, verdict: Verdict) -> None:
        """Replace the verdict of ``verdict``'s canary."""
        with self._lock:
            self._seq += 1
            self._verdicts[verdict.key] = verdict
            self._seqs[verdict.key] = self._seq

    @property
    def seq(self) -> int:
        """The sequence number of the last send (0 before any)."""
        with self._lock:
            return self._seq

    def flush(self, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        return None

    def current(self) -> list[Verdict]:
        """Every canary's current verdict, ordered by service then canary version."""
        with self._lock:
            return [self._verdicts[k] for k in sorted(self._verdicts)]

    def find(self, service: str, after_seq: int = 0) -> list[Verdict]:
        """``service``'s current verdicts sent after ``after_seq``, by canary version."""
        with self._lock:
            return [v for k, v in sorted(self._verdicts.items())
                    if k[0] == service and self._seqs[k] > after_seq]

    def select(self, service: str, canary_version: str | None = None,
               after_seq: int = 0) -> Verdict | None:
        """The named canary's verdict, else the service's latest in event time; None if none.

        Only verdicts sent after ``after_seq`` count.
        """
        verdicts = self.find(service, after_seq)
        if canary_version is not None:
            return next((v for v in verdicts if v.canary_version == canary_version), None)
        if not verdicts:
            return None
        return max(verdicts, key=lambda v: (v.at_unix_nano, v.canary_version))


class FlaggerRevisions:
    """Per Flagger Canary, the board sequence number from which verdicts count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[str, int]] = {}

    def floor(self, namespace: str, name: str, checksum: str | None, board_seq: int) -> int:
        """Record the Canary's revision ``checksum``; verdicts must be sent after the result."""
        if not checksum:
            return 0
        key = (namespace, name)
        with self._lock:
            previous = self._seen.get(key)
            if previous is None:
                self._seen[key] = (checksum, 0)
                return 0
            if previous[0] != checksum:
                self._seen[key] = (checksum, board_seq)
                return board_seq
            return previous[1]
