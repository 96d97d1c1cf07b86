"""Detection quality: canarywatch against Flagger's and Kayenta's judges on the same runs.

    python benchmarks/detection.py [--seeds 20] [--loghub ../shared/datasets/loghub-2k]
                                   [--jobs 2] [--duration 600] [--only name,name]
                                   [--suite live|history|all]

Every run is made by canarywatch's telemetry generator (real OpenTelemetry SDK, otlp_proto
batches, log bodies mixed with real loghub lines) and replayed through the same pipeline as
``canarywatch replay`` with the default config. The reference judges read per-10 s metrics
computed from the very same decoded events. Faults begin at ``FAULT_START_S``; a rollback
before that counts as a false alarm of that run; detection delay is event time from the
fault's start to the rollback. Beside each judge's median delay the table prints the
detection floor (``oracle.py``: the earliest time one pre-specified test on the faulty signal
alone reaches p <= 0.001) and the judge's median over it. Prints one table and a summary line
per judge; then the
history suite (``detection_history.py``): versions judged against a learned model of the old
version's history, with no live baseline (blue-green) and beside a live one.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_history import run_history_suite
from judges.flagger import flagger_rollback_s
from judges.kayenta import kayenta_rollback_s
from judges.metrics import StepMetrics
from oracle import ORACLE_P, OracleRecorder

from canarywatch.config import load
from canarywatch.events import Action
from canarywatch.pipeline import Pipeline
from canarywatch.sim.generator import generate_batches
from canarywatch.sim.loghub import load_loghub_lines
from canarywatch.sim.scenario import (
    MESSAGING_ENDPOINTS,
    Endpoint,
    Fault,
    Instrumentation,
    Scenario,
)
from canarywatch.sources.base import Record

FAULT_START_S = 120.0
JUDGES = ("canarywatch", "flagger", "kayenta")
SAME_CODE = "same code"
BENIGN = "benign change"
FAULT = "canary fault"


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    truth: str  # SAME_CODE, BENIGN or FAULT
    make: Callable[[Scenario], Scenario]

    @property
    def fault_start_s(self) -> float | None:
        return FAULT_START_S if self.truth == FAULT else None


def _faults(*faults: Fault) -> Callable[[Scenario], Scenario]:
    return lambda s: replace(s, faults=faults)


_CHECKOUT_5XX = Fault("error_rate", FAULT_START_S, "POST /checkout", 0.10)


def _instrumented(baseline: Instrumentation, canary: Instrumentation,
                  endpoints: tuple[Endpoint, ...] | None = None,
                  fault: Fault | None = None) -> Callable[[Scenario], Scenario]:
    """Baseline and canary instrumented with the given convention variants."""
    return lambda s: replace(s, baseline_instrumentation=baseline,
                             canary_instrumentation=canary,
                             endpoints=endpoints or s.endpoints,
                             faults=(fault,) if fault else ())


CASES: tuple[Case, ...] = (
    Case("steady", SAME_CODE, lambda s: s),
    Case("heavy-tailed latency", SAME_CODE, lambda s: replace(s, latency_tail="heavy")),
    Case("canary at 1.5% of traffic", SAME_CODE, lambda s: replace(s, canary_share=0.015)),
    Case("INFO message reworded", BENIGN, _faults(Fault("reword_info", 0.0))),
    Case("canary 30% faster", BENIGN, _faults(Fault("faster", 0.0, magnitude=0.7))),
    Case("shared dependency outage", BENIGN,
         _faults(Fault("shared_outage", FAULT_START_S, magnitude=0.2,
                       end_s=FAULT_START_S + 330))),
    Case("new ERROR + 5xx (10% of GET /cart)", FAULT,
         _faults(Fault("new_error", FAULT_START_S, "GET /cart", 0.10))),
    Case("new ERROR, still 200 (10% of GET /cart)", FAULT,
         _faults(Fault("new_error_200", FAULT_START_S, "GET /cart", 0.10))),
    Case("known ERROR 0.2% -> 10% on GET /cart", FAULT,
         _faults(Fault("known_error_more", FAULT_START_S, "GET /cart", 0.10))),
    Case("latency x1.5 on POST /checkout", FAULT,
         _faults(Fault("latency", FAULT_START_S, "POST /checkout", 1.5))),
    Case("latency x1.25 on every endpoint", FAULT,
         _faults(Fault("latency_all", FAULT_START_S, magnitude=1.25))),
    Case("low traffic (2 req/s) + new ERROR 20%", FAULT,
         lambda s: replace(s, rps=2.0, faults=(
             Fault("new_error", FAULT_START_S, "GET /cart", 0.20),))),
    # Endpoint identity: the canary's instrumentation writes a newer semantic convention.
    Case("semconv: newer HTTP, routes", SAME_CODE, _instrumented("http_legacy", "http")),
    Case("semconv: newer HTTP, no routes", SAME_CODE,
         _instrumented("http_legacy_no_route", "http_no_route")),
    Case("semconv: raw-path span names", SAME_CODE, _instrumented("raw_path", "raw_path")),
    Case("semconv: messaging consumers", SAME_CODE,
         _instrumented("messaging_legacy", "messaging", MESSAGING_ENDPOINTS)),
    Case("semconv: newer HTTP, routes + 10% 5xx", FAULT,
         _instrumented("http_legacy", "http", fault=_CHECKOUT_5XX)),
    Case("semconv: newer HTTP, no routes + 10% 5xx", FAULT,
         _instrumented("http_legacy_no_route", "http_no_route", fault=_CHECKOUT_5XX)),
    Case("semconv: raw paths + 10% 5xx GET /products", FAULT,
         _instrumented("raw_path", "raw_path",
                       fault=Fault("error_rate", FAULT_START_S, "GET /products/{id}", 0.10))),
    Case("semconv: messaging + 10% failed orders", FAULT,
         _instrumented("messaging_legacy", "messaging", MESSAGING_ENDPOINTS,
                       Fault("error_rate", FAULT_START_S, "process orders", 0.10))),
)


@dataclass(frozen=True, slots=True)
class RunResult:
    case: str
    seed: int
    rollback_s: tuple[float | None, ...]  # per judge, seconds after the run's start
    cpu_s: float
    oracle_delay_s: float | None = None  # the detection floor (benchmarks/oracle.py)


Task = tuple[int, int, float, tuple[str, ...], dict[str, Any]]


def run_one(task: Task) -> RunResult:
    """Generate one run, replay it through the pipeline, and ask every judge."""
    case_index, seed, duration_s, corpus, overrides = task
    case = CASES[case_index]
    started = time.process_time()
    scenario = case.make(Scenario(seed=1000 * case_index + seed, duration_s=duration_s,
                                  log_corpus=corpus))
    pipeline = Pipeline(load(None, environ={}, overrides=overrides))
    metrics = StepMetrics(scenario.start_unix_nano)
    oracle = OracleRecorder(scenario)
    for i, (kind, payload) in enumerate(generate_batches(scenario)):
        events = pipeline.decode(Record(payload, kind, f"sim:{i}"))
        for ev in events:
            metrics.observe(ev)
            oracle.observe(ev)
        pipeline.feed_events(events)
    result = pipeline.finish()
    ours = next((v.at_unix_nano for v in result.changes if v.action is Action.ROLLBACK), None)
    ours_s = None if ours is None else (ours - scenario.start_unix_nano) / 1e9
    return RunResult(case.name, seed, (
        ours_s,
        flagger_rollback_s(metrics, scenario.canary_version, duration_s),
        kayenta_rollback_s(metrics, scenario.baseline_version, scenario.canary_version,
                           duration_s),
    ), time.process_time() - started, oracle.delay_s() if case.truth == FAULT else None)


@dataclass(frozen=True, slots=True)
class Row:
    runs: int
    rollback: int  # runs with any rollback
    early: int  # rolled back before the fault began (false alarm)
    correct: int
    delays_s: tuple[float, ...]


def score(case: Case, results: list[RunResult], judge: int) -> Row:
    times = [r.rollback_s[judge] for r in results]
    rolled = [t for t in times if t is not None]
    start = case.fault_start_s
    if start is None:
        return Row(len(times), len(rolled), len(rolled), len(times) - len(rolled), ())
    early = [t for t in rolled if t < start]
    delays = tuple(sorted(t - start for t in rolled if t >= start))
    return Row(len(times), len(rolled), len(early), len(delays), delays)


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:5.1f}%" if b else "    -"


def _quantile(values: tuple[float, ...], q: float) -> str:
    if not values:
        return "     -"
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return f"{values[index]:6.0f}"


def _median(values: tuple[float, ...]) -> float | None:
    """The same middle value :func:`_quantile` prints."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, round(0.5 * (len(values) - 1))))]


