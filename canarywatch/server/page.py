"""The daemon's ``GET /``: the HTML report of :mod:`canarywatch.report.html` for the canaries
currently on the verdict board (read-only).

The page is drawn from the daemon's :class:`~canarywatch.report.timeline.TimelineRecorder`
(which keeps the most recent buckets of every judged version) on a background thread, at most
once per look: a request gets the latest drawn page at once, and starts a new drawing when
the recorder has moved on. Only the first request waits (up to :data:`FIRST_WAIT_S`); if the
first drawing is slower than that, it gets a short page that reloads itself (no script).
"""

from __future__ import annotations

import logging
import threading

from canarywatch.events import format_unix_nano
from canarywatch.report.html import render_page
from canarywatch.report.timeline import TimelineRecorder
from canarywatch.server.board import VerdictBoard

log = logging.getLogger(__name__)

FIRST_WAIT_S = 5.0
_DRAWING = (b"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            b"<meta http-equiv='refresh' content='3'><title>canarywatch</title></head>"
            b"<body><p>The report is being drawn; this page reloads in 3 s.</p></body></html>\n")


class ReportPage:
    """Serves the current canaries' page; thread-safe, drawn once per recorder version."""

    def __init__(self, recorder: TimelineRecorder, board: VerdictBoard) -> None:
        self._recorder = recorder
        self._board = board
        self._lock = threading.Lock()
        self._cached: tuple[int, bytes] | None = None
        self._drawing: threading.Thread | None = None
        self._drawn = threading.Event()

    def render(self) -> bytes:
        """The latest drawn page as UTF-8 HTML (see the module docstring)."""
        with self._lock:
            cached = self._cached
            if cached is None or cached[0] != self._recorder.version:
                self._start_drawing()
        if cached is not None:
            return cached[1]
        self._drawn.wait(FIRST_WAIT_S)
        with self._lock:
            return self._cached[1] if self._cached is not None else _DRAWING

    def _start_drawing(self) -> None:
        if self._drawing is not None and self._drawing.is_alive():
            return
        self._drawing = threading.Thread(target=self._draw, name="report-page", daemon=True)
        self._drawing.start()

    def _draw(self) -> None:
        try:
            version = self._recorder.version
            body = self.draw()
        except Exception:  # a drawing bug must not take the API down
            log.exception("drawing the report page")
            return
        with self._lock:
            self._cached = (version, body)
        self._drawn.set()

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait up to ``timeout_s`` for a drawing under way: matplotlib torn down by interpreter
        exit mid-drawing can crash the process (seen as exit -11 after SIGTERM)."""
        with self._lock:
            drawing = self._drawing
        if drawing is not None:
            drawing.join(timeout_s)

    def draw(self) -> bytes:
        """Draw the page now (blocking)."""
        current = self._board.current()
        timelines = self._recorder.canaries([v.key for v in current])
        latest = max((v.at_unix_nano for v in current), default=0)
        subtitle = (f"{len(current)} canar{'y' if len(current) == 1 else 'ies'} on the "
                    "verdict board" + (f"; latest look at {format_unix_nano(latest)} "
                                       "(event time)" if latest else ""))
        return render_page(timelines, title="canarywatch: current canaries",
                           subtitle=subtitle).encode("utf-8")
