"""Log handler setup; only the CLI calls this. The daemon logs JSON, one object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from canarywatch.redact import RedactingFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:  # set (secrets masked) by RedactingFilter
            out["exception"] = record.exc_text
        elif record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class CancelledOnClose(logging.Filter):
    """Drops kafka-python's ``Metadata refresh loop error: Cancelled``: logged at ERROR each
    time a client closes while its metadata loop sleeps, which is every clean stop. It is
    not an error, and an ERROR line on every SIGTERM pages whoever alerts on ERROR. Any
    other error of that loop still goes through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Metadata refresh loop error: %s" or not record.args:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return not any(type(arg).__name__ == "Cancelled" for arg in args)


_CANCELLED_ON_CLOSE = CancelledOnClose()


class SlowIoTask(logging.Filter):
    """Drops kafka-python 3's ``Task ... ran for 0.12s (>0.100s threshold). It is blocking
    the event loop`` warning. Its network thread shares the GIL with the analysis, so on a
    busy agent a task step waits for the interpreter now and then; that is load, not a
    livelock in a coroutine, and a WARNING for it on every busy second tells an operator
    nothing. Shown at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "It is blocking the event loop" not in str(record.msg)


_SLOW_IO_TASK = SlowIoTask()


def configure(level: str = "WARNING", fmt: str = "text") -> None:
    """Log to stderr at ``level`` (text or one JSON object per line). kafka-python's own INFO
    chatter and its slow-IO-task warnings are shown only at DEBUG; its close-time
    ``Cancelled`` error never."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())  # no secret reaches the log, at any level
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    kafka_level = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    logging.getLogger("kafka").setLevel(kafka_level)
    cluster = logging.getLogger("kafka.cluster")
    if _CANCELLED_ON_CLOSE not in cluster.filters:
        cluster.addFilter(_CANCELLED_ON_CLOSE)
    selector = logging.getLogger("kafka.net.selector")
    if kafka_level == logging.DEBUG:
        selector.removeFilter(_SLOW_IO_TASK)
    elif _SLOW_IO_TASK not in selector.filters:
        selector.addFilter(_SLOW_IO_TASK)
