"""Events waiting for the watermark, released in event-time order."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter

from canarywatch.decode.batch import Entry

_TIME = itemgetter(0)  # of an Entry


class PendingEntries:
    """Entries waiting for the watermark, released in time order.

    Kept as runs, one per fed batch, each sorted by time: a release sorts only what it
    releases instead of everything pending. Entries of equal time come out in the order they
    were fed. ``head`` is the entry the release check looks at: the earliest one left by the
    last release, else the first one fed since.
    """

    _MAX_RUNS = 64  # more runs than this are merged into one

    def __init__(self, entries: Sequence[Entry] = ()) -> None:
        self._runs: list[list[Entry]] = []
        self.head: Entry | None = None
        self.add(entries)

    def add(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        if self.head is None:
            self.head = entries[0]
        run = list(entries)
        run.sort(key=_TIME)
        self._runs.append(run)
        if len(self._runs) > self._MAX_RUNS:
            self._runs = [self._merged(self._runs)]

    def take_until(self, cutoff: int) -> list[Entry]:
        """Remove and return, in time order, every entry at or before ``cutoff``."""
        ready: list[list[Entry]] = []
        keep: list[list[Entry]] = []
        for run in self._runs:
            if run[0][0] > cutoff:  # most runs: batches arrive roughly in time order
                keep.append(run)
                continue
            split = bisect_right(run, cutoff, key=_TIME)
            if split == len(run):
                ready.append(run)
            elif split:
                ready.append(run[:split])
                keep.append(run[split:])
            else:
                keep.append(run)
        self._runs = keep
        self.head = min((run[0] for run in keep), key=_TIME) if keep else None
        if len(ready) == 1:
            return ready[0]
        return self._merged(ready)

    def entries(self) -> list[Entry]:
        """Everything pending, ``head`` first, then in release order."""
        merged = self._merged(self._runs)
        head = self.head
        if head is None:
            return merged
        return [head, *(e for e in merged if e is not head)]

    @staticmethod
    def _merged(runs: list[list[Entry]]) -> list[Entry]:
        out = list(chain.from_iterable(runs))
        out.sort(key=_TIME)  # stable: equal times keep run order, i.e. the order fed
        return out
