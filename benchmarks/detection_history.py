"""Detection quality with learned history (``canarywatch.history``), for ``detection.py``.

The old version's history is learned from healthy periods: 1.4.2 alone for ``HISTORY_S``
seconds, with two bursts of a rare known ERROR, written to a model file and read back (the
same file path as ``canarywatch learn`` / ``replay --models``). ``HISTORIES`` different
histories are learned; run seed s is judged against history s % HISTORIES. Then:

- blue-green: the new version 1.5.0 alone at 100% of the traffic, no live baseline, judged
  against the model only;
- canary with a live baseline (10%): judged with the model and, on the very same events,
  without it, so the table shows what the history changes.

Every run's events come from the real OpenTelemetry SDK, as in ``detection.py``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from canarywatch.config import load
from canarywatch.events import Action
from canarywatch.history import HistoryJudge, Learner, load_model, save_model
from canarywatch.pipeline import Pipeline
from canarywatch.sim.generator import generate_batches
from canarywatch.sim.scenario import Fault, Scenario
from canarywatch.sources.base import Record

FAULT_START_S = 120.0
HISTORY_S = 600.0
HISTORIES = 5
KNOWN_ERROR_RATE = 0.02  # the service always logs its gateway timeouts at 2% of requests
SAME_CODE = "same code"
BENIGN = "benign change"
FAULT = "canary fault"


@dataclass(frozen=True, slots=True)
class HistoryCase:
    name: str
    truth: str
    live_baseline: bool  # False: blue-green, the new version alone
    make: Callable[[Scenario], Scenario]

    @property
    def fault_start_s(self) -> float | None:
        return FAULT_START_S if self.truth == FAULT else None


def _blue_green(*faults: Fault) -> Callable[[Scenario], Scenario]:
    return lambda s: replace(s, canary_share=1.0, faults=faults)


def _canary(*faults: Fault) -> Callable[[Scenario], Scenario]:
    return lambda s: replace(s, faults=faults)


CASES: tuple[HistoryCase, ...] = (
    HistoryCase("blue-green: same code", SAME_CODE, False, _blue_green()),
    HistoryCase("blue-green: new ERROR + 5xx (10% GET /cart)", FAULT, False,
                _blue_green(Fault("new_error", FAULT_START_S, "GET /cart", 0.10))),
    HistoryCase("blue-green: 5xx 0.1% -> 10% on GET /cart", FAULT, False,
                _blue_green(Fault("error_rate", FAULT_START_S, "GET /cart", 0.10))),
    HistoryCase("blue-green: latency x1.5 on POST /checkout", FAULT, False,
                _blue_green(Fault("latency", FAULT_START_S, "POST /checkout", 1.5))),
    HistoryCase("canary: rare known ERROR burst", BENIGN, True,
                _canary(Fault("rare_known_error", 200.0, magnitude=0.1, end_s=230.0))),
    HistoryCase("canary: known ERROR reworded", BENIGN, True,
                _canary(Fault("reword_error", 0.0))),
    HistoryCase("canary: new unrelated ERROR (10% GET /cart)", FAULT, True,
                _canary(Fault("new_error", FAULT_START_S, "GET /cart", 0.10))),
)


def history_scenario(seed: int, corpus: tuple[str, ...]) -> Scenario:
    """1.4.2 alone and healthy, with two bursts of the rare known ERROR."""
    return Scenario(baseline_version="1.4.1", canary_version="1.4.2", canary_share=1.0,
                    duration_s=HISTORY_S, seed=50_000 + seed, log_corpus=corpus,
                    known_error_rate=KNOWN_ERROR_RATE,
                    start_unix_nano=1_794_990_000_000_000_000,
                    faults=(Fault("rare_known_error", 100.0, magnitude=0.1, end_s=130.0),
                            Fault("rare_known_error", 400.0, magnitude=0.1, end_s=430.0)))


def learn_one(task: tuple[int, tuple[str, ...], str]) -> float:
    """Learn seed's history and write it to ``DIR/<seed>/``; returns CPU seconds."""
    seed, corpus, out_dir = task
    started = time.process_time()
    config = load(None, environ={})
    decoder = Pipeline(config)
    learner = Learner(config.templates)
    for i, (kind, payload) in enumerate(generate_batches(history_scenario(seed, corpus))):
        learner.observe(decoder.decode(Record(payload, kind, f"history:{i}")))
    save_model(learner.models()[0], Path(out_dir) / str(seed))
    return time.process_time() - started


