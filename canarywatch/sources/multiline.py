"""Join a text log's continuation lines to the line they continue: one record per statement.

A stack trace written by logback, log4j or Python's logging spans many lines; every line
after the first is a continuation: an indented line (``\\tat ...``, ``  File "..."``), a
``Caused by:`` / ``Suppressed:`` / ``... 42 more`` line, a ``Traceback (most recent call
last):`` line, or an exception line (``java.lang.IllegalStateException: ...``,
``ValueError: ...``) that has no leading timestamp. A record stops growing at
``MAX_RECORD_LINES`` lines or ``MAX_RECORD_BYTES`` bytes; what follows starts a new record,
so one runaway trace cannot hold the whole file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, replace

from canarywatch.sources.base import Record

MAX_RECORD_LINES = 500
MAX_RECORD_BYTES = 1 << 20

_CONTINUATION = re.compile(
    rb"[ \t]|Caused by:|Suppressed:|\.\.\. \d+ (?:more|common frames omitted)"
    rb"|Traceback \(most recent call last\)|During handling of the above exception"
    rb"|The above exception was the direct cause"
    rb"|(?:[A-Za-z_$][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Throwable)(?::|$)"
)


def is_continuation(line: bytes) -> bool:
    """Whether ``line`` continues the record before it (see the module docstring)."""
    return _CONTINUATION.match(line) is not None


def join_continuations(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` pairs -> ``(first line number, record)``, lines joined by ``\\n``.

    Lines are taken without their line ends; blank lines are not expected (drop them first).
    """
    number = 0
    parts: list[bytes] = []
    size = 0
    for n, line in lines:
        if parts and len(parts) < MAX_RECORD_LINES and size + len(line) < MAX_RECORD_BYTES \
                and is_continuation(line):
            parts.append(line)
            size += len(line) + 1
            continue
        if parts:
            yield number, b"\n".join(parts)
        number, parts, size = n, [line], len(line)
    if parts:
        yield number, b"\n".join(parts)


@dataclass(slots=True)
class _Pending:
    record: Record
    lines: int
    since: float  # when its last line came (clock seconds)


class ContinuationJoiner:
    """The same joining for text logs shipped one Kafka message per line, across polls.

    A stream's (a topic partition's) newest record is held back until the next message shows
    whether it continues it, or until ``hold_s`` seconds pass with none: a stack trace whose
    lines arrive in two polls stays one record. A joined record keeps its first line's
    origin and takes its last line's position, so a commit never passes a line that has not
    been read; a held record is not returned, so nothing is committed past it either (a
    restart re-reads it). Bounded by ``MAX_RECORD_LINES`` and ``MAX_RECORD_BYTES`` per record.
    """

    def __init__(self, hold_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.hold_s = hold_s
        self._clock = clock
        self._pending: dict[Hashable, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, stream: Hashable, record: Record) -> Record | None:
        """Take the next record of ``stream``; returns the record it completes, if any."""
        now = self._clock()
        pending = self._pending.get(stream)
        line = record.payload
        if pending is not None and pending.lines < MAX_RECORD_LINES \
                and len(pending.record.payload) + len(line) < MAX_RECORD_BYTES \
                and is_continuation(line):
            held = pending.record
            pending.record = replace(
                held, payload=held.payload.rstrip(b"\r\n") + b"\n" + line.rstrip(b"\r\n"),
                position=record.position)
            pending.lines += 1
            pending.since = now
            return None
        self._pending[stream] = _Pending(record, 1, now)
        return pending.record if pending is not None else None

    def expired(self) -> list[Record]:
        """Held records whose last line came ``hold_s`` or more ago (now complete)."""
        if not self._pending:
            return []
        cutoff = self._clock() - self.hold_s
        done = [s for s, p in self._pending.items() if p.since <= cutoff]
        return [self._pending.pop(s).record for s in done]

    def flush(self, stream: Hashable) -> Record | None:
        """The record held for ``stream`` (its input ended)."""
        pending = self._pending.pop(stream, None)
        return pending.record if pending is not None else None

    def drop(self, streams: Iterable[Hashable]) -> int:
        """Forget what is held for ``streams`` (partitions revoked: their new owner re-reads
        them, as nothing was committed past them); how many records were dropped."""
        return sum(self._pending.pop(s, None) is not None for s in streams)
