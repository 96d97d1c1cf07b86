"""The daemon's ``GET /``: the HTML report of :mod:`canarywatch.report.html` for the canaries
currently on the verdict board (read-only).

The page is rendered from the daemon's :class:`~canarywatch.report.timeline.TimelineRecorder`
(which keeps the most recent buckets of every judged version) and cached until the next look,
so a browser refreshing it costs one render per evaluation interval at most.
"""

from __future__ import annotations

import threading

from canarywatch.events import format_unix_nano
from canarywatch.report.html import render_page
from canarywatch.report.timeline import TimelineRecorder
from canarywatch.server.board import VerdictBoard


class ReportPage:
    """Renders the current canaries' page; thread-safe, cached per recorder version."""

    def __init__(self, recorder: TimelineRecorder, board: VerdictBoard) -> None:
        self._recorder = recorder
        self._board = board
        self._lock = threading.Lock()
        self._cached: tuple[int, bytes] | None = None

    def render(self) -> bytes:
        """The page as UTF-8 HTML."""
        with self._lock:
            version = self._recorder.version
            if self._cached is not None and self._cached[0] == version:
                return self._cached[1]
            current = self._board.current()
            timelines = self._recorder.canaries([v.key for v in current])
            latest = max((v.at_unix_nano for v in current), default=0)
            subtitle = (f"{len(current)} canar{'y' if len(current) == 1 else 'ies'} on the "
                        "verdict board" + (f"; latest look at {format_unix_nano(latest)} "
                                           "(event time)" if latest else ""))
            body = render_page(timelines, title="canarywatch: current canaries",
                               subtitle=subtitle).encode("utf-8")
            self._cached = (version, body)
            return body
