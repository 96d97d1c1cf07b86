"""The report's plots: matplotlib figures rendered to inline SVG strings.

Only the object-oriented API is used (a ``Figure`` per plot, no pyplot state), so pages can be
rendered from any thread. Text is drawn as paths (``svg.fonttype: path``), so the SVG needs no
font. Every plot carries the decision time as a vertical line whose SVG group id starts with
``decision-marker`` (the report's tests look for it).
"""

from __future__ import annotations

import io
import itertools
import math
import re
import threading
from collections.abc import Sequence
from datetime import timezone
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure

from canarywatch.events import Action
from canarywatch.report.timeline import BucketPoint

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
BASELINE_COLOR = "#1f77b4"
CANARY_COLOR = "#ff7f0e"
ACTION_COLORS = {Action.CONTINUE: "#9e9e9e", Action.PROMOTE: "#2e7d32",
                 Action.ROLLBACK: "#c62828"}
_RC: dict[str, Any] = {"svg.fonttype": "path", "svg.hashsalt": "canarywatch", "font.size": 8.0,
       "axes.spines.top": False, "axes.spines.right": False}
_HEADER = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_LOCK = threading.Lock()  # matplotlib's rc and font caches are process-wide
_ids = itertools.count(1)


def _rc() -> Any:
    return matplotlib.rc_context(_RC)  # type: ignore[arg-type]  # stubs want literal keys


def _time(t_unix_nano: int) -> float:
    """Event time as matplotlib's date number: days since 1970-01-01 (its default epoch)."""
    return t_unix_nano / _DAY_NS


def _figure(height_in: float) -> Figure:
    fig = Figure(figsize=(9.0, height_in), dpi=96)
    FigureCanvasSVG(fig)
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return _HEADER.sub("", buf.getvalue(), count=1)


def _mark(ax: Axes, decision_unix_nano: int | None, action: Action | None) -> None:
    if decision_unix_nano is None or action is None:
        return
    ax.axvline(_time(decision_unix_nano), color=ACTION_COLORS[action],
               linestyle="--", linewidth=1.4, gid=f"decision-marker-{next(_ids)}",
               label=f"{action.value} decided")


Span = tuple[int, int] | None  # the event-time range every plot of a canary shows


def _axes_time(ax: Axes, span: Span) -> None:
    if span is not None and span[1] > span[0]:
        ax.set_xlim(_time(span[0]), _time(span[1]))
    ax.xaxis.set_major_locator(AutoDateLocator())  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(
        DateFormatter("%H:%M:%S", tz=timezone.utc))  # type: ignore[no-untyped-call]
    ax.set_xlabel("event time (UTC)")
    ax.grid(True, alpha=0.3)


def verdict_timeline_svg(looks: Sequence[tuple[int, Action, float]],
                         decision_unix_nano: int | None, action: Action | None,
                         span: Span = None) -> str:
    """A band coloured by the action of each look, with the canary's score above it."""
    with _LOCK, _rc():
        fig = _figure(1.6)
        ax = fig.add_subplot()
        for i, (t, act, _) in enumerate(looks):
            end = looks[i + 1][0] if i + 1 < len(looks) else t + (
                looks[i][0] - looks[i - 1][0] if i else 10 * _NS)
            ax.axvspan(_time(t), _time(end), ymin=0.0, ymax=0.25, color=ACTION_COLORS[act],
                       linewidth=0)
        if looks:
            ax.plot([_time(t) for t, _, _ in looks], [0.3 + 0.7 * s for _, _, s in looks],
                    color="#424242", linewidth=1.0, label="score")
        for act, color in ACTION_COLORS.items():
            ax.plot([], [], color=color, linewidth=6, label=act.value)
        _mark(ax, decision_unix_nano, action)
        ax.set_ylim(0, 1.05)
        ax.set_yticks([])
        ax.set_title("verdict per look (band) and score (line)", loc="left")
        _axes_time(ax, span)
        ax.legend(loc="upper left", ncol=5, fontsize=7, frameon=False,
                  bbox_to_anchor=(0.0, -0.45))
        return _svg(fig)


