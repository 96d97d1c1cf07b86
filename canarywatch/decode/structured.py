"""Structured log lines: JSON objects and logfmt, as structured loggers write them.

Shared by the JSON-lines decoder (which fields hold the message and the level) and the
template preprocessing (which part of a line is mined). Nothing here raises: a line that is
not what it looks like gives ``None``.

Sources: logfmt as go-logfmt / heroku write it (``key=value``, values quoted when they hold
spaces); the message and level field names used by zap, logrus, pino, bunyan, structlog,
log4j2's JSON layout, logback's logstash encoder and the Docker json-file driver (``log``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

# Field names that hold a line's message, in the order they are tried.
MESSAGE_FIELDS = ("msg", "message", "log", "event", "error", "err", "text")
# Field names that hold a line's level.
LEVEL_FIELDS = ("level", "severity", "lvl", "loglevel", "log.level", "levelname",
                "severity_text", "severityText")
# Field names that hold a line's time.
TIME_FIELDS = ("time", "ts", "timestamp", "@timestamp", "t")
# Fields whose value is an error or a stack trace kept with the message: a new cause of a
# known message is a new signature.
ERROR_FIELDS = ("error", "err", "exception", "exc_info", "stack_trace", "stacktrace", "stack")

_PAIR = r'[A-Za-z_][\w.\-/@]*=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
_LOGFMT_LINE = re.compile(rf"\s*{_PAIR}(?:\s+{_PAIR})+\s*")
_LOGFMT_PAIRS = re.compile(r'([A-Za-z_][\w.\-/@]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def parse_json_object(text: str) -> dict[str, object] | None:
    """The object of a line that is one JSON object, else None."""
    if not text.startswith("{") or not text.rstrip().endswith("}"):
        return None
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def parse_logfmt(text: str) -> dict[str, str] | None:
    """The pairs of a logfmt line (at least two ``key=value`` and nothing else), else None.

    Quoted values are unquoted (``\\"`` and ``\\\\`` unescaped); a key given twice keeps its
    first value.
    """
    head = text.lstrip()[:64].partition(" ")[0]
    if "=" not in head or not _LOGFMT_LINE.fullmatch(text):  # a logfmt line opens with a pair
        return None
    pairs: dict[str, str] = {}
    for key, raw in _LOGFMT_PAIRS.findall(text):
        value = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\") if raw.startswith('"') \
            else raw
        pairs.setdefault(key, value)
    return pairs


def first_field(obj: Mapping[str, object], names: tuple[str, ...], *,
                text_only: bool = False) -> tuple[str, object] | None:
    """The first of ``names`` present in ``obj`` with a non-empty value, as (name, value);
    with ``text_only``, only a string value counts.

    A dotted name is also looked up one level down (``log.level`` in ``{"log": {"level"}}``).
    """
    for name in names:
        value = obj.get(name)
        if value is None and "." in name:
            head, _, rest = name.partition(".")
            child = obj.get(head)
            value = child.get(rest) if isinstance(child, dict) else None
        if value not in (None, "", [], {}) and (isinstance(value, str) or not text_only):
            return name, value
    return None
