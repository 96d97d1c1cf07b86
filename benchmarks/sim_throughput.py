"""Telemetry generator throughput: simulated spans (with their logs) per second.

    python benchmarks/sim_throughput.py [--seconds 300] [--rps 40]

Times ``generate_batches`` (real OpenTelemetry SDK calls plus OTLP protobuf encoding) and
``write_collector_files`` for both file formats. Prints one table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from canarywatch.sim import Fault, Scenario, generate_batches, write_collector_files
from canarywatch.sources.base import PayloadKind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rps", type=float, default=40.0)
    args = parser.parse_args()
    scenario = Scenario(duration_s=args.seconds, rps=args.rps, seed=1, faults=(
        Fault("new_error", start_s=args.seconds / 3, magnitude=0.3),))

    start = time.perf_counter()
    batches = list(generate_batches(scenario))
    elapsed = time.perf_counter() - start
    spans = sum(len(ss.spans) for k, p in batches if k is PayloadKind.OTLP_SPANS
                for rs in TracesData.FromString(p).resource_spans for ss in rs.scope_spans)
    logs = sum(len(sl.log_records) for k, p in batches if k is PayloadKind.OTLP_LOGS
               for rl in LogsData.FromString(p).resource_logs for sl in rl.scope_logs)

    print(f"generator throughput ({args.seconds:.0f} s scenario at {args.rps:.0f} req/s)")
    print(f"{'output':<22} {'spans':>8} {'logs':>8} {'seconds':>8} {'spans/s':>10}")
    print(f"{'generate_batches':<22} {spans:>8} {logs:>8} {elapsed:>8.2f} "
          f"{spans / elapsed:>10,.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("proto", "json"):
            start = time.perf_counter()
            write_collector_files(scenario, Path(tmp) / fmt, fmt=fmt)
            elapsed = time.perf_counter() - start
            print(f"{'files ' + fmt:<22} {spans:>8} {logs:>8} {elapsed:>8.2f} "
                  f"{spans / elapsed:>10,.0f}")


if __name__ == "__main__":
    main()
