"""File sources: collector file-exporter output (JSON / proto, gzip), JSON-lines, text."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from canarywatch.config import Config
from canarywatch.decode import Decoders
from canarywatch.errors import DecodeError, InputError
from canarywatch.events import LogEvent, SpanEvent
from canarywatch.rejects import Rejection, RejectReason
from canarywatch.sim import Scenario, generate_batches, write_collector_files
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.detect import Format, Layout, detect_format
from canarywatch.sources.files import FileSource, open_sources

SCENARIO = Scenario(duration_s=4.0, seed=5)


def records(path: Path, hint: PayloadKind | None = None) -> list[Record]:
    source = FileSource(path, hint)
    source.start()
    try:
        return list(source)
    finally:
        source.stop()


def span_count() -> int:
    return sum(len(ss.spans) for kind, p in generate_batches(SCENARIO)
               if kind is PayloadKind.OTLP_SPANS
               for rs in TracesData.FromString(p).resource_spans for ss in rs.scope_spans)


@pytest.mark.parametrize(("fmt", "compress"), [("json", False), ("json", True),
                                                ("proto", False), ("proto", True)])
def test_collector_files_decode_to_every_span_and_log(tmp_path: Path, fmt: str,
                                                      compress: bool) -> None:
    """Both file-exporter formats, plain or gzip, yield all spans and logs, told by content."""
    traces, logs = write_collector_files(SCENARIO, tmp_path, fmt=fmt,  # type: ignore[arg-type]
                                         gzip=compress)
    renamed = traces.rename(tmp_path / "traces.data")  # content decides, not the name
    decoders = Decoders(Config())
    trace_records = records(renamed)
    assert {r.kind for r in trace_records} == {PayloadKind.OTLP_ANY}
    spans = [e for r in trace_records for e in decoders.decode(r)]
    assert len(spans) == span_count()
    assert all(isinstance(e, SpanEvent) for e in spans)
    log_events = [e for r in records(logs) for e in decoders.decode(r)]
    assert log_events and all(isinstance(e, LogEvent) for e in log_events)
    sep = "@" if fmt == "proto" else ":"
    assert trace_records[0].origin == f"{renamed}{sep}{0 if fmt == 'proto' else 1}"


def test_proto_origins_are_byte_offsets(tmp_path: Path) -> None:
    """Each proto frame's origin is file@offset of its length prefix."""
    traces, _ = write_collector_files(SCENARIO, tmp_path, fmt="proto")
    data = traces.read_bytes()
    offsets, at = [], 0
    while at < len(data):
        offsets.append(at)
        at += 4 + struct.unpack(">I", data[at:at + 4])[0]
    assert [r.origin for r in records(traces)] == [f"{traces}@{o}" for o in offsets]


def test_truncated_last_frame_is_one_bad_record(tmp_path: Path) -> None:
    """A frame cut by the end of the file is a DecodeError; the frames before it decode."""
    traces, _ = write_collector_files(SCENARIO, tmp_path, fmt="proto")
    whole = records(traces)
    traces.write_bytes(traces.read_bytes()[:-10])
    got = records(traces)
    assert len(got) == len(whole)
    decoders = Decoders(Config())
    for record in got[:-1]:
        assert decoders.decode(record)
    assert got[-1].error is not None and "truncated frame" in got[-1].error
    with pytest.raises(DecodeError, match="truncated frame"):
        decoders.decode(got[-1])


def test_garbled_frame_fails_alone(tmp_path: Path) -> None:
    """Garbage inside one frame (its length intact) fails that record; the next still reads."""
    traces, _ = write_collector_files(SCENARIO, tmp_path, fmt="proto")
    data = bytearray(traces.read_bytes())
    first = struct.unpack(">I", data[:4])[0]
    data[8:4 + first] = b"\xff" * (first - 4)  # the first tag stays: still told as proto
    traces.write_bytes(bytes(data))
    decoders = Decoders(Config())
    results = [decoders.decode_or_skip(r) for r in records(traces)]
    assert results[0] == () and decoders.rejected == 1
    assert all(results[1:])


def test_proto_name_decides_when_the_first_frame_is_garbled(tmp_path: Path) -> None:
    """A .pb file whose first frame is garbage is still framed; only that frame fails."""
    traces, _ = write_collector_files(SCENARIO, tmp_path, fmt="proto")
    data = bytearray(traces.read_bytes())
    first = struct.unpack(">I", data[:4])[0]
    data[4:4 + first] = b"\xff" * first
    traces.write_bytes(bytes(data))
    decoders = Decoders(Config())
    results = [decoders.decode_or_skip(r) for r in records(traces)]
    assert results[0] == () and decoders.rejected == 1
    assert len(results) > 1 and all(results[1:])


def test_json_lines_logs_and_bad_lines(tmp_path: Path) -> None:
    """JSON log lines are LOG_JSON with file:line origins; a bad line is skipped and counted."""
    path = tmp_path / "app.jsonl"
    path.write_text(json.dumps({"message": "a", "time": 1795000000}) + "\n\n"
                    + "{broken\n" + json.dumps({"message": "b", "level": "error"}) + "\r\n")
    got = records(path)
    assert [(r.kind, r.origin) for r in got] == [
        (PayloadKind.LOG_JSON, f"{path}:1"), (PayloadKind.LOG_JSON, f"{path}:3"),
        (PayloadKind.LOG_JSON, f"{path}:4")]
    decoders = Decoders(Config())
    bodies = [e.body for r in got for e in decoders.decode_or_skip(r) if isinstance(e, LogEvent)]
    assert bodies == ["a", "b"]
    assert decoders.rejected == 1


