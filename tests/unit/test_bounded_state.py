"""Bounded state: what the miner evicts leaves the analysis, counted, unless it drove a verdict."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry

from canarywatch.config import Config, validate
from canarywatch.events import Action, LogEvent, Severity
from canarywatch.metrics import create_metrics
from canarywatch.pipeline import Pipeline

_T0 = 1_800_000_000 * 10**9
_MS = 1_000_000


def _config(max_clusters: int) -> Config:
    return validate({"templates": {"max_clusters": max_clusters},
                     "cohorts": {"services": {"svc": {"baseline": "1.0", "canary": "2.0"}}}})


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))


def _flood(rng: random.Random, start_ms: int, n: int) -> list[LogEvent]:
    """``n`` lines of distinct random words (each its own template), both versions, 1 ms apart."""
    return [LogEvent("svc", "2.0" if i % 4 == 0 else "1.0", _T0 + (start_ms + i) * _MS,
                     Severity.INFO, " ".join(_word(rng) for _ in range(5)))
            for i in range(n)]


def _book(pipeline: Pipeline) -> dict[str, dict[str, object]]:
    templates: dict[str, dict[str, object]] = pipeline.snapshot()["analysis"]["templates"]["svc"]
    return templates


def _slot_templates(pipeline: Pipeline) -> tuple[int, int, int]:
    """(template entries in all slots, lines in them, evicted lines in them)."""
    entries = lines = evicted = 0
    for _, _, window in pipeline.snapshot()["analysis"]["windows"]:
        for slot in window["slots"].values():
            entries += len(slot["templates"])
            lines += sum(slot["templates"].values())
            evicted += slot.get("evicted_logs", 0)
    return entries, lines, evicted


def test_evicted_templates_leave_the_analysis_counted() -> None:
    """20,000 distinct lines with max_clusters 100: the analysis keeps what the miner keeps
    (plus at most the lines since the last look), and every other line is an evicted one."""
    registry = CollectorRegistry()
    pipeline = Pipeline(_config(100), metrics=create_metrics(registry))
    events = _flood(random.Random(1), 0, 20_000)
    for i in range(0, len(events), 500):
        pipeline.feed_events(events[i:i + 500])
    pipeline.drain()
    assert pipeline.template_count("svc") == 100
    live = {tid for tid in map(int, _book(pipeline))
            if pipeline._templates.canonical_id("svc", tid) == tid}
    named = {r.template_id for v in pipeline.verdicts() for r in v.reasons} - {None}
    # The current verdict's reasons (up to analysis.max_reasons) name a few evicted ones.
    assert len(live) == 100
    assert set(map(int, _book(pipeline))) == live | named
    templates, evicted_lines = pipeline.snapshot()["analysis"]["evicted"]["svc"]
    assert templates == evicted_lines == 20_000 - len(live | named)
    assert registry.get_sample_value("canarywatch_templates_evicted_total") == templates
    entries, by_template, evicted = _slot_templates(pipeline)
    assert entries <= len(live | named)
    assert by_template + evicted == pipeline.counts.logs - _in_no_slot(pipeline)


def _in_no_slot(pipeline: Pipeline) -> int:
    """Lines whose slot already left the window (older than window_s + one bucket)."""
    window = pipeline.snapshot()["analysis"]["windows"]
    kept = sum(slot["logs"] for _, _, w in window for slot in w["slots"].values())
    return pipeline.counts.logs - kept


def test_template_that_drove_a_rollback_keeps_its_text() -> None:
    """A new ERROR template that rolled the canary back stays in the analysis with its text
    after a flood of other lines evicts it from the miner; the flood's templates do not."""
    pipeline = Pipeline(_config(50))
    rng = random.Random(2)
    events: list[LogEvent] = []
    for ms in range(0, 60_000, 20):
        version = "2.0" if ms % 100 == 0 else "1.0"
        events.append(LogEvent("svc", version, _T0 + ms * _MS, Severity.INFO,
                               f"request served in {ms % 97} ms"))
        if version == "2.0":
            events.append(LogEvent("svc", "2.0", _T0 + ms * _MS + 1, Severity.ERROR,
                                   f"payment declined for order {ms}"))
    pipeline.feed_events(events)
    pipeline.drain()
    (verdict,) = pipeline.verdicts()
    assert verdict.action is Action.ROLLBACK
    driver = next(r.template_id for r in verdict.reasons if r.failed)
    assert driver is not None
    pipeline.feed_events(_flood(rng, 60_000, 2_000))
    pipeline.drain()
    assert pipeline._templates.canonical_id("svc", driver) is None  # evicted from the miner
    book = _book(pipeline)
    assert book[str(driver)]["text"] == "payment declined for order <*>"
    assert len(book) <= 50 + 1


def test_a_look_judges_only_services_with_new_data() -> None:
    """1,000 services seen, then one alone sends data for 60 intervals: 60 looks, each of that
    service only (the work of a look does not grow with the services ever seen)."""
    names = [f"svc-{i}" for i in range(1000)]
    config = validate({"analysis": {"evaluation_interval_s": 10}, "cohorts": {"services": {
        n: {"baseline": "1.0", "canary": "2.0"} for n in names}}})
    looked: list[str] = []

    class Counting(Pipeline):
        def _look(self, service: str, now: int) -> None:
            looked.append(service)
            super()._look(service, now)

    pipeline = Counting(config)
    pipeline.feed_events([LogEvent(n, v, _T0 + k * 1000 + i, Severity.INFO, "hello")
                          for k in range(3) for i, n in enumerate(names)
                          for v in ("1.0", "2.0")])
    pipeline.drain()
    before = len(looked)
    for ms in range(0, 600_000, 100):  # 60 intervals of 10 s, one service
        pipeline.feed_events([LogEvent("svc-0", "2.0" if ms % 200 else "1.0",
                                       _T0 + 10 * _MS * 1000 + ms * _MS, Severity.INFO,
                                       "hello")])
    pipeline.drain()
    assert looked[before:] == ["svc-0"] * 60
    assert len(pipeline.verdicts()) == 1  # the others were never judged on nothing