def _series(points: Sequence[BucketPoint], endpoint: str) -> tuple[list[float], list[float],
                                                                     list[float], list[float]]:
    times, rates, p50, p95 = [], [], [], []
    for point in points:
        found = dict(point.endpoints).get(endpoint)
        if found is None or found.requests == 0:
            continue
        times.append(_time(point.start_unix_nano + point.width_ns // 2))
        rates.append(100.0 * found.errors / found.requests)
        p50.append(found.p50_ms)
        p95.append(found.p95_ms)
    return times, rates, p50, p95


def endpoint_svg(endpoint: str, *, baseline: Sequence[BucketPoint], canary: Sequence[BucketPoint],
                 labels: tuple[str, str], decision_unix_nano: int | None,
                 action: Action | None, span: Span = None) -> str:
    """Error rate (%) and latency p50/p95 (ms) of one endpoint per cohort over event time."""
    with _LOCK, _rc():
        fig = _figure(3.4)
        rate_ax, lat_ax = fig.subplots(1, 2)
        for points, label, color in ((baseline, labels[0], BASELINE_COLOR),
                                     (canary, labels[1], CANARY_COLOR)):
            times, rates, p50, p95 = _series(points, endpoint)
            rate_ax.plot(times, rates, color=color, linewidth=1.2, label=label)
            lat_ax.plot(times, p95, color=color, linewidth=1.2, label=f"{label} p95")
            lat_ax.plot(times, p50, color=color, linewidth=1.0, linestyle=":",
                        label=f"{label} p50")
        rate_ax.set_title(f"{endpoint}: error rate", loc="left")
        rate_ax.set_ylabel("errors (% of requests)")
        rate_ax.set_ylim(bottom=0)
        lat_ax.set_title(f"{endpoint}: latency", loc="left")
        lat_ax.set_ylabel("duration (ms)")
        if any(v > 0 and math.isfinite(v) for line in lat_ax.get_lines()
               for v in line.get_ydata()):
            lat_ax.set_ylim(bottom=0)
        for ax in (rate_ax, lat_ax):
            _mark(ax, decision_unix_nano, action)
            _axes_time(ax, span)
            ax.legend(fontsize=7, frameon=False)
        fig.autofmt_xdate()
        return _svg(fig)


def templates_svg(template_ids: Sequence[int], texts: dict[int, str], *,
                  baseline: Sequence[BucketPoint], canary: Sequence[BucketPoint],
                  labels: tuple[str, str], decision_unix_nano: int | None,
                  action: Action | None, span: Span = None) -> str:
    """Lines per bucket of each template behind the verdict, per cohort."""
    with _LOCK, _rc():
        fig = _figure(3.0)
        ax = fig.add_subplot()
        styles = ["-", "--", "-.", ":"]
        for n, tid in enumerate(template_ids):
            style = styles[n % len(styles)]
            text = texts.get(tid, f"template {tid}")
            short = text if len(text) <= 60 else text[:57] + "..."
            for points, label, color in ((baseline, labels[0], BASELINE_COLOR),
                                         (canary, labels[1], CANARY_COLOR)):
                times = [_time(p.start_unix_nano + p.width_ns // 2) for p in points]
                counts = [dict(p.templates).get(tid, 0) for p in points]
                ax.plot(times, counts, color=color, linestyle=style, linewidth=1.2,
                        label=f"{label}: #{tid} {short}")
        _mark(ax, decision_unix_nano, action)
        ax.set_title("log templates behind the verdict: lines per bucket", loc="left")
        ax.set_ylabel("lines")
        ax.set_ylim(bottom=0)
        _axes_time(ax, span)
        ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(0.0, -0.25))
        return _svg(fig)
