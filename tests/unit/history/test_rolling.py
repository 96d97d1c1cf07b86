"""The pipeline's rolling history of each service's baseline, exported as a model."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from canarywatch.config import load
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Event, LogEvent, SpanEvent
from canarywatch.history.rolling import BLOCK_WINDOWS, RollingHistory, rolling_from_config
from canarywatch.history.store import model_from_json, model_to_json
from canarywatch.pipeline import Pipeline
from canarywatch.sim import Fault, Scenario
from canarywatch.sim.generator import generate_batches
from canarywatch.sources.base import Record

_NS = 1_000_000_000
_START = 1_795_000_020_000_000_000  # a minute boundary
_HEALTHY = Scenario(canary_share=0.0, duration_s=300.0, seed=11, start_unix_nano=_START)


def _events(scenario: Scenario) -> list[Event]:
    decoder = Pipeline(load(None, environ={}))
    return [ev for i, (kind, payload) in enumerate(generate_batches(scenario))
            for ev in decoder.decode(Record(payload, kind, f"sim:{i}"))]


def _run(events: list[Event], rolling: RollingHistory | None = None,
         **overrides: object) -> Pipeline:
    config = load(None, environ={}, overrides={"analysis": overrides} if overrides else None)
    pipeline = Pipeline(config, rolling=rolling or rolling_from_config(config))
    pipeline.feed_events(events)
    pipeline.finish()
    return pipeline


def _entry_requests(events: list[Event], lo: int, hi: int) -> Counter[str]:
    """Entry spans per endpoint ending in [lo, hi), counted straight from the events."""
    return Counter(ev.endpoint for ev in events
                   if isinstance(ev, SpanEvent) and ev.is_entry
                   and lo <= ev.end_time_unix_nano < hi)


def test_baseline_windows_become_a_model_with_the_events_counts() -> None:
    """Every closed 60-s window of the baseline is in the model: its requests per endpoint
    and its lines are those of the events in those windows."""
    events = _events(_HEALTHY)
    pipeline = _run(events)
    assert pipeline.rolling is not None
    model = pipeline.rolling.model("checkout", pipeline)
    assert model is not None
    assert model.versions == ("1.4.2",) and model.exposure == "requests"
    assert model.window_s == 60.0
    lo, hi = model.start_unix_nano, model.end_unix_nano
    assert (hi - lo) % (60 * _NS) == 0 and model.windows == (hi - lo) // (60 * _NS) >= 3
    expected = _entry_requests(events, lo, hi)
    assert {e.name: e.requests for e in model.endpoints} == dict(expected)
    assert model.requests == sum(expected.values())
    lines = sum(1 for ev in events if isinstance(ev, LogEvent)
                and lo <= ev.time_unix_nano < hi)
    spans_exceptions = sum(len(ev.exceptions) for ev in events if isinstance(ev, SpanEvent)
                           and lo <= min((x.time_unix_nano for x in ev.exceptions),
                                         default=0) < hi)
    assert sum(t.count for t in model.templates) == lines + spans_exceptions
    assert any("payment gateway timeout" in t.text for t in model.templates)
    assert model.index.vocabulary  # the similarity index is fitted on export


def test_history_survives_a_snapshot_and_a_restart() -> None:
    """A pipeline restored from the snapshot exports the same model."""
    pipeline = _run(_events(replace(_HEALTHY, duration_s=200.0)))
    assert pipeline.rolling is not None
    before = pipeline.rolling.model("checkout", pipeline)
    restored = Pipeline(pipeline.config, rolling=rolling_from_config(pipeline.config))
    restored.restore(pipeline.snapshot())
    assert restored.rolling is not None
    assert restored.rolling.model("checkout", restored) == before
    assert before is not None
    assert model_from_json(model_to_json(before)) == before


def test_a_promoted_canary_joins_the_history_and_a_rolled_back_one_does_not() -> None:
    """Healthy canary: promoted, its version in the history; faulty: rolled back, neither
    its version nor its new ERROR template in the history."""
    healthy = replace(_HEALTHY, canary_share=0.5, duration_s=400.0, seed=12)
    pipeline = _run(_events(healthy), promote_after_s=120.0)
    assert [v.action for v in pipeline.verdicts()] == [Action.PROMOTE]
    assert pipeline.rolling is not None
    model = pipeline.rolling.model("checkout", pipeline)
    assert model is not None and model.versions == ("1.4.2", "1.5.0")
    faulty = replace(healthy, faults=(Fault("new_error", 30.0, "GET /cart", 0.2),))
    pipeline = _run(_events(faulty), promote_after_s=120.0)
    assert [v.action for v in pipeline.verdicts()] == [Action.ROLLBACK]
    assert pipeline.rolling is not None
    model = pipeline.rolling.model("checkout", pipeline)
    assert model is not None and model.versions == ("1.4.2",)
    assert not any("NullPointerException" in t.text for t in model.templates)


def test_history_is_bounded_to_whole_blocks() -> None:
    """With room for one block of windows, the older block is dropped when a newer one
    opens; with room for two, both are kept."""
    boundary = 1_795_000_200 * _NS  # a multiple of one block (60 windows of 10 s)
    events = _events(replace(_HEALTHY, start_unix_nano=boundary - 200 * _NS, rps=5.0))
    one, two = RollingHistory(10.0, BLOCK_WINDOWS), RollingHistory(10.0, 2 * BLOCK_WINDOWS)
    newest, both = (m for m in (r.model("checkout", _run(events, r)) for r in (one, two)))
    assert newest is not None and both is not None
    assert newest.start_unix_nano == boundary and newest.windows <= 10
    assert both.start_unix_nano < boundary and both.windows >= 15


def test_a_history_window_that_is_not_whole_buckets_is_refused() -> None:
    """models.history_window_s must be whole analysis buckets inside the analysis window."""
    with pytest.raises(ConfigError) as err:
        load(None, environ={}, overrides={"models": {"history_window_s": 15}})
    assert err.value.key == "models.history_window_s"
    with pytest.raises(ConfigError):
        load(None, environ={}, overrides={"models": {"history_window_s": 600}})
    assert rolling_from_config(load(None, environ={}, overrides={
        "models": {"history_windows": 0}})) is None
