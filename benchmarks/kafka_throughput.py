"""Kafka throughput: bare kafka-python consume rate vs canarywatch's sustained rate.

One run: start a local Tansu (or use CANARYWATCH_BENCH_KAFKA=host:port), produce collector-
sized OTLP batches made by the real OpenTelemetry SDK (a 20 s scenario at 1,000 req/s,
repeated with shifted timestamps until the wanted volume is reached) into single-partition
topics: the spans twice, uncompressed and zstd-compressed (as ``config/otel-collector.yaml``
has the collector write them), and the logs uncompressed. Then measure, each in a fresh
process so peak RSS is the consumer's own:

- bare:  kafka-python polling a spans topic, no decoding (messages/s, MB/s), per topic;
- spans: the daemon's loop (KafkaSource -> decode -> pipeline -> state saves + commits) on
         each spans topic, spans/s;
- logs:  the same on the logs topic, log lines/s;
- spans, no Kafka: decode + pipeline on the same payloads held in memory (at most 600k
         spans), to show what the Kafka path itself costs.

Half the simulated spans are SERVER spans (each request has one CLIENT child); the pipeline
materialises and analyses those, and only counts CLIENT/INTERNAL spans without events.

Why two spans topics: kafka-python reads the network in Python (4 KB receives, several
copies of every fetched byte, under the GIL the analysis needs too), which costs ~0.8 us per
uncompressed span here; compressed fetches are several times smaller and are inflated in C.

Targets (issue 5): >= 300,000 spans/s and >= 50,000 log lines/s per process, peak RSS under
500 MB after 5 million events. Usage::

    python benchmarks/kafka_throughput.py              # 5M spans (per topic), 1M log lines
    python benchmarks/kafka_throughput.py --quick      # 300k spans, 100k log lines
    python benchmarks/kafka_throughput.py --rps 20000  # traffic 20x denser in event time
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The simulated traffic: 20,000 requests per repetition at SCENARIO_RPS (--rps; the children
# get it through the environment). Denser traffic means more events inside the pipeline's
# lateness buffer (analysis.lateness_s: 5 s of event time by default) at any moment.
SCENARIO_RPS = float(os.environ.get("CANARYWATCH_BENCH_RPS", "1000"))
SCENARIO_S = 20_000 / SCENARIO_RPS
PIPELINE_ONLY_SPANS = 600_000  # payloads held in memory for the no-Kafka row


def _shift(message: Any, kind: str, shift_ns: int) -> bytes:
    if kind == "spans":
        for rs in message.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    span.start_time_unix_nano += shift_ns
                    span.end_time_unix_nano += shift_ns
                    for ev in span.events:
                        ev.time_unix_nano += shift_ns
    else:
        for rl in message.resource_logs:
            for sl in rl.scope_logs:
                for rec in sl.log_records:
                    rec.time_unix_nano += shift_ns
                    if rec.observed_time_unix_nano:
                        rec.observed_time_unix_nano += shift_ns
    data: bytes = message.SerializeToString()
    return data


def _items(message: Any, kind: str) -> int:
    if kind == "spans":
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)


def _payloads(kind: str, want: int) -> Iterator[tuple[bytes, int]]:
    """Serialized batches of ``kind`` with their item counts until ``want`` items were made."""
    from canarywatch.sim.generator import generate_messages
    from canarywatch.sim.scenario import Fault, Scenario

    scenario = Scenario(duration_s=SCENARIO_S, rps=SCENARIO_RPS, seed=1, faults=(
        Fault("new_error", start_s=10.0, endpoint="GET /cart", magnitude=0.2),))
    base = [m for k, m in generate_messages(scenario) if k.value == f"otlp_{kind}"]
    made = 0
    rep = 0
    while made < want:
        shift_ns = int(rep * SCENARIO_S * 1e9)
        for message in base:
            copy = type(message)()
            copy.CopyFrom(message)
            n = _items(copy, kind)
            yield _shift(copy, kind, shift_ns), n
            made += n
            if made >= want:
                return
        rep += 1


def _produce(bootstrap: str, topic: str, kind: str, want: int,
             compression: str | None = None) -> tuple[int, int, int]:
    """Produce ``want`` items; returns (messages, items, uncompressed bytes)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                             max_request_size=16 * 1024 * 1024, batch_size=1 << 20,
                             compression_type=compression)
    messages = items = size = 0
    for payload, n in _payloads(kind, want):
        producer.send(topic, payload)
        messages += 1
        items += n
        size += len(payload)
    producer.flush(timeout=300)
    producer.close()
    return messages, items, size


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the
    parent through fork and exec, so a child would report the producer's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_bare(bootstrap: str, topic: str, messages: int) -> dict[str, float]:
    """Poll ``messages`` records and touch their values (sizes are of the inflated OTLP)."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", max_poll_records=2000,
                             metrics_enabled=False)
    consumer.assign([TopicPartition(topic, 0)])
    got = size = 0
    started = 0.0
    while got < messages:
        # The clock starts with the poll that returns the first records (short polls, so
        # little of the wait before the first fetch is counted).
        polled_at = time.perf_counter()
        for batch in consumer.poll(timeout_ms=50).values():
            if not started:
                started = polled_at
            got += len(batch)
            size += sum(len(m.value) for m in batch)
    elapsed = time.perf_counter() - started
    consumer.close()
    return {"messages": got, "bytes": size, "seconds": elapsed, "rss_mb": _peak_rss_mb()}


def child_agent(bootstrap: str, topic: str, kind: str, messages: int) -> dict[str, float]:
    from prometheus_client import CollectorRegistry

    from canarywatch import config as config_mod
    from canarywatch.daemon import Daemon, tune_gc_for_streaming
    from canarywatch.metrics import create_metrics

    with tempfile.TemporaryDirectory(prefix="cw-bench-") as state_dir:
        cfg = config_mod.validate({
            "kafka": {"bootstrap_servers": bootstrap, "group_id": f"bench-{uuid.uuid4().hex}",
                      "spans_topic": topic if kind == "spans" else None,
                      "logs_topic": topic if kind == "logs" else None,
                      "session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
                      "max_poll_interval_ms": 60000},
            "state_dir": state_dir,
        })
        daemon = Daemon(cfg, create_metrics(CollectorRegistry()))
        daemon.restore()
        tune_gc_for_streaming()  # as run_daemon does
        daemon.connect()
        started = 0.0
        key = (topic, 0)
        while daemon.offsets.get(key, 0) < messages:
            stepped_at = time.perf_counter()  # the first records' step is counted in full
            if daemon.step(50) and not started:
                started = stepped_at
        with daemon.lock:
            result = daemon.pipeline.finish()
        daemon.checkpoint(final=True)
        elapsed = time.perf_counter() - started
        saves = daemon.metrics.state_saves._value.get()
        daemon.close()
    items = result.counts.spans if kind == "spans" else result.counts.logs
    return {"items": items, "rejected": result.counts.rejected, "seconds": elapsed,
            "rss_mb": _peak_rss_mb(), "state_saves": saves}


def child_pipeline(spans: int) -> dict[str, float]:
    """Decode + pipeline on the same payloads without Kafka: what the Kafka path costs."""
    from canarywatch.config import Config
    from canarywatch.daemon import tune_gc_for_streaming
    from canarywatch.pipeline import Pipeline
    from canarywatch.sources.base import PayloadKind, Record

    records = [Record(payload, PayloadKind.OTLP_SPANS, f"bench:{i}")
               for i, (payload, _) in enumerate(_payloads("spans", spans))]
    pipeline = Pipeline(Config())
    tune_gc_for_streaming()  # as the agent rows
    started = time.perf_counter()
    for record in records:
        pipeline.feed(record)
    result = pipeline.finish()
    return {"items": result.counts.spans, "seconds": time.perf_counter() - started}


def _run_child(*argv: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", *argv], check=True,
                         capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=5_000_000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="300k spans, 100k log lines")
    parser.add_argument("--rps", type=float, default=None,
                        help="request rate of the simulated traffic (default 1000)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, bootstrap, topic, *rest = args.child
        if mode == "bare":
            print(json.dumps(child_bare(bootstrap, topic, int(rest[0]))))
        elif mode == "pipeline":
            print(json.dumps(child_pipeline(int(rest[0]))))
        else:
            print(json.dumps(child_agent(bootstrap, topic, rest[0], int(rest[1]))))
        return 0
    if args.quick:
        args.spans, args.logs = 300_000, 100_000
    global SCENARIO_RPS, SCENARIO_S  # set once, before anything is made
    if args.rps:
        SCENARIO_RPS, SCENARIO_S = args.rps, 20_000 / args.rps
        os.environ["CANARYWATCH_BENCH_RPS"] = str(args.rps)  # for the children

    from canarywatch.broker import LocalBroker, create_topics

    broker = None
    bootstrap = os.environ.get("CANARYWATCH_BENCH_KAFKA")
    if not bootstrap:
        broker = LocalBroker(log_path=Path(tempfile.gettempdir()) / "cw-bench-tansu.log")
        bootstrap = broker.start()
    try:
        suffix = uuid.uuid4().hex[:6]
        spans_topic, zstd_topic = f"bench-spans-{suffix}", f"bench-spans-zstd-{suffix}"
        logs_topic = f"bench-logs-{suffix}"
        create_topics(bootstrap, [spans_topic, zstd_topic, logs_topic])
        t0 = time.perf_counter()
        s_msgs, s_items, s_bytes = _produce(bootstrap, spans_topic, "spans", args.spans)
        z_msgs, _, _ = _produce(bootstrap, zstd_topic, "spans", args.spans, "zstd")
        l_msgs, l_items, l_bytes = _produce(bootstrap, logs_topic, "logs", args.logs)
        print(f"traffic at {SCENARIO_RPS:,.0f} req/s of event time; "
              f"produced {s_items:,} spans in {s_msgs:,} messages ({s_bytes / 1e6:.0f} MB) "
              f"twice (uncompressed, zstd) and {l_items:,} log lines in {l_msgs:,} messages "
              f"({l_bytes / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f}s", flush=True)
        bare = _run_child("bare", bootstrap, spans_topic, str(s_msgs))
        bare_z = _run_child("bare", bootstrap, zstd_topic, str(z_msgs))
        spans = _run_child("agent", bootstrap, spans_topic, "spans", str(s_msgs))
        spans_z = _run_child("agent", bootstrap, zstd_topic, "spans", str(z_msgs))
        logs = _run_child("agent", bootstrap, logs_topic, "logs", str(l_msgs))
        alone = _run_child("pipeline", "-", "-", str(min(args.spans, PIPELINE_ONLY_SPANS)))
    finally:
        if broker is not None:
            broker.stop()

    def bare_row(name: str, run: dict[str, float]) -> tuple[str, str, str, float, str]:
        return (name, f"{run['messages'] / run['seconds']:,.0f} msg/s",
                f"{run['bytes'] / run['seconds'] / 1e6:,.0f} MB/s of OTLP; "
                f"{s_items / run['seconds']:,.0f} spans/s undecoded", run["rss_mb"], "-")

    def agent_row(name: str, run: dict[str, float], unit: str,
                  target: str) -> tuple[str, str, str, float, str]:
        return (name, f"{run['items'] / run['seconds']:,.0f} {unit}/s",
                f"{run['items']:,.0f} {unit} in {run['seconds']:.1f}s, "
                f"{run['state_saves']:.0f} state saves", run["rss_mb"], target)

    rows: list[tuple[str, str, str, float | None, str]] = [
        bare_row("bare kafka-python, spans", bare),
        bare_row("bare kafka-python, spans zstd", bare_z),
        agent_row("canarywatch spans", spans, "spans", ">= 300,000 spans/s"),
        agent_row("canarywatch spans zstd", spans_z, "spans", ">= 300,000 spans/s"),
        ("canarywatch spans, no Kafka", f"{alone['items'] / alone['seconds']:,.0f} spans/s",
         f"{alone['items']:,.0f} spans in {alone['seconds']:.1f}s: decode + pipeline only",
         None, "-"),
        agent_row("canarywatch logs", logs, "lines", ">= 50,000 lines/s"),
    ]
    print(f"\n{'measurement':31} {'rate':>18}  {'peak RSS':>9}  {'target':20} detail")
    for name, rate, detail, rss, target in rows:
        shown = f"{rss:>6.0f} MB" if rss is not None else f"{'-':>9}"
        print(f"{name:31} {rate:>18}  {shown}  {target:20} {detail}")
    ratio = spans["items"] / spans["seconds"] / (s_items / bare["seconds"])
    ratio_z = spans_z["items"] / spans_z["seconds"] / (s_items / bare_z["seconds"])
    print(f"\ncanarywatch spans/s as a share of bare kafka-python's undecoded spans/s: "
          f"{ratio:.2f} uncompressed, {ratio_z:.2f} zstd")
    return 0


if __name__ == "__main__":
    sys.exit(main())
