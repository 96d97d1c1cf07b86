"""Event times a decoder can trust: OTLP ``*UnixNano`` values checked before they count.

An event time must be an integer of Unix nanoseconds from 2000-01-01 (:data:`MIN_UNIX_NANO`)
to the end of the uint64 range. Anything else (absent or zero, negative, before 2000, beyond
uint64, a string that is not a number, a JS ``Long`` object ``{"low": .., "high": ..}``) is a
:class:`BadTimeError` naming the field and the value's problem; decoders reject the event, count
it and go on. How far an event may be from the stream's watermark
(``analysis.max_clock_skew_s``) is checked by the pipeline, which knows the watermark.
"""

from __future__ import annotations

import math
from typing import cast

from canarywatch.rejects import RejectReason

MIN_UNIX_NANO = 946_684_800_000_000_000  # 2000-01-01T00:00:00Z
MAX_UINT64 = (1 << 64) - 1


class BadTimeError(ValueError):
    """An event time that cannot be used: ``reason`` and, in words, ``detail``."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def json_nanos(value: object, field: str) -> int:
    """An OTLP/JSON 64-bit integer (string or number) as int; 0 when absent or empty.

    Raises BadTimeError when it is not an integer of the uint64 range.
    """
    kind = value.__class__
    if kind is str or kind is int:  # the fast path: what producers write
        try:
            number = int(cast(str, value))
        except ValueError:
            pass
        else:
            if 0 <= number <= MAX_UINT64:
                return number
    return _slow_nanos(value, field)


def _slow_nanos(value: object, field: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise BadTimeError(RejectReason.TIME_NOT_AN_INTEGER, f"{field} is a boolean ({value})")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit():
            raise BadTimeError(RejectReason.TIME_NOT_AN_INTEGER,
                          f"{field} is the string {_shown(value)}, not a number of nanoseconds")
        number = int(text)
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise BadTimeError(RejectReason.TIME_NOT_AN_INTEGER,
                          f"{field} is {_shown(value)}, not a whole number of nanoseconds")
        number = int(value)
    elif isinstance(value, dict) and {"low", "high"} <= set(value):
        raise BadTimeError(RejectReason.TIME_NOT_AN_INTEGER,
                      f"{field} is a JS Long object {_shown(value)}, not a number (the "
                      "producer serialized a protobuf.js Long instead of its value)")
    else:
        raise BadTimeError(RejectReason.TIME_NOT_AN_INTEGER,
                      f"{field} is a {type(value).__name__} {_shown(value)}, not a number")
    if number < 0:
        raise BadTimeError(RejectReason.TIME_NEGATIVE, f"{field} is negative ({number})")
    if number > MAX_UINT64:
        raise BadTimeError(RejectReason.TIME_BEYOND_UINT64,
                      f"{field} is {number}, beyond the uint64 range of Unix nanoseconds "
                      "(a time in the wrong unit?)")
    return number


def check_event_time(at_ns: int, field: str) -> None:
    """Raise BadTimeError unless ``at_ns`` is a usable event time (from 2000-01-01 on)."""
    if at_ns >= MIN_UNIX_NANO:
        return
    if at_ns == 0:
        raise BadTimeError(RejectReason.TIME_MISSING, f"{field} is missing or 0")
    if at_ns < 0:
        raise BadTimeError(RejectReason.TIME_NEGATIVE, f"{field} is negative ({at_ns})")
    raise BadTimeError(RejectReason.TIME_BEFORE_2000,
                  f"{field} is {at_ns}, before 2000-01-01 (a time in seconds or milliseconds, "
                  "or a clock that was never set?)")


def check_span_times(start_ns: int, end_ns: int) -> None:
    """Raise BadTimeError unless a span's start and end are usable and the end is not earlier."""
    if MIN_UNIX_NANO <= start_ns <= end_ns:
        return
    check_event_time(end_ns, "endTimeUnixNano")
    check_event_time(start_ns, "startTimeUnixNano")
    if end_ns < start_ns:
        raise BadTimeError(RejectReason.END_BEFORE_START,
                      f"endTimeUnixNano {end_ns} is before startTimeUnixNano {start_ns}")
