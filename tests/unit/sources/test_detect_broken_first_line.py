"""A JSON-lines file whose first line is broken is still JSON lines: only that line is lost.

Found by hostile testing: a writer that crashed mid-record left a cut first line, and the
whole file was taken for one malformed multi-line document (every span dropped, exit 0)."""

from __future__ import annotations

import json

import pytest

from canarywatch.sources.detect import Format, Layout, detect_format

GOOD = json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": []}]})


@pytest.mark.parametrize("first", [
    b'{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name"',  # cut
    b'{"resourceSpans":[], "bad": "a\x00b"}',  # a raw control character in a string
    b'{"resourceSpans":[], "bad": "a\tb"}',
])
def test_a_broken_first_line_leaves_the_file_json_lines(first: bytes) -> None:
    content = first + b"\n" + b"\n".join(GOOD.encode() for _ in range(20)) + b"\n"
    found = detect_format(content)
    assert isinstance(found, Format) and found.layout is Layout.OTLP_JSON_LINES


def test_a_pretty_printed_document_is_still_one_document() -> None:
    content = json.dumps(json.loads(GOOD), indent=2).encode()
    found = detect_format(content)
    assert isinstance(found, Format) and found.layout is Layout.JSON_DOCUMENT


def test_a_deeply_nested_otlp_json_record_is_a_too_deep_reject() -> None:
    """100,000 nested arrays in one OTLP/JSON record: a counted reject, not a RecursionError
    that stopped the replay."""
    from canarywatch.config import Config
    from canarywatch.decode.registry import Decoders
    from canarywatch.errors import DecodeError
    from canarywatch.rejects import RejectReason
    from canarywatch.sources.base import PayloadKind, Record

    decoders = Decoders(Config())
    deep = Record(b"[" * 100_000 + b"]" * 100_000, PayloadKind.OTLP_ANY, "traces.jsonl:51")
    with pytest.raises(DecodeError) as raised:
        decoders.decode_batch(deep)
    assert raised.value.reason is RejectReason.TOO_DEEP


@pytest.mark.parametrize(("payload", "kind", "reason"), [
    (b'{"hello": "world", "level": "info"}', "otlp_spans", "not_otlp_json"),
    (b'{"resourceMetrics": []}', "otlp_spans", "wrong_kind"),
    (b'{"resourceLogs": []}', "otlp_spans", "wrong_kind"),
    (b'{"resourceSpans": []}', "otlp_logs", "wrong_kind"),
])
def test_a_topic_carrying_another_signal_or_no_otlp_is_a_counted_reject(
        payload: bytes, kind: str, reason: str) -> None:
    """A misrouted pipeline (metrics or logs on the spans topic, plain JSON) is refused with
    its reason, not read as a quiet topic (it was counted "empty", with no log line)."""
    from canarywatch.config import Config
    from canarywatch.pipeline import Pipeline
    from canarywatch.sources.base import PayloadKind, Record

    pipeline = Pipeline(Config())
    batch = pipeline.decode_batch(Record(payload, PayloadKind(kind), "otlp_spans:0:7"))
    assert not batch.entries
    assert pipeline.counts.rejected_by_reason == {reason: 1}
