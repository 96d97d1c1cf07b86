"""Property tests: random bytes, truncated protobuf and mutated OTLP/JSON never escape a
decoder as an exception, and every record is accounted for as events or rejects."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.logs.v1.logs_pb2 import LogsData
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from otel_sdk_helpers import T0, Sdk, otlp_json

from canarywatch.config import Config
from canarywatch.decode import Decoders
from canarywatch.pipeline import Pipeline
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.files import FileSource

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _messages() -> tuple[TracesData, LogsData]:
    sdk = Sdk({"service.name": "checkout", "service.version": "1.5.0"})
    span = sdk.request("GET /cart", {"http.request.method": "GET", "http.route": "/cart",
                                     "http.response.status_code": 500}, error=True)
    sdk.request("db", {"db.system": "postgresql"}, start_ns=T0 + 1000)
    sdk.log("NullPointerException", SeverityNumber.ERROR, "ERROR", span=span)
    sdk.log({"k": [1, 2]}, SeverityNumber.INFO, "INFO", attributes={"a": 1})
    traces, logs = encode_spans(sdk.spans), encode_logs(sdk.logs)
    sdk.tracer_provider.shutdown()
    sdk.logger_provider.shutdown()
    return traces, logs


TRACES, LOGS = _messages()
TRACES_BYTES, LOGS_BYTES = TRACES.SerializeToString(), LOGS.SerializeToString()
JSON_MESSAGES = (otlp_json(TRACES), otlp_json(LOGS))
KINDS = (PayloadKind.OTLP_ANY, PayloadKind.OTLP_SPANS, PayloadKind.OTLP_LOGS,
         PayloadKind.LOG_JSON, PayloadKind.LOG_TEXT)


def _accounted(decoders: Decoders, record: Record) -> tuple[int, int]:
    """(events, rejects) after decoding ``record`` with ``decode_or_skip`` (never raises)."""
    before = decoders.rejects.total
    events = decoders.decode_or_skip(record)
    return len(events), decoders.rejects.total - before


def _records_in(data: object) -> int | None:
    """How many spans / log records an OTLP/JSON object holds, None when not countable."""
    try:
        assert isinstance(data, dict)
        key = next(k for k in ("resourceSpans", "resourceLogs") if k in data)
        inner = "spans" if key == "resourceSpans" else "logRecords"
        scopes = "scopeSpans" if key == "resourceSpans" else "scopeLogs"
        return sum(len(s[inner]) for r in data[key] for s in r[scopes])
    except (AssertionError, StopIteration, KeyError, TypeError):
        return None


@SETTINGS
@given(payload=st.binary(max_size=600), kind=st.sampled_from(KINDS))
def test_random_bytes_are_decoded_or_rejected(payload: bytes, kind: PayloadKind) -> None:
    """Random bytes of any record kind give events or a counted reject, never an exception."""
    events, rejects = _accounted(Decoders(Config()), Record(payload, kind, "t:0:1"))
    assert events > 0 or rejects > 0 or kind in (PayloadKind.OTLP_ANY, PayloadKind.OTLP_SPANS,
                                                 PayloadKind.OTLP_LOGS)


@SETTINGS
@given(cut=st.integers(min_value=0, max_value=len(TRACES_BYTES) + len(LOGS_BYTES)),
       flip=st.integers(min_value=0, max_value=255), logs=st.booleans())
def test_truncated_protobuf_is_counted(cut: int, flip: int, logs: bool) -> None:
    """A cut (and possibly corrupted) otlp_proto message: every span or log record it still
    holds is an event or a counted reject, or the whole message is one counted reject."""
    whole = LOGS_BYTES if logs else TRACES_BYTES
    payload = bytearray(whole[:cut % (len(whole) + 1)])
    if payload and flip:
        payload[flip % len(payload)] ^= flip
    decoders = Decoders(Config())
    for method in (decoders.decode, decoders.decode_batch):
        record = Record(bytes(payload), PayloadKind.OTLP_ANY, "t:0:1")
        before = decoders.rejects.total
        try:
            result = method(record)
            got = len(result) if isinstance(result, list | tuple) else result.items
        except Exception as exc:  # only the documented DecodeError may leave decode()
            assert type(exc).__name__ == "DecodeError", exc
            continue
        try:
            parsed = (LogsData if logs else TracesData).FromString(bytes(payload))
        except Exception:
            continue  # the lean parser read what the full one refuses: nothing to compare
        held = sum(len(s.log_records) for r in parsed.resource_logs for s in r.scope_logs) \
            if logs else sum(len(s.spans) for r in parsed.resource_spans for s in r.scope_spans)
        assert got + decoders.rejects.total - before == held


JSON_LEAVES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True) | st.text(max_size=12)
    | st.fixed_dictionaries({"low": st.integers(), "high": st.integers()}),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


@SETTINGS
@given(data=st.data(), which=st.integers(min_value=0, max_value=1),
       mutations=st.integers(min_value=1, max_value=4))
def test_mutated_otlp_json_is_counted(data: st.DataObject, which: int, mutations: int) -> None:
    """OTLP/JSON with values replaced by anything JSON can hold: no exception escapes, and
    every span or log record is an event or a counted reject (or the record is rejected)."""
    message = copy.deepcopy(JSON_MESSAGES[which])
    for _ in range(mutations):
        path = data.draw(st.sampled_from(_paths(message)))
        if not path:
            continue
        parent = message
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(JSON_LEAVES)
    payload = json.dumps(message).encode()
    decoders = Decoders(Config())
    events, rejects = _accounted(decoders, Record(payload, PayloadKind.OTLP_ANY, "t:0:1"))
    held = _records_in(json.loads(payload))
    if rejects and events + rejects != held:
        assert events == 0 and rejects == 1  # the record as a whole
    elif held is not None:
        assert events + rejects == held


@SETTINGS
@given(content=st.binary(max_size=2000) | st.sampled_from([
    TRACES_BYTES, json.dumps(JSON_MESSAGES[0]).encode(),
    json.dumps(JSON_MESSAGES[1], indent=2).encode()]).map(lambda b: b[:len(b) * 2 // 3]))
def test_any_file_is_read_or_refused(content: bytes) -> None:
    """Any file content, through format detection, the file source and the pipeline, never
    raises: each record is events or a counted reject."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(content)
        pipeline = Pipeline(Config())
        for record in FileSource(path):
            before = pipeline.rejects.total
            events = pipeline.decode(record)
            assert events or pipeline.rejects.total > before or record.kind in (
                PayloadKind.OTLP_ANY,)
        pipeline.finish()