def _ratio(delays: tuple[float, ...], floor: tuple[float, ...]) -> str:
    """The judge's median delay over the oracle's median delay."""
    ours, best = _median(delays), _median(floor)
    if ours is None or best is None or best <= 0:
        return "-"
    return f"{ours / best:.2f}x"


def print_table(by_case: dict[str, list[RunResult]]) -> None:
    header = (f"{'scenario':42} {'truth':13} {'judge':11} {'runs':>4} {'rollback':>8} "
              f"{'false':>6} {'right':>6} {'med s':>6} {'p90 s':>6} {'floor s':>7} "
              f"{'x floor':>7}")
    print(header)
    print("-" * len(header))
    totals: dict[str, dict[str, list[int]]] = {j: {} for j in JUDGES}
    all_delays: dict[str, list[float]] = {j: [] for j in JUDGES}
    for case in CASES:
        results = by_case.get(case.name)
        if not results:
            continue
        floor = tuple(sorted(r.oracle_delay_s for r in results if r.oracle_delay_s is not None))
        for j, judge in enumerate(JUDGES):
            row = score(case, results, j)
            false = row.early if case.truth == FAULT else row.rollback
            print(f"{case.name:42} {case.truth:13} {judge:11} {row.runs:4d} "
                  f"{_pct(row.rollback, row.runs):>8} {_pct(false, row.runs):>6} "
                  f"{_pct(row.correct, row.runs):>6} {_quantile(row.delays_s, 0.5)} "
                  f"{_quantile(row.delays_s, 0.9)} {_quantile(floor, 0.5):>7} "
                  f"{_ratio(row.delays_s, floor):>7}")
            group = "low traffic" if case.name.startswith("low traffic") else case.truth
            acc = totals[judge].setdefault(group, [0, 0, 0])
            acc[0] += row.runs
            acc[1] += false
            acc[2] += row.correct
            if case.truth == FAULT and not case.name.startswith("low traffic"):
                all_delays[judge].extend(row.delays_s)
    print(f"\nfloor s: median oracle delay (one pre-specified one-sided test on the faulty "
          f"signal, post-onset data, p <= {ORACLE_P:g}; benchmarks/oracle.py); x floor: the "
          "judge's median delay over it\n")
    for judge in JUDGES:
        t = totals[judge]
        same, benign, fault, low = (t.get(k, [0, 0, 0])
                                    for k in (SAME_CODE, BENIGN, FAULT, "low traffic"))
        delays = tuple(sorted(all_delays[judge]))
        print(f"{judge:11}: false rollbacks {same[1]}/{same[0]} same-code runs "
              f"({_pct(same[1], same[0]).strip()}), {benign[1]}/{benign[0]} benign-change runs; "
              f"detected {fault[2]}/{fault[0]} fault runs at 40 req/s "
              f"({_pct(fault[2], fault[0]).strip()}), median delay "
              f"{_quantile(delays, 0.5).strip()} s, p90 {_quantile(delays, 0.9).strip()} s; "
              f"low traffic {low[2]}/{low[0]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--loghub", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/datasets/loghub-2k")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    parser.add_argument("--suite", choices=["live", "history", "all"], default="all",
                        help="live-baseline scenarios, history scenarios, or both (default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, e.g. analysis.persistence=1 (repeatable)")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        node = overrides
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    load(None, environ={}, overrides=overrides)  # a bad override stops here, naming the key
    corpus = load_loghub_lines(args.loghub, limit=300)
    wanted = [p.strip() for p in args.only.split(",") if p.strip()]
    tasks = [(i, seed, args.duration, corpus, overrides) for i, case in enumerate(CASES)
             if not wanted or any(case.name.startswith(w) for w in wanted)
             for seed in range(args.seeds)] if args.suite != "history" else []
    started = time.monotonic()
    by_case: dict[str, list[RunResult]] = {}
    cpu = 0.0
    with Pool(args.jobs) as pool:
        for result in pool.imap_unordered(run_one, tasks):
            by_case.setdefault(result.case, []).append(result)
            cpu += result.cpu_s
    if tasks:
        print(f"{len(tasks)} runs of {args.duration:.0f} s (40 req/s, 10% canary unless "
              f"named), fault at {FAULT_START_S:.0f} s; {cpu:.0f} s CPU, "
              f"{time.monotonic() - started:.0f} s wall with {args.jobs} jobs; "
              f"overrides: {overrides or 'none'}\n")
        print_table(by_case)
    if args.suite != "live":
        run_history_suite(args.seeds, args.jobs, args.duration, corpus, wanted=wanted,
                          overrides=overrides)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
