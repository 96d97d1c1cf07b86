"""Decoder registry: plug-ins by name and kind, and the Decoders front the pipeline calls."""

from __future__ import annotations

import pytest

from canarywatch.config import Config, validate
from canarywatch.decode import (
    Decoders,
    JsonLineDecoder,
    OtlpDecoder,
    TextLineDecoder,
    decoder_for,
    decoder_named,
)
from canarywatch.errors import ConfigError, DecodeError
from canarywatch.events import LogEvent
from canarywatch.sim import Scenario, generate_batches
from canarywatch.sources.base import PayloadKind, Record


def test_unknown_decoder_name_lists_valid_ones() -> None:
    """An unknown plug-in name is a ConfigError naming the key and the valid names."""
    with pytest.raises(ConfigError) as info:
        decoder_named("xml", Config(), key="kafka.extra_log_topics.0.format")
    assert info.value.key == "kafka.extra_log_topics.0.format"
    assert "json, otlp, text" in str(info.value)


@pytest.mark.parametrize(("kind", "cls"), [
    (PayloadKind.OTLP_SPANS, OtlpDecoder), (PayloadKind.OTLP_LOGS, OtlpDecoder),
    (PayloadKind.OTLP_ANY, OtlpDecoder), (PayloadKind.LOG_JSON, JsonLineDecoder),
    (PayloadKind.LOG_TEXT, TextLineDecoder),
])
def test_decoder_for_each_kind(kind: PayloadKind, cls: type) -> None:
    """Every payload kind has a decoder of the right class."""
    assert isinstance(decoder_for(kind, Config()), cls)


def test_config_reaches_the_decoders() -> None:
    """logs.default_service and cohorts.version_keys are used by the decoders made."""
    config = validate({"logs": {"default_service": "edge", "default_version": "5"},
                       "cohorts": {"version_keys": ["build"]}})
    [event] = Decoders(config).decode(Record(b"hello", PayloadKind.LOG_TEXT, "f:1"))
    assert (event.service, event.version) == ("edge", "5")
    otlp = decoder_for(PayloadKind.OTLP_SPANS, config)
    assert isinstance(otlp, OtlpDecoder) and otlp.proto.version_keys == ("build",)


def test_decoders_count_events_and_skip_malformed_records() -> None:
    """Good records are counted as spans/logs; bad ones counted as rejected, not raised."""
    decoders = Decoders(Config())
    batches = list(generate_batches(Scenario(duration_s=3.0, seed=2)))
    for kind, payload in batches:
        decoders.decode_or_skip(Record(payload, kind, "t:0:1"))
    assert decoders.spans > 0 and decoders.logs > 0 and decoders.rejected == 0
    assert decoders.decode_or_skip(Record(b"\x0a\x05ab", PayloadKind.OTLP_SPANS, "t:0:2")) == ()
    assert decoders.decode_or_skip(Record(b"{", PayloadKind.LOG_JSON, "t:0:3")) == ()
    assert decoders.rejected == 2


def test_source_errors_become_decode_errors() -> None:
    """A record a source could not read whole raises DecodeError with the source's reason."""
    record = Record(b"\x0a\x02", PayloadKind.OTLP_ANY, "f.pb@40", error="truncated frame")
    with pytest.raises(DecodeError, match="truncated frame") as info:
        Decoders(Config()).decode(record)
    assert info.value.origin == "f.pb@40"


def test_origin_overrides_pick_a_topic_decoder() -> None:
    """An override decoder (an extra topic's own mapping) is used for its origin prefix."""
    from canarywatch.config import LogFieldMapping

    topic = JsonLineDecoder(LogFieldMapping(message="msg"), default_service="nginx")
    decoders = Decoders(Config(), overrides=[("nginx-logs:", topic)])
    [event] = decoders.decode(Record(b'{"msg": "GET / 200"}', PayloadKind.LOG_JSON,
                                     "nginx-logs:0:5"))
    assert isinstance(event, LogEvent)
    assert (event.body, event.service) == ("GET / 200", "nginx")
    [other] = decoders.decode(Record(b'{"msg": "x"}', PayloadKind.LOG_JSON, "other:0:1"))
    assert isinstance(other, LogEvent) and other.service == "unknown"  # the default decoder