def test_text_logs_gzip_and_hint(tmp_path: Path) -> None:
    """Gzip text logs are found by magic bytes; a file is one kind; a hint forces the kind."""
    path = tmp_path / "app.log"  # no .gz suffix on purpose
    path.write_bytes(gzip.compress(b"2026-11-20T10:05:12Z INFO up\n"
                                   b"2026-11-20T10:05:13Z INFO still up\n{\"message\": \"x\"}\n"))
    assert [r.kind for r in records(path)] == [PayloadKind.LOG_TEXT] * 3
    assert [r.payload for r in records(path)][::2] == [b"2026-11-20T10:05:12Z INFO up",
                                                      b'{"message": "x"}']
    assert {r.kind for r in records(path, PayloadKind.LOG_JSON)} == {PayloadKind.LOG_JSON}


def test_garbage_line_in_collector_file_stays_otlp(tmp_path: Path) -> None:
    """In a collector JSON file a garbage line is an OTLP record to reject, not a text log."""
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b'{"resourceSpans": []}\n\x00\xff garbage\n{"resourceSpans": []}\n')
    assert [r.kind for r in records(path)] == [PayloadKind.OTLP_ANY] * 3


def test_cut_gzip_stream_ends_with_an_error_record(tmp_path: Path) -> None:
    """A gzip file cut short yields what it can, then one record carrying the error."""
    path = tmp_path / "app.log.gz"
    body = b"".join(b"2026-11-20T10:05:12Z INFO line %d\n" % i for i in range(5000))
    path.write_bytes(gzip.compress(body)[:-200])
    got = records(path)
    assert len(got) > 100
    assert got[-1].error is not None
    assert all(r.error is None for r in got[:-1])


def _layout(content: bytes) -> Layout | RejectReason:
    found = detect_format(content)
    return found.reason if isinstance(found, Rejection) else found.layout


def test_format_detection() -> None:
    """Length-framed messages are OTLP frames; text and JSON lines are lines; empty is refused."""
    assert _layout(b"\x00\x00\x01\x2c\x0a\x91") is Layout.OTLP_FRAMES
    assert _layout(b'{"resourceSpans": []}\n') is Layout.OTLP_JSON_LINES
    assert _layout(b"2026-11-20 INFO") is Layout.LOG_TEXT
    assert _layout(b"[ok]\n") is Layout.LOG_TEXT
    assert _layout(b"") is RejectReason.EMPTY_PAYLOAD
    assert isinstance(detect_format(b"x\n"), Format)


def test_open_sources_expands_directories_and_rejects_missing(tmp_path: Path) -> None:
    """Directories expand to their files in name order, hidden files skipped; missing is fatal."""
    (tmp_path / "b.log").write_text("x\n")
    (tmp_path / "a.log").write_text("y\n")
    (tmp_path / ".hidden").write_text("z\n")
    (tmp_path / "sub").mkdir()
    single = tmp_path / "sub" / "c.log"
    single.write_text("w\n")
    sources = open_sources([tmp_path, single])
    assert [s.path.name for s in sources] == ["a.log", "b.log", "c.log"]
    with pytest.raises(InputError, match="no such file"):
        open_sources([tmp_path / "missing.jsonl"])


def test_iterating_without_start_opens_and_closes(tmp_path: Path) -> None:
    """Iterating a source opens the file itself and closes it when done."""
    path = tmp_path / "a.log"
    path.write_text("one\ntwo\n")
    source = FileSource(path)
    assert [r.payload for r in source] == [b"one", b"two"]
    assert [r.payload for r in source] == [b"one", b"two"]


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    """Starting a source on a directory-less missing file raises InputError."""
    with pytest.raises(InputError):
        FileSource(tmp_path / "nope.log").start()


def test_text_log_continuation_lines_join_their_record(tmp_path: Path) -> None:
    """A Java stack trace (indented frames, Caused by, ... more) is one record that starts at
    its header line; the next timestamped line starts the next record."""
    log = tmp_path / "app.log"
    log.write_text(
        "2026-01-01T00:00:00Z ERROR boom\n"
        "java.lang.IllegalStateException: bad\n"
        "\tat a.B.c(B.java:1)\n"
        "Caused by: java.io.IOException: gone\n"
        "\t... 3 more\n"
        "\n"
        "2026-01-01T00:00:01Z INFO fine\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "KeyError: 'k'\n", encoding="utf-8")
    records = list(FileSource(log))
    assert [r.origin for r in records] == [f"{log}:1", f"{log}:7"]
    assert records[0].payload.count(b"\n") == 4
    assert records[1].payload.endswith(b"KeyError: 'k'")


def test_json_lines_are_never_joined(tmp_path: Path) -> None:
    """Only text logs join lines: JSON-lines records stay one per line."""
    log = tmp_path / "app.jsonl"
    log.write_text('{"message": "a"}\n {"message": "b"}\n', encoding="utf-8")
    assert len(list(FileSource(log))) == 2


def test_runaway_traces_are_cut_into_bounded_records(tmp_path: Path) -> None:
    """A record stops growing at MAX_RECORD_LINES lines; the rest starts new records."""
    from canarywatch.sources.multiline import MAX_RECORD_LINES

    log = tmp_path / "app.log"
    log.write_text("head\n" + "\tat x\n" * (MAX_RECORD_LINES * 2), encoding="utf-8")
    records = list(FileSource(log))
    assert len(records) == 3
    assert records[0].payload.count(b"\n") == MAX_RECORD_LINES - 1
