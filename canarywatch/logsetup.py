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


class LeaveGroupFailedOnStop(logging.Filter):
    """Logs kafka-python's ``LeaveGroup request failed`` as a WARNING, not an ERROR. A
    consumer stopped while it is still joining its group (SIGTERM in the agent's first
    seconds) cannot leave a group it is not yet in; the broker expires the member after the
    session timeout. Nothing is lost, so it must not page whoever alerts on ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith(
                "LeaveGroup request failed"):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_LEAVE_GROUP_FAILED = LeaveGroupFailedOnStop()


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
    coordinator = logging.getLogger("kafka.coordinator")
    if _LEAVE_GROUP_FAILED not in coordinator.filters:
        coordinator.addFilter(_LEAVE_GROUP_FAILED)
    selector = logging.getLogger("kafka.net.selector")
    if kafka_level == logging.DEBUG:
        selector.removeFilter(_SLOW_IO_TASK)
    elif _SLOW_IO_TASK not in selector.filters:
        selector.addFilter(_SLOW_IO_TASK)
