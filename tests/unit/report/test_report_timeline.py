"""The report's recorder: what it writes down at each look matches the telemetry."""

from __future__ import annotations

from collections import Counter

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from canarywatch.config import Config
from canarywatch.events import Action, Verdict
from canarywatch.pipeline import Pipeline, ReplayResult
from canarywatch.report.timeline import TimelineRecorder
from canarywatch.sim import Fault, Scenario, generate_batches
from canarywatch.sources.base import PayloadKind, Record

SCENARIO = Scenario(duration_s=240.0, rps=40.0, canary_share=0.3, seed=5, faults=(
    Fault("new_error", start_s=60.0, endpoint="GET /cart", magnitude=0.4),))
BUCKET_NS = 10 * 1_000_000_000
SERVER = 2


@pytest.fixture(scope="module")
def batches() -> list[tuple[PayloadKind, bytes]]:
    """The scenario's collector batches, written by the OpenTelemetry SDK."""
    return list(generate_batches(SCENARIO, batch_spans=200))


def _run(batches: list[tuple[PayloadKind, bytes]], observer: object | None,
         ) -> ReplayResult:
    pipeline = Pipeline(Config(), observer=observer)  # type: ignore[arg-type]
    for i, (kind, payload) in enumerate(batches):
        pipeline.feed(Record(payload, kind, f"sim:{i}"))
    return pipeline.finish()


def _server_spans_per_bucket(batches: list[tuple[PayloadKind, bytes]], version: str,
                             endpoint_route: str) -> Counter[int]:
    """Entry spans of one version and route per bucket start, read with protobuf directly."""
    out: Counter[int] = Counter()
    for kind, payload in batches:
        if kind is not PayloadKind.OTLP_SPANS:
            continue
        for rs in TracesData.FromString(payload).resource_spans:
            attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
            if attrs.get("service.version") != version:
                continue
            for ss in rs.scope_spans:
                for span in ss.spans:
                    route = {a.key: a.value.string_value for a in span.attributes}.get(
                        "http.route")
                    if span.kind == SERVER and route == endpoint_route:
                        end = span.end_time_unix_nano
                        out[end - end % BUCKET_NS] += 1
    return out


def test_recorded_buckets_count_the_requests_the_telemetry_holds(batches: list) -> None:
    """Each recorded canary bucket of GET /cart holds as many requests as the SDK wrote."""
    recorder = TimelineRecorder()
    _run(batches, recorder)
    (timeline,) = recorder.canaries()
    expected = _server_spans_per_bucket(batches, timeline.canary_version, "/cart")
    recorded = {p.start_unix_nano: dict(p.endpoints)["GET /cart"].requests
                for p in timeline.canary if "GET /cart" in dict(p.endpoints)}
    assert len(recorded) >= 10
    for start, requests in recorded.items():
        assert requests == expected[start], start


def test_decision_is_the_change_that_reached_the_final_action(batches: list) -> None:
    """The timeline's decision is the verdict change at which the canary rolled back."""
    recorder = TimelineRecorder()
    result = _run(batches, recorder)
    (timeline,) = recorder.canaries()
    assert timeline.final.action is Action.ROLLBACK
    first_rollback = next(v for v in result.changes if v.action is Action.ROLLBACK)
    assert timeline.decision is not None
    assert timeline.decision.at_unix_nano == first_rollback.at_unix_nano
    assert [v.action for v in timeline.changes] == [v.action for v in result.changes]
    assert timeline.looks[-1][1] is Action.ROLLBACK
    assert any(tid == r.template_id for tid, _ in timeline.template_texts
               for r in timeline.decision.reasons)


def test_a_failing_observer_changes_no_verdict(batches: list) -> None:
    """An observer that raises at every look leaves verdicts and counts as without one."""

    class Broken:
        def looked(self, view: object, now: int, verdict: Verdict) -> None:
            raise RuntimeError("observer bug")

    plain = _run(batches, None)
    broken = _run(batches, Broken())
    assert [v.to_json() for v in broken.changes] == [v.to_json() for v in plain.changes]
    assert broken.counts == plain.counts


def test_recent_recorder_keeps_at_most_max_points_and_all_coarsens(batches: list) -> None:
    """keep='recent' drops the oldest buckets; keep='all' halves the resolution instead."""
    recent, whole = TimelineRecorder(max_points=8, keep="recent"), TimelineRecorder(max_points=8)
    _run(batches, recent)
    _run(batches, whole)
    (r,), (w,) = recent.canaries(), whole.canaries()
    assert len(r.canary) <= 8 and len(r.looks) <= 8
    assert all(p.width_ns == BUCKET_NS for p in r.canary)
    assert len(w.canary) <= 8
    assert w.canary[0].start_unix_nano < r.canary[0].start_unix_nano
    assert any(p.width_ns > BUCKET_NS for p in w.canary)
    total = sum(dict(p.endpoints).get("GET /cart").requests  # type: ignore[union-attr]
                for p in w.canary if "GET /cart" in dict(p.endpoints))
    fine = TimelineRecorder()
    _run(batches, fine)
    (f,) = fine.canaries()
    assert total == sum(dict(p.endpoints)["GET /cart"].requests for p in f.canary
                        if "GET /cart" in dict(p.endpoints))
