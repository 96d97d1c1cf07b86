"""Decoder throughput on one core: records in, typed events out.

    python benchmarks/decode_throughput.py [--seconds 60] [--rps 200] [--repeat 5]

The input is made once by canarywatch's generator (real OpenTelemetry SDK, collector-sized
batches) and decoded ``--repeat`` times per format; the best pass counts. Target: otlp_proto
spans >= 400,000 spans/s. Prints one table.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable, Sequence

from canarywatch.config import Config
from canarywatch.decode import Decoders
from canarywatch.sim import Scenario, generate_messages
from canarywatch.sim.otlpjson import to_otlp_json
from canarywatch.sources.base import PayloadKind, Record


def best_rate(records: Sequence[Record], repeat: int) -> tuple[int, float]:
    """(events per pass, best events/s) decoding ``records`` with a fresh Decoders each pass."""
    best, events = 0.0, 0
    for _ in range(repeat):
        decoders = Decoders(Config())
        decode: Callable[[Record], object] = decoders.decode
        start = time.perf_counter()
        for record in records:
            decode(record)
        elapsed = time.perf_counter() - start
        events = decoders.spans + decoders.logs
        best = max(best, events / elapsed)
    return events, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rps", type=float, default=200.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    scenario = Scenario(duration_s=args.seconds, rps=args.rps, canary_share=0.2, seed=1)
    inputs: dict[str, list[Record]] = {k: [] for k in (
        "otlp_proto spans", "otlp_json spans", "otlp_proto logs", "otlp_json logs",
        "json lines logs", "text lines logs")}
    for kind, message in generate_messages(scenario):
        signal = "spans" if kind is PayloadKind.OTLP_SPANS else "logs"
        proto = message.SerializeToString()
        as_json = to_otlp_json(message)
        inputs[f"otlp_proto {signal}"].append(Record(proto, kind, "bench"))
        inputs[f"otlp_json {signal}"].append(
            Record(json.dumps(as_json).encode(), kind, "bench"))
        if signal == "logs":
            for rl in as_json["resourceLogs"]:
                version = rl["resource"]["attributes"][1]["value"]["stringValue"]
                for sl in rl["scopeLogs"]:
                    for r in sl["logRecords"]:
                        line = {"time": r["timeUnixNano"], "level": r["severityText"],
                                "message": r["body"]["stringValue"], "service": "checkout",
                                "version": version, "trace_id": r.get("traceId", "")}
                        inputs["json lines logs"].append(Record(
                            json.dumps(line).encode(), PayloadKind.LOG_JSON, "bench:1"))
                        inputs["text lines logs"].append(Record(
                            f"2026-11-20T10:05:12.{int(r['timeUnixNano']) % 10**9:09d}Z "
                            f"{r['severityText']} {line['message']}".encode(),
                            PayloadKind.LOG_TEXT, "bench:1"))

    # The inputs stay alive through the timing; keep the collector from re-scanning them.
    gc.collect()
    gc.freeze()
    print(f"decode throughput, one core, best of {args.repeat} "
          f"({args.seconds:.0f} s at {args.rps:.0f} req/s)")
    print(f"{'input':<20} {'records':>8} {'events':>8} {'events/s':>12}")
    for name, records in inputs.items():
        events, rate = best_rate(records, args.repeat)
        print(f"{name:<20} {len(records):>8} {events:>8} {rate:>12,.0f}")


if __name__ == "__main__":
    main()
