"""The reorder buffer releases exactly what a stable sort of everything fed would, in order."""

from __future__ import annotations

import random

import pytest

from canarywatch.decode.batch import CountedSpan, Entry
from canarywatch.reorder import PendingEntries


def _batches(seed: int) -> list[list[Entry]]:
    """Batches of roughly increasing times with jitter, ties and some very late entries."""
    rng = random.Random(seed)
    out: list[list[Entry]] = []
    now = 0
    for b in range(300):
        now += rng.randint(0, 40)
        batch: list[Entry] = []
        for i in range(rng.choice([0, 1, 5, 50, 400])):
            late = rng.random() < 0.02
            t = now - (rng.randint(100, 2000) if late else rng.randint(0, 30))
            batch.append((max(0, t), CountedSpan("svc", f"{b}:{i}")))
        out.append(batch)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_releases_match_a_stable_sort_of_everything_fed(seed: int) -> None:
    rng = random.Random(seed)
    pending = PendingEntries()
    reference: list[Entry] = []  # everything fed and not yet released, in feed order
    cutoff = 0
    for batch in _batches(seed):
        pending.add(batch)
        reference.extend(batch)
        assert len(pending) == len(reference)
        if rng.random() < 0.5:
            cutoff += rng.randint(0, 120)
            got = pending.take_until(cutoff)
            want = sorted((e for e in reference if e[0] <= cutoff), key=lambda e: e[0])
            assert [id(e) for e in got] == [id(e) for e in want]
            released = {id(e) for e in got}
            reference = [e for e in reference if id(e) not in released]
            if reference:
                assert pending.head is not None and pending.head[0] == min(
                    e[0] for e in reference)
            else:
                assert pending.head is None
        if rng.random() < 0.05:  # a snapshot holds everything, head first
            snap = pending.entries()
            assert sorted(map(id, snap)) == sorted(map(id, reference))
            if snap:
                assert snap[0] is pending.head
    rest = pending.take_until(10**12)
    assert [id(e) for e in rest] == [id(e) for e in sorted(reference, key=lambda e: e[0])]
    assert len(pending) == 0 and pending.head is None


def test_runs_stay_few_however_many_batches_wait() -> None:
    """A merge stack: thousands of pending batches are held in a handful of runs."""
    pending = PendingEntries()
    for b in range(5000):
        pending.add([(b * 10 + i, CountedSpan("svc", None)) for i in range(10)])
    assert len(pending) == 50_000
    assert len(pending._runs) <= PendingEntries._MAX_RUNS + 16
