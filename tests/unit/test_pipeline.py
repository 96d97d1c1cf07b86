"""Pipeline: the fast path (spans analysis does not read are only counted) changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from canarywatch.config import Config, validate
from canarywatch.events import SpanEvent
from canarywatch.metrics import create_metrics
from canarywatch.pipeline import Pipeline
from canarywatch.sim import Fault, Scenario, generate_batches
from canarywatch.sources.base import PayloadKind, Record

SCENARIO = Scenario(duration_s=90.0, rps=30.0, canary_share=0.3, seed=11, faults=(
    Fault("new_error", start_s=20.0, endpoint="GET /cart", magnitude=0.4),))


@dataclass(frozen=True, slots=True)
class Outcome:
    changes: list[dict[str, object]]
    final: list[dict[str, object]]
    counts: dict[str, int]
    metrics: list[tuple[str, tuple[tuple[str, str], ...], float]]
    traffic: list[tuple[str, list[tuple[str, int]]]]  # in first-seen order


@pytest.fixture(scope="module")
def records() -> list[Record]:
    """Collector batches of the scenario, some held back past the lateness allowance."""
    made = [Record(p, k, f"sim:{i}")
            for i, (k, p) in enumerate(generate_batches(SCENARIO, batch_spans=100))]
    late = made[10::17]
    on_time = [r for r in made if r not in late]
    # Each late record arrives 30 records after its turn: well behind the watermark.
    for n, record in enumerate(late):
        on_time.insert(min(len(on_time), 10 + 17 * n + 30), record)
    assert sorted(r.origin for r in on_time) == sorted(r.origin for r in made)
    return on_time


def config(interval_s: float = 3) -> Config:
    return validate({"analysis": {"evaluation_interval_s": interval_s}})


def outcome(pipeline: Pipeline, registry: CollectorRegistry) -> Outcome:
    result = pipeline.finish()
    samples = sorted((s.name, tuple(sorted(s.labels.items())), s.value)
                     for metric in registry.collect() for s in metric.samples
                     if not s.name.endswith("_created"))
    cohorts = pipeline.snapshot()["cohorts"]["counts"]
    return Outcome([v.to_json() for v in result.changes], [v.to_json() for v in result.final],
                   result.counts.to_json(), samples,
                   [(s, list(versions.items())) for s, versions in cohorts.items()])


def run_full(records: list[Record], interval_s: float = 3) -> Outcome:
    """The reference: every span materialised (``decode`` + ``feed_events``)."""
    registry = CollectorRegistry()
    pipeline = Pipeline(config(interval_s), metrics=create_metrics(registry))
    for record in records:
        pipeline.feed_events(pipeline.decode(record))
    return outcome(pipeline, registry)


@pytest.mark.parametrize("interval_s", [3, 2.5])
def test_fast_path_gives_the_same_verdicts_counts_and_metrics(records: list[Record],
                                                              interval_s: float) -> None:
    """feed() (counted spans, grouped per evaluation interval) and feed_events(decode())
    agree on everything observable, also with an interval of fractional seconds."""
    registry = CollectorRegistry()
    pipeline = Pipeline(config(interval_s), metrics=create_metrics(registry))
    for record in records:
        pipeline.feed(record)
    fast = outcome(pipeline, registry)
    full = run_full(records, interval_s)
    assert fast == full
    assert any(c["action"] == "rollback" for c in fast.changes)
    spans = sum(1 for r in records if r.kind is PayloadKind.OTLP_SPANS)
    assert spans and fast.counts["spans"] > 0 and fast.counts["logs"] > 0


def test_fast_path_materialises_only_entry_spans(records: list[Record]) -> None:
    """The simulated CLIENT child spans reach the pipeline as counts only."""
    pipeline = Pipeline(config())
    span_records = [r for r in records if r.kind is PayloadKind.OTLP_SPANS]
    batches = [pipeline.decode_batch(r) for r in span_records]
    spans = sum(len(pipeline.decode(r)) for r in span_records)
    materialised = sum(len(b.events) for b in batches)
    assert sum(b.items for b in batches) == spans
    assert 0 < materialised < sum(len(b.entries) for b in batches) < spans
    events = [ev for b in batches for ev in b.events]
    assert all(isinstance(ev, SpanEvent) and (ev.is_entry or ev.exceptions) for ev in events)


def test_snapshot_with_pending_counted_spans_resumes_exactly(records: list[Record]) -> None:
    """A snapshot taken mid-stream (counted spans still pending) restores to the same end."""
    registry = CollectorRegistry()
    first = Pipeline(config())
    half = len(records) // 2
    for record in records[:half]:
        first.feed(record)
    snapshot = json.loads(json.dumps(first.snapshot()))
    pending = snapshot["pending"]
    assert any(isinstance(e, dict) and e["t"] == "counted_span" for e in pending)
    assert any(isinstance(e, list) and e[0] == "row" for e in pending)  # compact SpanRows
    resumed = Pipeline(config(), metrics=create_metrics(registry))
    resumed.restore(snapshot)
    for record in records[half:]:
        resumed.feed(record)
    result = resumed.finish()
    full = run_full(records)
    resumed_changes = [v.to_json() for v in result.changes]
    assert resumed_changes == full.changes[len(full.changes) - len(resumed_changes):]
    assert [v.to_json() for v in result.final] == full.final
    assert result.counts.to_json() == full.counts


def test_malformed_record_is_counted_and_skipped() -> None:
    """A record that is not OTLP is rejected on the fast path too, and the pipeline goes on."""
    pipeline = Pipeline(Config())
    pipeline.feed(Record(b"\x0a\xff\xff", PayloadKind.OTLP_SPANS, "bad:1"))
    assert pipeline.counts.rejected == 1
    assert pipeline.finish().counts.spans == 0


def test_malformed_record_is_logged_with_its_origin_and_counted(
        caplog: pytest.LogCaptureFixture) -> None:
    """A bad record is counted and its file:line appears in the log; the run goes on."""
    pipeline = Pipeline(Config())
    with caplog.at_level("WARNING", logger="canarywatch.pipeline"):
        pipeline.feed(Record(b"{not json", PayloadKind.OTLP_ANY, "traces.jsonl:42"))
        pipeline.feed(Record(b"\x0a\xff\xff", PayloadKind.OTLP_SPANS, "otlp_spans:0:17"))
    assert pipeline.counts.rejected == 2
    assert "traces.jsonl:42" in caplog.text
    assert "otlp_spans:0:17" in caplog.text
    assert pipeline.finish().counts.rejected == 2


class _TrafficAtLooks(Pipeline):
    """Records each version's traffic count as the judge sees it at every look."""

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.looks: list[tuple[str, int, str]] = []

    def _look(self, service: str, now: int) -> None:
        self.looks.append((service, now, json.dumps(self.snapshot()["cohorts"]["counts"])))
        super()._look(service, now)


