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
from collections.abc import Iterable, Iterator

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
