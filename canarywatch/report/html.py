"""The self-contained HTML report: ``replay --html FILE`` and the daemon's ``GET /``.

One page, no scripts, no external fonts, styles or images: plots are inline SVG (see
:mod:`canarywatch.report.plots`). Per canary: its verdict timeline; per endpoint that matters
(those the verdict's reasons name, then the busiest) error rate and latency p50/p95 per cohort;
the lines of the templates behind the verdict; every plot marks the decision time; then the
reasons with example lines and trace ids. :func:`render_page` is a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from canarywatch.analysis.spans import ALL_ENDPOINTS
from canarywatch.errors import InputError
from canarywatch.events import Action, Reason, Verdict, format_unix_nano
from canarywatch.pipeline import ReplayResult
from canarywatch.report.plots import (
    ACTION_COLORS,
    endpoint_svg,
    templates_svg,
    verdict_timeline_svg,
)
from canarywatch.report.text import example_body
from canarywatch.report.timeline import CanaryTimeline, TimelineRecorder

MAX_ENDPOINTS = 3
MAX_TEMPLATES = 4
MAX_REASONS = 10
MAX_EXAMPLES = 3

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:24px auto;max-width:1000px;color:#212121;background:#fff}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:18px 0 4px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.meta{color:#616161;font-size:13px}
table{border-collapse:collapse;font-size:12px;width:100%}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;word-break:break-all}
svg{max-width:100%;height:auto}
.failed{color:#c62828;font-weight:600}
"""


def _badge(action: Action) -> str:
    return (f'<span class="badge" style="background:{ACTION_COLORS[action]}">'
            f"{escape(action.value.upper())}</span>")


def _examples(reason: Reason) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in reason.details:
        if not isinstance(value, list):
            continue
        if key == "examples":
            for ex in value[:MAX_EXAMPLES]:
                if isinstance(ex, dict):
                    out.append((example_body(ex), str(ex.get("trace_id") or "")))
                else:
                    out.append((str(ex), ""))
        elif "trace" in key:  # error and slow request trace ids of span signals
            out.extend(("", str(t)) for t in value[:MAX_EXAMPLES])
    return out


def _reasons_table(verdict: Verdict) -> str:
    reasons = sorted(verdict.reasons, key=lambda r: not r.failed)[:MAX_REASONS]
    if not reasons:
        return "<p>No reasons recorded.</p>"
    rows = []
    for r in reasons:
        examples = "".join(
            f"<div><code>{escape(body)}</code>"
            + (f" <span class='meta'>trace <code>{escape(trace)}</code></span>" if trace else "")
            + "</div>" for body, trace in _examples(r))
        p = "" if r.p_value is None else f"{r.p_value:.3g}"
        rows.append(
            f"<tr><td class='{'failed' if r.failed else ''}'>"
            f"{'failed' if r.failed else 'passed'}</td><td>{escape(r.signal.value)}</td>"
            f"<td>{escape(r.summary)}{examples}</td><td>{r.baseline_count}</td>"
            f"<td>{r.canary_count}</td><td>{p}</td></tr>")
    return ("<table><tr><th></th><th>signal</th><th>evidence, example lines and trace ids</th>"
            "<th>baseline</th><th>canary</th><th>p-value</th></tr>" + "".join(rows) + "</table>")


def endpoints_that_matter(timeline: CanaryTimeline, verdict: Verdict) -> list[str]:
    """Endpoints the verdict's reasons name (failing first), then the canary's busiest."""
    seen = {name for p in timeline.canary for name, _ in p.endpoints}
    chosen: list[str] = []
    for r in sorted(verdict.reasons, key=lambda r: not r.failed):
        if r.endpoint and r.endpoint != ALL_ENDPOINTS and r.endpoint in seen \
                and r.endpoint not in chosen:
            chosen.append(r.endpoint)
    traffic: dict[str, int] = {}
    for p in timeline.canary:
        for name, point in p.endpoints:
            traffic[name] = traffic.get(name, 0) + point.requests
    for name in sorted(traffic, key=lambda n: (-traffic[n], n)):
        if len(chosen) >= MAX_ENDPOINTS:
            break
        if name not in chosen:
            chosen.append(name)
    return chosen[:MAX_ENDPOINTS]


