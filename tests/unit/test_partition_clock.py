"""Per-partition watermarks: the same records in any partition interleaving and chunking give
the verdict changes (times and evidence) of one in-order stream, as replay reads it."""

from __future__ import annotations

import random

import pytest

from canarywatch.config import Config, validate
from canarywatch.pipeline import Pipeline
from canarywatch.sim.examples import EXAMPLE_INCIDENT
from canarywatch.sim.generator import generate_batches
from canarywatch.sources.base import Record

PARTITIONS = 3


def _records() -> list[Record]:
    return [Record(payload=payload, kind=kind, origin=f"t:{i % PARTITIONS}:{i}")
            for i, (kind, payload) in enumerate(generate_batches(EXAMPLE_INCIDENT))]


def _changes(pipeline: Pipeline) -> list[dict[str, object]]:
    return [v.to_json() for v in pipeline.finish().changes]


@pytest.fixture(scope="module")
def in_order() -> tuple[list[Record], list[dict[str, object]]]:
    records = _records()
    pipeline = Pipeline(Config())
    for record in records:
        pipeline.feed_batch(pipeline.decode_batch(record))
    return records, _changes(pipeline)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunked_partitions_decide_as_the_in_order_stream(
        in_order: tuple[list[Record], list[dict[str, object]]], seed: int) -> None:
    """Partitions read in random chunks of 1-40 records give the same changes as in order."""
    records, expected = in_order
    assert any(v["action"] == "rollback" for v in expected)
    queues = {p: [r for r in records if r.origin.split(":")[1] == str(p)]
              for p in range(PARTITIONS)}
    rng = random.Random(seed)
    # Partitions drift apart by up to a few minutes of event time here (a random walk of
    # chunks): the property holds while they stay within partition_hold_s of each other.
    pipeline = Pipeline(validate({"analysis": {"partition_hold_s": 3600}}))
    while any(queues.values()):
        p = rng.choice([p for p, q in queues.items() if q])
        take = rng.randint(1, 40)
        chunk, queues[p] = queues[p][:take], queues[p][take:]
        pipeline.set_waiting(f"t:{q}" for q, left in queues.items() if left)
        for record in chunk:
            pipeline.feed_batch(pipeline.decode_batch(record), f"t:{p}")
    assert _changes(pipeline) == expected


def test_without_partition_clocks_chunking_changes_the_decision(
        in_order: tuple[list[Record], list[dict[str, object]]]) -> None:
    """The same chunked reading with one shared clock does not match (the test can fail)."""
    records, expected = in_order
    queues = {p: [r for r in records if r.origin.split(":")[1] == str(p)]
              for p in range(PARTITIONS)}
    pipeline = Pipeline(Config())
    for p in range(PARTITIONS):  # one partition after another: a cold backlog
        for record in queues[p]:
            pipeline.feed_batch(pipeline.decode_batch(record))
    assert _changes(pipeline) != expected