@pytest.mark.parametrize("interval_s", [3, 2.5])
def test_grouped_counted_spans_give_every_look_the_same_traffic(records: list[Record],
                                                                 interval_s: float) -> None:
    """Counted spans are grouped, never across a look: each look sees the traffic counts it
    would see with every span fed on its own."""
    fast, full = _TrafficAtLooks(config(interval_s)), _TrafficAtLooks(config(interval_s))
    for record in records:
        fast.feed(record)
        full.feed_events(full.decode(record))
    fast.finish()
    full.finish()
    assert len(fast.looks) > 20
    assert fast.looks == full.looks


@pytest.mark.parametrize("lateness_s", [0.0, 1.0, 5.0])
def test_events_wait_for_analysis_lateness_s_of_newer_events(lateness_s: float) -> None:
    """An event is processed once events lateness_s newer have been seen (or at drain)."""
    from canarywatch.events import LogEvent, Severity

    pipeline = Pipeline(validate({"analysis": {"lateness_s": lateness_s}}))
    t0 = 1_795_000_000 * 1_000_000_000

    def line(at_s: float) -> LogEvent:
        return LogEvent("shop", "1.0", t0 + int(at_s * 1e9), Severity.INFO, "hello")

    pipeline.feed_events([line(0.0)])
    for newer_s in (0.5, 0.99, 1.01, 4.0, 5.01):
        pipeline.feed_events([line(newer_s)])
        processed = pipeline.counts.logs > 0
        assert processed == (newer_s > lateness_s), newer_s
    pipeline.drain()
    assert pipeline.counts.logs == 6
