"""Tests of the per-version time-bucketed window, in particular its inlined span path."""

from __future__ import annotations

from canarywatch.analysis.histogram import MIN_MS, bucket_of
from canarywatch.analysis.windows import EndpointCounts, VersionWindow

S = 1_000_000_000
DURATIONS_MS = (0.0, MIN_MS / 2, MIN_MS, 0.0011, 0.5, 1.0, 1.04, 7.3, 99.999, 250.0, 3600e3)


def test_add_span_counts_like_endpoint_counts_add() -> None:
    """add_span keeps the same requests, errors, histogram and example traces as
    EndpointCounts.add given the same spans."""
    window = VersionWindow(10 * S, keep_slots=7)
    reference = EndpointCounts()
    for i, ms in enumerate(DURATIONS_MS * 3):
        error = i % 4 == 1
        trace = f"t{i}" if i % 5 else ""
        window.add_span(3 * S + i, "GET /cart", error, ms, trace)
        reference.add(error, ms, trace)
    got = window.summary(0, 10 * S).endpoints["GET /cart"]
    assert got.to_json() == reference.to_json()


def test_histogram_buckets_are_those_of_bucket_of() -> None:
    """Each duration lands in the bucket bucket_of names, tiny ones in the lowest."""
    window = VersionWindow(10 * S, keep_slots=7)
    for ms in DURATIONS_MS:
        window.add_span(S, "GET /x", False, ms)
    counts = window.summary(0, 10 * S).endpoints["GET /x"].latency.counts
    expected: dict[int, int] = {}
    for ms in DURATIONS_MS:
        expected[bucket_of(ms)] = expected.get(bucket_of(ms), 0) + 1
    assert counts == expected
    assert bucket_of(0.0) == bucket_of(MIN_MS) < bucket_of(0.0011)


def test_span_for_an_evicted_bucket_is_not_lost_in_the_evicted_slot() -> None:
    """After a newer bucket evicts the current one, a late span of the old bucket is counted
    in a live slot (the cached current slot is dropped with it)."""
    window = VersionWindow(10 * S, keep_slots=2)
    window.add_span(5 * S, "GET /a", False, 1.0)
    window.add_log(60 * S, template_id=1)  # bucket 6 evicts buckets before 4, bucket 0 too
    assert window.summary(0, 10 * S).requests == 0
    window.add_span(6 * S, "GET /a", False, 1.0)
    assert window.summary(0, 10 * S).requests == 1


def test_first_seen_follows_the_earliest_event_on_the_fast_path() -> None:
    """An earlier span in the current bucket still moves first_seen back."""
    window = VersionWindow(10 * S, keep_slots=7)
    window.add_span(8 * S, "GET /a", False, 1.0)
    window.add_span(7 * S, "GET /a", False, 1.0)
    window.add_span(9 * S, "GET /a", False, 1.0)
    assert window.first_seen_unix_nano == 7 * S
    assert window.summary(0, 10 * S).requests == 3
