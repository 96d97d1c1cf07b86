"""Bounded state: memory under a flood of distinct templates, look cost with many services.

Two rows, one process each (so the peak RSS of one is not the other's):

- templates: N log lines of five random words each (every line its own template, the flood
  of issue 14), 90 % baseline and 10 % canary of one service, 2,000 lines per second of
  event time, fed to the pipeline in batches of 1,000. The miner keeps
  ``templates.max_clusters`` templates; what it evicts must leave the analysis too. Prints
  CPU seconds, peak RSS, templates in the miner and in the analysis, templates evicted.
- services: S services, each with a baseline and a canary (explicit roles), all send logs
  and entry spans for the first 30 s of event time; then one service alone goes on for
  10 minutes. Prints the CPU per look of that service (a look: one evaluation interval of its
  data fed, the look it triggers included), beside the same with S = 1 in the same run.

Targets (issue 14): 1,000,000 distinct templates keep RSS under 500 MB; 10,000 services keep a
look under 100 ms of CPU when only one service has new data. Usage::

    python benchmarks/bounded_state.py            # 1,000,000 lines, 10,000 services
    python benchmarks/bounded_state.py --quick    # 100,000 lines, 2,000 services
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from canarywatch.config import validate
from canarywatch.events import Event, LogEvent, Severity, SpanEvent, SpanKind
from canarywatch.pipeline import Pipeline

_T0 = 1_800_000_000 * 10**9
_NS = 1_000_000_000
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _random_lines(n: int, seed: int = 1) -> Iterator[list[Event]]:
    rng = random.Random(seed)
    batch: list[Event] = []
    step = _NS // 2000
    for i in range(n):
        words = " ".join("".join(rng.choices(_LETTERS, k=7)) for _ in range(5))
        batch.append(LogEvent("flood", "2.0" if i % 10 == 0 else "1.0", _T0 + i * step,
                              Severity.ERROR if i % 3 == 0 else Severity.INFO, words))
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def templates_row(lines: int) -> dict[str, Any]:
    pipeline = Pipeline(validate({"cohorts": {"services": {
        "flood": {"baseline": "1.0", "canary": "2.0"}}}}))
    start = time.process_time()
    for batch in _random_lines(lines):
        pipeline.feed_events(batch)
    pipeline.drain()
    cpu_s = time.process_time() - start
    analysis = pipeline.snapshot()["analysis"]
    evicted = analysis["evicted"].get("flood", [0, 0])
    return {"row": "templates", "lines": lines, "cpu_s": round(cpu_s, 1),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "miner_templates": pipeline.template_count("flood"),
            "analysis_templates": len(analysis["templates"].get("flood", {})),
            "evicted_templates": evicted[0]}


def _service_events(service: str, start_s: float, end_s: float,
                    per_s: int) -> list[Event]:
    """Entry spans and a log line per request, baseline and canary alternating."""
    out: list[Event] = []
    step = _NS // per_s
    t = _T0 + int(start_s * _NS)
    end = _T0 + int(end_s * _NS)
    i = 0
    while t < end:
        version = "2.0" if i % 2 else "1.0"
        out.append(SpanEvent(service, version, "GET /", SpanKind.SERVER, "GET /",
                             t - 20_000_000, t, False, 200, f"{i:032x}", f"{i:016x}"))
        out.append(LogEvent(service, version, t, Severity.INFO, f"served request {i}"))
        t += step
        i += 1
    return out


def services_row(services: int) -> dict[str, Any]:
    names = [f"svc-{i:05d}" for i in range(services)]
    config = validate({"cohorts": {"services": {
        n: {"baseline": "1.0", "canary": "2.0"} for n in names}}})
    pipeline = Pipeline(config)
    interval_s = config.analysis.evaluation_interval_s
    for lo in range(0, 30, 5):  # every service: 30 s, a request a second, 5 s at a time
        warm: list[Event] = []
        for name in names:
            warm.extend(_service_events(name, lo, lo + 5, 1))
        warm.sort(key=lambda ev: ev.time_unix_nano if isinstance(ev, LogEvent)
                  else ev.end_time_unix_nano)
        pipeline.feed_events(warm)
    pipeline.drain()
    looks_before = pipeline.look_count
    start = time.process_time()
    intervals = int(600 / interval_s)
    for k in range(intervals):  # then one service alone, one evaluation interval at a time
        lo = 30 + k * interval_s
        pipeline.feed_events(_service_events(names[0], lo, lo + interval_s, 20))
    cpu_s = time.process_time() - start
    looks = pipeline.look_count - looks_before
    return {"row": "services", "services": services, "looks": looks,
            "cpu_ms_per_look": round(1000 * cpu_s / max(1, intervals), 2),
            "peak_rss_mb": round(_peak_rss_mb(), 1)}


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True).stdout
    row: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lines", type=int)
    parser.add_argument("--services", type=int)
    parser.add_argument("--row", choices=["templates", "services"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row == "templates":
        print(json.dumps(templates_row(args.n)))
        return
    if args.row == "services":
        print(json.dumps(services_row(args.n)))
        return
    lines = args.lines or (100_000 if args.quick else 1_000_000)
    services = args.services or (2_000 if args.quick else 10_000)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"load average at start: {' '.join(load)}")
    rows = [_child(["--row", "templates", "--n", str(lines)]),
            _child(["--row", "services", "--n", "1"]),
            _child(["--row", "services", "--n", str(services)])]
    print(f"{'row':<10} {'size':>10} {'cpu':>10} {'peak RSS MB':>12}  detail")
    t = rows[0]
    print(f"{'templates':<10} {t['lines']:>10,} {t['cpu_s']:>9}s {t['peak_rss_mb']:>12}  "
          f"miner {t['miner_templates']}, analysis {t['analysis_templates']}, "
          f"evicted {t['evicted_templates']:,} (target: RSS < 500 MB)")
    for r in rows[1:]:
        print(f"{'services':<10} {r['services']:>10,} {r['cpu_ms_per_look']:>8}ms "
              f"{r['peak_rss_mb']:>12}  per look of the one service with new data, "
              f"{r['looks']} looks (target: < 100 ms)")
    with open("/proc/loadavg") as f:
        print(f"load average at end: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
