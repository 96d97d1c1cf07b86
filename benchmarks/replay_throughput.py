"""Replay throughput beside the floors of merely parsing the same input, in one run.

    python benchmarks/replay_throughput.py [--seconds 300] [--rps 100] [--repeat 3]

One scenario (a canary with a new error, made by canarywatch's generator with the real
OpenTelemetry SDK) is written once as collector file-exporter files, ``format: json`` and
``format: proto``, from the same messages. Rows, best of ``--repeat`` passes each:

- floor json: a bare loop of ``json.loads`` over the lines of the JSON files, counting spans
  and log records (what reading the input costs at the least, with the standard library);
- floor proto: protobuf's parser (``TracesData`` / ``LogsData.FromString``) over the same
  messages, counting spans and log records;
- decode json / proto: the daemon's decode stage (``Pipeline.decode_batch``) over every
  record, no folding; ``decode json, stdlib`` is the reference OTLP/JSON decoder, which the
  msgspec path stands in for;
- fold only: the pipeline without reading or decoding: the decoded batches of the proto
  files, oldest first, reordered, folded (templates, windows) and judged; its ratio is to
  the JSON floor: replay cannot be faster than its fold, whatever the decoder;
- replay json / proto: ``canarywatch replay`` of the files (``replay_paths``, a fresh
  pipeline each pass): read, detect, decode, merge, reorder, fold, judge.

Targets (issue 18): replay json >= 0.75x floor json, replay proto >= 0.5x floor proto. The
machine may be shared: the ratios within one run are what count; the load average is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import struct
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from canarywatch.config import Config
from canarywatch.decode.batch import DecodedBatch, batch_of
from canarywatch.decode.otlp import OtlpDecoder
from canarywatch.pipeline import Pipeline
from canarywatch.replay import replay_paths
from canarywatch.sim import Fault, Scenario, generate_messages
from canarywatch.sim.otlpjson import to_otlp_json
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.files import FileSource


def load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


def write_files(scenario: Scenario, out: Path) -> tuple[Path, Path]:
    """The scenario as collector files in ``out/json`` and ``out/proto``, one traces and one
    logs file each, from the same messages."""
    dirs = (out / "json", out / "proto")
    for directory in dirs:
        directory.mkdir(parents=True)
    with (dirs[0] / "traces.jsonl").open("wb") as jt, (dirs[0] / "logs.jsonl").open("wb") as jl, \
            (dirs[1] / "traces.pb").open("wb") as pt, (dirs[1] / "logs.pb").open("wb") as pl:
        for kind, message in generate_messages(scenario):
            spans = kind is PayloadKind.OTLP_SPANS
            (jt if spans else jl).write(
                json.dumps(to_otlp_json(message), separators=(",", ":")).encode() + b"\n")
            data = message.SerializeToString()
            (pt if spans else pl).write(struct.pack(">I", len(data)) + data)
    return dirs


def json_lines(directory: Path) -> list[bytes]:
    return [line for path in sorted(directory.iterdir())
            for line in path.read_bytes().splitlines() if line.strip()]


def proto_messages(directory: Path) -> list[tuple[bool, bytes]]:
    """(is traces, message) for every frame of the proto files."""
    out: list[tuple[bool, bytes]] = []
    for path in sorted(directory.iterdir()):
        data, at = path.read_bytes(), 0
        while at < len(data):
            (size,) = struct.unpack_from(">I", data, at)
            out.append((path.name.startswith("traces"), data[at + 4:at + 4 + size]))
            at += 4 + size
    return out


def json_floor(lines: Sequence[bytes]) -> int:
    n = 0
    for line in lines:
        data = json.loads(line)
        for rs in data.get("resourceSpans", ()):
            for ss in rs["scopeSpans"]:
                n += len(ss["spans"])
        for rl in data.get("resourceLogs", ()):
            for sl in rl["scopeLogs"]:
                n += len(sl["logRecords"])
    return n


def proto_floor(messages: Sequence[tuple[bool, bytes]]) -> int:
    n = 0
    traces_of, logs_of = TracesData.FromString, LogsData.FromString
    for traces, payload in messages:
        if traces:
            for rs in traces_of(payload).resource_spans:
                for ss in rs.scope_spans:
                    n += len(ss.spans)
        else:
            for rl in logs_of(payload).resource_logs:
                for sl in rl.scope_logs:
                    n += len(sl.log_records)
    return n


def records_of(directory: Path) -> list[Record]:
    return [record for path in sorted(directory.iterdir()) for record in FileSource(path)]


def decode_fast(records: Sequence[Record]) -> int:
    pipeline = Pipeline(Config())
    return sum(pipeline.decode_batch(record).items for record in records)


def decode_stdlib(records: Sequence[Record]) -> int:
    """The reference OTLP/JSON decoder (what replay used before the msgspec path)."""
    config = Config()
    decoder = OtlpDecoder(config.cohorts.version_keys,
                          count_group_ns=config.analysis.evaluation_interval_ns)
    return sum(batch_of(decoder.decode(record)).items for record in records)


def fold(batches: Sequence[DecodedBatch]) -> int:
    """The pipeline alone: already decoded batches (oldest first) reordered, folded, judged."""
    pipeline = Pipeline(Config())
    for batch in batches:
        pipeline.feed_batch(batch)
    counts = pipeline.finish().counts
    return counts.spans + counts.logs


def decoded(records: Sequence[Record]) -> list[DecodedBatch]:
    pipeline = Pipeline(Config())
    batches = [pipeline.decode_batch(record) for record in records]
    return sorted((b for b in batches if b.entries),
                  key=lambda b: min(t for t, _ in b.entries))


def replay(directory: Path) -> int:
    counts = replay_paths([directory], Pipeline(Config())).result.counts
    return counts.spans + counts.logs


def best(work: Callable[[], int], repeat: int) -> tuple[int, float]:
    """(events, best events/s) of ``repeat`` passes of ``work``."""
    rate, events = 0.0, 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        events = work()
        rate = max(rate, events / (time.perf_counter() - start))
    return events, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scenario = Scenario(duration_s=args.seconds, rps=args.rps, canary_share=0.2, seed=1,
                        faults=(Fault("new_error", start_s=args.seconds / 3, magnitude=0.3),))
    with tempfile.TemporaryDirectory() as tmp:
        json_dir, proto_dir = write_files(scenario, Path(tmp))
        lines, messages = json_lines(json_dir), proto_messages(proto_dir)
        json_records, proto_records = records_of(json_dir), records_of(proto_dir)
        proto_batches = decoded(proto_records)
        gc.freeze()  # the inputs stay alive through the timing: keep the collector off them
        start_load = load_average()
        rows: dict[str, tuple[int, float]] = {
            "floor json (json.loads)": best(lambda: json_floor(lines), args.repeat),
            "floor proto (FromString)": best(lambda: proto_floor(messages), args.repeat),
            "decode json": best(lambda: decode_fast(json_records), args.repeat),
            "decode json, stdlib": best(lambda: decode_stdlib(json_records), args.repeat),
            "decode proto": best(lambda: decode_fast(proto_records), args.repeat),
            "fold only (proto batches)": best(lambda: fold(proto_batches), args.repeat),
            "replay json": best(lambda: replay(json_dir), args.repeat),
            "replay proto": best(lambda: replay(proto_dir), args.repeat),
        }
    floors = {"json": rows["floor json (json.loads)"][1],
              "proto": rows["floor proto (FromString)"][1]}
    print(f"replay throughput, one core, best of {args.repeat} "
          f"({args.seconds:.0f} s at {args.rps:.0f} req/s; load average {start_load} "
          f"-> {load_average()})")
    print(f"{'run':<26} {'events':>8} {'events/s':>11} {'x floor':>8}")
    for name, (events, rate) in rows.items():
        fmt = "proto" if "proto" in name and "fold" not in name else "json"
        print(f"{name:<26} {events:>8} {rate:>11,.0f} {rate / floors[fmt]:>8.2f}")
    for fmt, target in (("json", 0.75), ("proto", 0.5)):
        ratio = rows[f"replay {fmt}"][1] / floors[fmt]
        print(f"target replay {fmt} >= {target:.2f}x floor: {ratio:.2f}x "
              f"{'met' if ratio >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
