"""Canary telemetry made by the real OpenTelemetry SDK, encoded as the collector sends it.

:class:`~canarywatch.sim.traffic.Simulator` plays the requests; here finished spans and log
records are ordered by the time the collector would receive them (span end, log time), cut
into batches like the collector's batch processor (size or age), and encoded with the SDK's
OTLP encoders, or written as the collector's file exporter writes them.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import heapq
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from canarywatch.sim.loghub import load_loghub_lines
from canarywatch.sim.otlpjson import to_otlp_json
from canarywatch.sim.scenario import Scenario
from canarywatch.sim.traffic import Simulator
from canarywatch.sources.base import PayloadKind

__all__ = ["generate_batches", "generate_messages", "load_loghub_lines", "write_collector_files"]


def generate_messages(s: Scenario, batch_spans: int = 200, max_batch_age_s: float = 1.0,
                      ) -> Iterator[tuple[PayloadKind, Message]]:
    """Collector-style batches as protobuf messages (ExportTrace/LogsServiceRequest).

    Spans are received when they end, logs at their time; a batch is cut when it holds
    ``batch_spans`` items or its first item is ``max_batch_age_s`` older than the next one.
    """
    if batch_spans <= 0:
        raise ValueError("batch_spans must be > 0")
    sim = Simulator(s)
    max_age_ns = int(max_batch_age_s * 1e9)
    heap: list[tuple[int, int, int, Any]] = []
    pending: tuple[list[Any], list[Any]] = ([], [])  # spans, logs
    first_ns = [0, 0]
    seq = 0

    def cut(which: int) -> tuple[PayloadKind, Message]:
        items = pending[which][:]
        pending[which].clear()
        if which == 0:
            return PayloadKind.OTLP_SPANS, encode_spans(items)
        return PayloadKind.OTLP_LOGS, encode_logs(items)

    def drain(until_ns: int) -> Iterator[tuple[PayloadKind, Message]]:
        while heap and heap[0][0] <= until_ns:
            at_ns, _, which, item = heapq.heappop(heap)
            if pending[which] and at_ns - first_ns[which] > max_age_ns:
                yield cut(which)
            if not pending[which]:
                first_ns[which] = at_ns
            pending[which].append(item)
            if len(pending[which]) >= batch_spans:
                yield cut(which)

    for arrival_ns in sim.arrivals():
        for span in sim.span_sink.spans:
            heapq.heappush(heap, (span.end_time or 0, seq, 0, span))
            seq += 1
        for log in sim.log_sink.logs:
            heapq.heappush(heap, (log.log_record.timestamp or 0, seq, 1, log))
            seq += 1
        sim.span_sink.spans.clear()
        sim.log_sink.logs.clear()
        yield from drain(arrival_ns)
    yield from drain(2**63)
    for which in (0, 1):
        if pending[which]:
            yield cut(which)


def generate_batches(s: Scenario, batch_spans: int = 200) -> Iterator[tuple[PayloadKind, bytes]]:
    """Serialized otlp_proto TracesData / LogsData messages, in the order the collector sends."""
    for kind, message in generate_messages(s, batch_spans):
        yield kind, message.SerializeToString()


def write_collector_files(s: Scenario, out_dir: Path, fmt: Literal["json", "proto"] = "json",
                          gzip: bool = False) -> list[Path]:
    """Write what the collector's file exporter writes: one traces and one logs file.

    ``json``: one OTLP/JSON TracesData / LogsData per line (``traces.jsonl``, ``logs.jsonl``);
    ``proto``: each message preceded by its 4-byte big-endian length (``traces.pb``,
    ``logs.pb``). ``gzip`` compresses each file and adds ``.gz``. Returns [traces, logs].
    """
    if fmt not in ("json", "proto"):
        raise ValueError(f"unknown format {fmt!r}; valid: json, proto")
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = (".jsonl" if fmt == "json" else ".pb") + (".gz" if gzip else "")
    paths = [out_dir / f"traces{suffix}", out_dir / f"logs{suffix}"]
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(_open_out(p, gzip)) for p in paths]
        for kind, message in generate_messages(s):
            handle = handles[0 if kind is PayloadKind.OTLP_SPANS else 1]
            if fmt == "json":
                handle.write(json.dumps(to_otlp_json(message), separators=(",", ":")).encode())
                handle.write(b"\n")
            else:
                data = message.SerializeToString()
                handle.write(struct.pack(">I", len(data)))
                handle.write(data)
    return paths


def _open_out(path: Path, compress: bool) -> BinaryIO:
    if compress:
        return cast(BinaryIO, gzip_module.open(path, "wb", compresslevel=6))
    return path.open("wb")
