"""Decoders: raw payloads (OTLP proto / JSON, JSON-lines and text logs) into typed events."""

from __future__ import annotations

from canarywatch.decode.base import Decoder
from canarywatch.decode.batch import CountedSpan, DecodedBatch, batch_of, event_time
from canarywatch.decode.lines import JsonLineDecoder, TextLineDecoder
from canarywatch.decode.otlp import OtlpDecoder, sniff_proto
from canarywatch.decode.registry import DECODERS, Decoders, decoder_for, decoder_named

__all__ = [
    "DECODERS",
    "CountedSpan",
    "DecodedBatch",
    "Decoder",
    "Decoders",
    "JsonLineDecoder",
    "OtlpDecoder",
    "TextLineDecoder",
    "batch_of",
    "decoder_for",
    "decoder_named",
    "event_time",
    "sniff_proto",
]
