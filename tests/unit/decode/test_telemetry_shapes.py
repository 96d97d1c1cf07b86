"""Every shape the OpenTelemetry ecosystem writes, made from real SDK output, reads the same."""

from __future__ import annotations

import base64
import bz2
import gzip
import json
import shutil
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import zstandard
from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from otel_sdk_helpers import T0, Sdk, otlp_json

from canarywatch.config import Config
from canarywatch.decode import Decoders
from canarywatch.events import Event, LogEvent, Severity, SpanEvent
from canarywatch.rejects import RejectReason
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.detect import Compression, Format, Layout, detect_format
from canarywatch.sources.files import FileSource

MakeSdk = Callable[..., Sdk]
CASES = Path(__file__).parents[2] / "data" / "telemetry"


def make_messages(sdk: MakeSdk) -> tuple[Any, Any]:
    """One TracesData and one LogsData from the SDK: server spans with an error, log records
    of several severities and body types, two versions."""
    sdks = [sdk({"service.name": "checkout", "service.version": v}) for v in ("1.4.2", "1.5.0")]
    for i, s in enumerate(sdks):
        span = s.request("GET /cart", {"http.request.method": "GET", "http.route": "/cart",
                                       "http.response.status_code": 200},
                         start_ns=T0 + i * 1_000_000)
        s.request("POST /pay", {"http.request.method": "POST", "http.route": "/pay",
                                "http.response.status_code": 503}, error=True,
                  start_ns=T0 + 5_000_000, kind=trace.SpanKind.SERVER)
        s.request("db", {}, kind=trace.SpanKind.CLIENT, start_ns=T0 + 7_000_000)
        s.log("cart rendered", SeverityNumber.INFO, "INFO", span=span)
        s.log("NullPointerException in CartService", SeverityNumber.ERROR, "ERROR", span=span)
        s.log({"event": "checkout", "items": 3}, SeverityNumber.WARN, "WARN")
        s.log(["a", "b"], SeverityNumber.DEBUG, "DEBUG")
        s.log(b"bytes body as text", SeverityNumber.INFO, "INFO")
    spans = tuple(x for s in sdks for x in s.spans)
    logs = tuple(x for s in sdks for x in s.logs)
    return encode_spans(spans), encode_logs(logs)