def templates_behind(timeline: CanaryTimeline, verdict: Verdict) -> list[int]:
    """Templates the verdict's reasons name (failing first), else the canary's most frequent."""
    chosen: list[int] = []
    for r in sorted(verdict.reasons, key=lambda r: not r.failed):
        if r.template_id is not None and r.template_id not in chosen:
            chosen.append(r.template_id)
    if not chosen:
        lines: dict[int, int] = {}
        for p in timeline.canary:
            for tid, n in p.templates:
                lines[tid] = lines.get(tid, 0) + n
        chosen = sorted(lines, key=lambda t: (-lines[t], t))
    return chosen[:MAX_TEMPLATES]


def _canary_section(t: CanaryTimeline) -> str:
    decision = t.decision
    shown = decision or t.final
    at = None if decision is None else decision.at_unix_nano
    action = None if decision is None else decision.action
    labels = (f"baseline {t.baseline_version}", f"canary {t.canary_version}")
    starts = [p.start_unix_nano for p in (*t.baseline[:1], *t.canary[:1])]
    starts += [lk[0] for lk in t.looks[:1]]
    span = (min(starts), t.looks[-1][0]) if starts and t.looks else None
    when = (f"decided at {format_unix_nano(decision.at_unix_nano)} (event time)"
            if decision is not None else "no decision yet")
    parts = [
        f"<h2>{escape(t.service)}: canary {escape(t.canary_version)} vs baseline "
        f"{escape(t.baseline_version)} {_badge(t.final.action)}</h2>",
        f"<p class='meta'>{escape(when)}; score {t.final.score:.2f}; last look "
        f"{format_unix_nano(t.final.at_unix_nano)}</p>",
        "<h3>Verdict timeline</h3>", verdict_timeline_svg(t.looks, at, action, span)]
    endpoints = endpoints_that_matter(t, shown)
    if endpoints:
        parts.append("<h3>Endpoints</h3>")
        parts.extend(endpoint_svg(e, baseline=t.baseline, canary=t.canary, labels=labels,
                                  decision_unix_nano=at, action=action, span=span)
                     for e in endpoints)
    template_ids = templates_behind(t, shown)
    if template_ids:
        parts.append("<h3>Log templates</h3>")
        parts.append(templates_svg(template_ids, dict(t.template_texts), baseline=t.baseline,
                                   canary=t.canary, labels=labels, decision_unix_nano=at,
                                   action=action, span=span))
    parts.append("<h3>Reasons" + (" at the decision" if decision else " at the last look")
                 + "</h3>")
    parts.append(_reasons_table(shown))
    return "\n".join(parts)


def render_page(timelines: Sequence[CanaryTimeline], *, title: str,
                subtitle: str = "") -> str:
    """The whole page as an HTML string (UTF-8, no external references)."""
    body = [f"<h1>{escape(title)}</h1>"]
    if subtitle:
        body.append(f"<p class='meta'>{escape(subtitle)}</p>")
    if not timelines:
        body.append("<p>No canary found: no service had a second version with enough "
                    "traffic to be judged.</p>")
    body.extend(_canary_section(t) for t in timelines)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_replay_report(path: Path, recorder: TimelineRecorder, result: ReplayResult,
                        inputs: Sequence[str]) -> None:
    """Write ``replay --html``'s page to ``path``; InputError when it cannot be written."""
    counts = result.counts
    subtitle = (f"replay of {', '.join(inputs)}: {counts.spans} spans, {counts.logs} logs, "
                f"{counts.rejected} rejected, {counts.unversioned} without a version")
    page = render_page(recorder.canaries(), title="canarywatch replay report",
                       subtitle=subtitle)
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot write the report: {exc.strerror}") from None