@dataclass(frozen=True, slots=True)
class HistoryRun:
    case: str
    seed: int
    rollback_s: tuple[float | None, ...]  # with the model, without it (live cases only)
    cpu_s: float


def run_one(task: tuple[int, int, float, tuple[str, ...], str, dict[str, Any]]) -> HistoryRun:
    case_index, seed, duration_s, corpus, model_dir, overrides = task
    case = CASES[case_index]
    started = time.process_time()
    config = load(None, environ={}, overrides=overrides)
    model = load_model(next((Path(model_dir) / str(seed % HISTORIES)).glob("*.model.json")))
    history = HistoryJudge({model.service: model}, config.analysis,
                           config.models.similarity_threshold)
    scenario = case.make(Scenario(seed=1000 * case_index + seed, duration_s=duration_s,
                                  log_corpus=corpus, known_error_rate=KNOWN_ERROR_RATE))
    pipelines = [Pipeline(config, history=history)]
    if case.live_baseline:
        pipelines.append(Pipeline(config))
    for i, (kind, payload) in enumerate(generate_batches(scenario)):
        events = pipelines[0].decode(Record(payload, kind, f"sim:{i}"))
        for p in pipelines:
            p.feed_events(events)
    out: list[float | None] = []
    for p in pipelines:
        result = p.finish()
        at = next((v.at_unix_nano for v in result.changes if v.action is Action.ROLLBACK), None)
        out.append(None if at is None else (at - scenario.start_unix_nano) / 1e9)
    return HistoryRun(case.name, seed, tuple(out), time.process_time() - started)


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:5.1f}%" if b else "    -"


def print_history_table(by_case: dict[str, list[HistoryRun]]) -> None:
    header = (f"{'history scenario':44} {'truth':13} {'judged against':16} {'runs':>4} "
              f"{'rollback':>8} {'false':>6} {'right':>6} {'med s':>6}")
    print(header)
    print("-" * len(header))
    for case in CASES:
        runs = by_case.get(case.name)
        if not runs:
            continue
        labels = (("live + model", "live only") if case.live_baseline
                  else ("model (no live)",))
        for j, label in enumerate(labels):
            times = [r.rollback_s[j] for r in runs]
            rolled = [t for t in times if t is not None]
            start = case.fault_start_s
            if start is None:
                false, right, delays = len(rolled), len(times) - len(rolled), []
            else:
                false = sum(1 for t in rolled if t < start)
                delays = sorted(t - start for t in rolled if t >= start)
                right = len(delays)
            med = f"{delays[len(delays) // 2]:6.0f}" if delays else "     -"
            print(f"{case.name:44} {case.truth:13} {label:16} {len(times):4d} "
                  f"{_pct(len(rolled), len(times)):>8} {_pct(false, len(times)):>6} "
                  f"{_pct(right, len(times)):>6} {med}")


def run_history_suite(seeds: int, jobs: int, duration_s: float, corpus: tuple[str, ...], *,
                      wanted: list[str], overrides: dict[str, Any]) -> None:
    """Learn one history per seed, run every history case, print the table."""
    chosen = [i for i, c in enumerate(CASES)
              if not wanted or any(c.name.startswith(w) for w in wanted)]
    if not chosen:
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cw-history-") as model_dir, Pool(jobs) as pool:
        learn_cpu = sum(pool.imap_unordered(
            learn_one, [(h, corpus, model_dir) for h in range(min(seeds, HISTORIES))]))
        tasks = [(i, seed, duration_s, corpus, model_dir, overrides)
                 for i in chosen for seed in range(seeds)]
        by_case: dict[str, list[HistoryRun]] = {}
        cpu = 0.0
        for result in pool.imap_unordered(run_one, tasks):
            by_case.setdefault(result.case, []).append(result)
            cpu += result.cpu_s
    print(f"\n{len(tasks)} history runs of {duration_s:.0f} s (40 req/s), fault at "
          f"{FAULT_START_S:.0f} s, judged against {min(seeds, HISTORIES)} models each learned "
          f"from {HISTORY_S:.0f} s of healthy 1.4.2; {learn_cpu:.0f} s CPU learning, "
          f"{cpu:.0f} s CPU judging, "
          f"{time.monotonic() - started:.0f} s wall with {jobs} jobs\n")
    print_history_table(by_case)