def _nanos_as_numbers(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: int(v) if k.endswith(("UnixNano", "unix_nano")) and isinstance(v, str)
                else _nanos_as_numbers(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_nanos_as_numbers(v) for v in node]
    return node


def _intvalues_as_numbers(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: int(v) if k in ("intValue", "int_value") else _intvalues_as_numbers(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_intvalues_as_numbers(v) for v in node]
    return node


# Each JSON variant a producer writes: (name, message -> JSON object).
JSON_VARIANTS: dict[str, Callable[[Any], Any]] = {
    "otlp_json": otlp_json,  # the collector's: hex ids, int enums, 64-bit ints as strings
    "proto3_json": MessageToDict,  # generic: base64 ids, enum names
    "proto3_snake_case": lambda m: MessageToDict(m, preserving_proto_field_name=True),
    "numbers_for_int64": lambda m: _intvalues_as_numbers(_nanos_as_numbers(otlp_json(m))),
    "enum_names_hex_ids": lambda m: _hexed(MessageToDict(m)),
}


def _hexed(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId")
                else _hexed(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hexed(v) for v in obj]
    return obj


def events_of(path: Path) -> tuple[list[Event], Decoders]:
    decoders = Decoders(Config())
    events = [e for r in FileSource(path) for e in decoders.decode_or_skip(r)]
    return events, decoders


def reference(traces: Any, logs: Any) -> list[Event]:
    decoders = Decoders(Config())
    return [e for m in (traces, logs) for e in decoders.decode(
        Record(m.SerializeToString(), PayloadKind.OTLP_ANY, "ref"))]


def frames(payloads: Sequence[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in payloads)


@pytest.mark.parametrize("variant", sorted(JSON_VARIANTS))
@pytest.mark.parametrize("layout", ["lines", "pretty", "array", "pretty_array"])
def test_json_variants_and_layouts_read_like_proto(sdk: MakeSdk, tmp_path: Path, variant: str,
                                                   layout: str) -> None:
    """Every JSON mapping variant, one per line, pretty-printed or as an array, gives the
    events of the same messages as otlp_proto."""
    traces, logs = make_messages(sdk)
    objects = [JSON_VARIANTS[variant](m) for m in (traces, logs)]
    text = {"lines": "\n".join(json.dumps(o) for o in objects) + "\n",
            "pretty": "\n".join(json.dumps(o, indent=2) for o in objects) + "\n",
            "array": json.dumps(objects) + "\n",
            "pretty_array": json.dumps(objects, indent=4)}[layout]
    path = tmp_path / "telemetry.json"
    path.write_text(text)
    events, decoders = events_of(path)
    assert decoders.rejects.total == 0
    assert events == reference(traces, logs)


@pytest.mark.parametrize("shape", ["proto_frames", "proto_frames_zstd_per_message",
                                   "json_frames_zstd_per_message", "json_lines_gzip",
                                   "json_lines_zstd", "proto_frames_zstd", "json_lines_bzip2",
                                   "pretty_zstd"])
def test_file_exporter_encodings_and_compressions(sdk: MakeSdk, tmp_path: Path,
                                                  shape: str) -> None:
    """File exporter proto / json, whole-file gzip, zstd and bzip2, and zstd per message
    (``compression: zstd``) all give the events of the plain messages."""
    traces, logs = make_messages(sdk)
    protos = [m.SerializeToString() for m in (traces, logs)]
    lines = ("\n".join(json.dumps(otlp_json(m)) for m in (traces, logs)) + "\n").encode()
    zstd = zstandard.ZstdCompressor()
    data = {
        "proto_frames": frames(protos),
        "proto_frames_zstd_per_message": frames([zstd.compress(p) for p in protos]),
        "json_frames_zstd_per_message": frames(
            [zstd.compress(json.dumps(otlp_json(m)).encode()) for m in (traces, logs)]),
        "json_lines_gzip": gzip.compress(lines),
        "json_lines_zstd": zstd.compress(lines),
        "proto_frames_zstd": zstd.compress(frames(protos)),
        "json_lines_bzip2": bz2.compress(lines),
        "pretty_zstd": zstd.compress(json.dumps(otlp_json(traces), indent=2).encode()
                                     + json.dumps(otlp_json(logs), indent=2).encode()),
    }[shape]
    path = tmp_path / "telemetry.data"
    path.write_bytes(data)
    events, decoders = events_of(path)
    assert decoders.rejects.total == 0
    assert events == reference(traces, logs)


def test_bodies_and_severities_from_json_and_proto_agree(sdk: MakeSdk) -> None:
    """String, map, array and bytes bodies read the same from proto and every JSON variant;
    a bytes body that is text reads as that text."""
    _, logs = make_messages(sdk)
    expected = [e for e in reference(logs, logs)[:10] if isinstance(e, LogEvent)]
    assert [e.body for e in expected[:5]] == [
        "cart rendered", "NullPointerException in CartService", '{"event":"checkout","items":3}',
        '["a","b"]', "bytes body as text"]
    assert [e.severity for e in expected[:5]] == [Severity.INFO, Severity.ERROR, Severity.WARN,
                                                  Severity.DEBUG, Severity.INFO]
    for variant, to_json in JSON_VARIANTS.items():
        decoders = Decoders(Config())
        got = decoders.decode(Record(json.dumps(to_json(logs)).encode(), PayloadKind.OTLP_ANY,
                                     "t:0:1"))
        assert list(got) == expected, variant


def test_binary_and_unknown_containers_are_refused_by_name(tmp_path: Path) -> None:
    """Random bytes, a zip archive and a corrupt zstd file are refused with the file's name and
    the reason; nothing is read as a text log line."""
    rng = bytes((i * 7919 + 13) % 251 + 4 for i in range(5000))  # no byte below 4, no text
    shapes = {"random.bin": rng, "archive.zip": b"PK\x03\x04" + rng,
              "broken.zst": b"\x28\xb5\x2f\xfd" + rng}
    for name, data in shapes.items():
        path = tmp_path / name
        path.write_bytes(data)
        events, decoders = events_of(path)
        assert events == []
        assert decoders.rejects.total == 1, name
        [reason] = decoders.rejects.by_reason
        assert reason in (RejectReason.BINARY_CONTENT, RejectReason.CORRUPT_COMPRESSION)
        assert str(path) in decoders.rejects.first[reason].origin


def test_detect_format_names_layout_and_compression(sdk: MakeSdk, tmp_path: Path) -> None:
    """detect_format tells layout, compression and kind from a path or from bytes."""
    traces, _ = make_messages(sdk)
    pretty = json.dumps(otlp_json(traces), indent=2).encode()
    assert detect_format(pretty) == Format(Layout.JSON_DOCUMENT, Compression.NONE,
                                           PayloadKind.OTLP_ANY)
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(frames([traces.SerializeToString()])))
    assert detect_format(path) == Format(Layout.OTLP_FRAMES, Compression.GZIP,
                                         PayloadKind.OTLP_ANY)
    assert detect_format(b'{"msg": "a"}\n{"msg": "b"}\n').layout is Layout.LOG_JSON_LINES
    assert detect_format(b'{\n  "msg": "pretty log"\n}\n').layout is Layout.JSON_DOCUMENT


def test_case_pretty_printed_otlp_json(tmp_path: Path) -> None:
    """opentelemetry-proto's pretty-printed examples read as 1 span and 1 log record of
    my.service, not as text lines."""
    events: list[Event] = []
    for name in ("trace.json", "logs.json"):
        got, decoders = events_of(CASES / "pretty-printed-otlp-json" / name)
        assert decoders.rejects.total == 0
        events.extend(got)
    span, record = events
    assert isinstance(span, SpanEvent) and isinstance(record, LogEvent)
    assert span.service == record.service == "my.service"
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert (record.body, record.severity) == ("Example log record", Severity.INFO)


def test_case_proto3_json_enum_names() -> None:
    """A generic proto3 JSON log record: SEVERITY_NUMBER_ERROR is ERROR, base64 ids are hex."""
    [record], decoders = events_of(CASES / "proto3-json-enum-names" / "logs.jsonl")
    assert isinstance(record, LogEvent)
    assert record.severity is Severity.ERROR
    assert record.trace_id == base64.b64decode("t3wkB7n5LyOPG28CxdDONw==").hex()
    assert record.span_id == base64.b64decode("eja0EugnFTU=").hex()
    assert decoders.rejects.total == 0


def test_case_timestamp_beyond_uint64(tmp_path: Path) -> None:
    """The record whose timeUnixNano is beyond uint64 is rejected with its reason and place;
    the good record beside it is read."""
    path = tmp_path / "logs.jsonl"
    shutil.copy(CASES / "timestamp-beyond-uint64" / "logs.jsonl", path)
    [record], decoders = events_of(path)
    assert isinstance(record, LogEvent) and record.time_unix_nano == 1795000000000000000
    assert decoders.rejects.by_reason == {RejectReason.TIME_BEYOND_UINT64: 1}
    first = decoders.rejects.first[RejectReason.TIME_BEYOND_UINT64]
    assert first.origin == f"{path}:1" and "timeUnixNano" in first.detail
