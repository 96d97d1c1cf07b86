"""Source interface: sources only read, and hand raw payloads to the decoders."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from canarywatch.rejects import RejectReason


class PayloadKind(str, enum.Enum):
    """What a raw payload holds, so the right decoder reads it."""

    OTLP_SPANS = "otlp_spans"  # one TracesData, otlp_proto or OTLP/JSON (first byte tells)
    OTLP_LOGS = "otlp_logs"  # one LogsData, otlp_proto or OTLP/JSON
    OTLP_ANY = "otlp_any"  # a TracesData or LogsData, the decoder tells which (file exporter)
    LOG_JSON = "log_json"  # one log line as a JSON object, fields mapped in config
    LOG_TEXT = "log_text"  # one plain-text log line


@dataclass(frozen=True, slots=True)
class Position:
    """Where a Kafka record sits, so its offset can be committed once it is folded in."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Record:
    """One raw payload and where it came from (``file:line``, ``file@offset``, ``t:p:o``)."""

    payload: bytes
    kind: PayloadKind
    origin: str
    position: Position | None = None
    # For LOG_JSON / LOG_TEXT records from topics with fixed service / version.
    service: str | None = None
    version: str | None = None
    # Set by a source that could not read this record whole (a truncated frame): decoders
    # raise DecodeError(origin, error) for it, so it is counted like any malformed record.
    error: str | None = None
    reason: RejectReason | None = None  # why, when ``error`` is set (default: malformed)


class Source(Protocol):
    """A source of records with an explicit lifecycle: ``start``, iterate, ``stop``."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def __iter__(self) -> Iterator[Record]: ...
