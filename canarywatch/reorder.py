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

    Kept as runs sorted by time, in the order they were fed; each run is read from a start
    index, so a release copies only what it releases, however much stays pending. Each batch
    is a run of its own while there are few; past ``_MAX_RUNS``, a new batch is merged into
    the newest runs while they are no longer than it (a merge stack, as in Timsort), so the
    runs stay few and each entry is merged a few times: the cost per entry stays flat when
    the buffer holds seconds of a busy stream. Entries of equal time come out in the order
    they were fed. ``head`` is the entry the release check looks at: the earliest one left by
    the last release, else the first one fed since.
    """

    _MAX_RUNS = 64  # batches are kept as they came up to this many runs, then merged

    def __init__(self, entries: Sequence[Entry] = ()) -> None:
        self._runs: list[list[Entry]] = []
        self._starts: list[int] = []  # the first pending entry of each run
        self.head: Entry | None = None
        self.add(entries)

    def __len__(self) -> int:
        return sum(len(run) - start for run, start in zip(self._runs, self._starts, strict=True))

    def add(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        if self.head is None:
            self.head = entries[0]
        run = list(entries)
        run.sort(key=_TIME)
        runs, starts = self._runs, self._starts
        if len(runs) >= self._MAX_RUNS:  # else runs are released whole, never copied
            while runs and len(runs[-1]) - starts[-1] <= len(run):
                older, start = runs.pop(), starts.pop()
                run = older[start:] + run
                run.sort(key=_TIME)  # two sorted runs: one linear, stable merge (older first)
        runs.append(run)
        starts.append(0)

    def take_until(self, cutoff: int) -> list[Entry]:
        """Remove and return, in time order, every entry at or before ``cutoff``."""
        ready: list[list[Entry]] = []
        runs: list[list[Entry]] = []
        starts: list[int] = []
        for run, start in zip(self._runs, self._starts, strict=True):
            if run[start][0] > cutoff:  # most runs: batches arrive roughly in time order
                runs.append(run)
                starts.append(start)
                continue
            split = bisect_right(run, cutoff, lo=start, key=_TIME)
            if start == 0 and split == len(run):
                ready.append(run)
                continue
            ready.append(run[start:split])
            if split < len(run):
                if split > len(run) // 2:  # drop the released half rather than keep it
                    runs.append(run[split:])
                    starts.append(0)
                else:
                    run[start:split] = [None] * (split - start)  # type: ignore[list-item]
                    runs.append(run)  # (let released entries go as soon as they are done)
                    starts.append(split)
        self._runs, self._starts = runs, starts
        self.head = (min((run[start] for run, start in zip(runs, starts, strict=True)),
                         key=_TIME) if runs else None)
        if len(ready) == 1:
            return ready[0]
        return self._merged(ready)

    def entries(self) -> list[Entry]:
        """Everything pending, ``head`` first, then in release order."""
        merged = self._merged([run[start:] for run, start in
                               zip(self._runs, self._starts, strict=True)])
        head = self.head
        if head is None:
            return merged
        return [head, *(e for e in merged if e is not head)]

    @staticmethod
    def _merged(runs: list[list[Entry]]) -> list[Entry]:
        out = list(chain.from_iterable(runs))
        out.sort(key=_TIME)  # stable: equal times keep run order, i.e. the order fed
        return out
