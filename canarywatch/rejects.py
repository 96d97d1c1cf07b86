"""Why input is refused: one vocabulary of rejection reasons, and the tally that counts them.

Every refused file, record or event is counted under one :class:`RejectReason` (a stable
snake_case name, used as the ``reason`` label of ``canarywatch_rejected_total`` and as the key
of ``events.rejected_by_reason`` in the replay summary) and logged with where it came from
(``file:line``, ``file@offset`` or ``topic:partition:offset``) and a sentence naming the field
and what is wrong with its value. Sources, decoders and the pipeline share one
:class:`RejectTally`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_MAX_VERSIONS = 10_000
_LOGGED_PER_REASON = 5  # log every reject of a reason up to this many, then every 1000th


class RejectReason(str, enum.Enum):
    """Why something was not read. The value is the metric label; :attr:`words` says it."""

    # whole inputs (files, Kafka payloads) and framing
    BINARY_CONTENT = "binary_content"
    CORRUPT_COMPRESSION = "corrupt_compression"
    EMPTY_PAYLOAD = "empty_payload"
    TRUNCATED_FRAME = "truncated_frame"
    BAD_FRAME_LENGTH = "bad_frame_length"
    INVALID_JSON = "invalid_json"
    NOT_OTLP_JSON = "not_otlp_json"
    INVALID_PROTOBUF = "invalid_protobuf"
    MALFORMED_OTLP = "malformed_otlp"
    WRONG_KIND = "wrong_kind"
    MALFORMED_RECORD = "malformed_record"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    # log lines
    EMPTY_LINE = "empty_line"
    NOT_A_JSON_LOG = "not_a_json_log"
    NO_MESSAGE = "no_message"
    # time of one event
    TIME_MISSING = "time_missing"
    TIME_NOT_AN_INTEGER = "time_not_an_integer"
    TIME_NEGATIVE = "time_negative"
    TIME_BEFORE_2000 = "time_before_2000"
    TIME_BEYOND_UINT64 = "time_beyond_uint64"
    END_BEFORE_START = "end_before_start"
    CLOCK_SKEW = "clock_skew"

    @property
    def words(self) -> str:
        """The reason as a short human phrase."""
        return _WORDS[self]


_WORDS: dict[RejectReason, str] = {
    RejectReason.BINARY_CONTENT: "binary content that is neither text nor a known telemetry "
                                 "encoding",
    RejectReason.CORRUPT_COMPRESSION: "a gzip or zstd stream that cannot be decompressed",
    RejectReason.EMPTY_PAYLOAD: "an empty payload",
    RejectReason.TRUNCATED_FRAME: "a length-framed message cut short",
    RejectReason.BAD_FRAME_LENGTH: "an implausible frame length",
    RejectReason.INVALID_JSON: "text that is not valid JSON",
    RejectReason.NOT_OTLP_JSON: "JSON that is not an OTLP TracesData or LogsData",
    RejectReason.INVALID_PROTOBUF: "bytes that are not a valid otlp_proto message",
    RejectReason.MALFORMED_OTLP: "an OTLP record whose fields have the wrong types",
    RejectReason.WRONG_KIND: "a record of a kind this input cannot carry",
    RejectReason.MALFORMED_RECORD: "a record that cannot be read",
    RejectReason.TOO_DEEP: "a record nested deeper than the decoder can follow",
    RejectReason.TOO_LARGE: "a record too large to decode in memory",
    RejectReason.EMPTY_LINE: "an empty log line",
    RejectReason.NOT_A_JSON_LOG: "a log line that is not a JSON object",
    RejectReason.NO_MESSAGE: "a JSON log line without its message field",
    RejectReason.TIME_MISSING: "no event time (zero or absent)",
    RejectReason.TIME_NOT_AN_INTEGER: "an event time that is not an integer",
    RejectReason.TIME_NEGATIVE: "a negative event time",
    RejectReason.TIME_BEFORE_2000: "an event time before 2000-01-01",
    RejectReason.TIME_BEYOND_UINT64: "an event time beyond the uint64 range",
    RejectReason.END_BEFORE_START: "a span that ends before it starts",
    RejectReason.CLOCK_SKEW: "an event time farther than analysis.max_clock_skew_s from the "
                             "stream's watermark",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refusal: where (``origin``), why (``reason``) and, in words, what was wrong."""

    origin: str
    reason: RejectReason
    detail: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.detail} ({self.reason.value})"


class RejectTally:
    """Counts rejections by reason and logs them (each reason's first few, then sparsely).

    ``on_reject`` is called with each reason (and how many), e.g. to increment a metric.
    """

    def __init__(self, on_reject: Callable[[RejectReason, int], None] | None = None) -> None:
        self.by_reason: dict[RejectReason, int] = {}
        self.first: dict[RejectReason, Rejection] = {}
        # rejected events of a known (service, version): [count, the first one's detail]
        self.by_version: dict[tuple[str, str | None], list[Any]] = {}
        self.last: Rejection | None = None  # the latest rejection (replay names it per input)
        self.on_reject = on_reject

    @property
    def total(self) -> int:
        """Every rejection so far."""
        return sum(self.by_reason.values())

    def add(self, rejection: Rejection, count: int = 1,
            version_of: tuple[str, str | None] | None = None) -> None:
        """Count ``count`` rejections like ``rejection`` (one log line for them);
        ``version_of``: the (service, version) the rejected events belong to, when known."""
        reason = rejection.reason
        if version_of is not None:
            seen = self.by_version.get(version_of)
            if seen is None:
                if len(self.by_version) < _MAX_VERSIONS:
                    self.by_version[version_of] = [count, rejection.detail]
            else:
                seen[0] += count
        before = self.by_reason.get(reason, 0)
        n = self.by_reason[reason] = before + count
        if before == 0:
            self.first[reason] = rejection
        self.last = rejection
        if before < _LOGGED_PER_REASON or before // 1000 != n // 1000:
            log.warning("rejected %s (%d rejected for %s so far)", rejection, n, reason.value)
        if self.on_reject is not None:
            self.on_reject(reason, count)

    def reject(self, origin: str, reason: RejectReason, detail: str, count: int = 1,
               version_of: tuple[str, str | None] | None = None) -> None:
        """Shorthand for :meth:`add` of a new :class:`Rejection`."""
        self.add(Rejection(origin, reason, detail), count, version_of)

    def to_json(self) -> dict[str, int]:
        """``{reason: count}`` in reason order, for the replay summary."""
        return {r.value: self.by_reason[r] for r in RejectReason if r in self.by_reason}
