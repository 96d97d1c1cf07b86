"""The human report `canarywatch replay` prints without --json.

Shape, per canary: a header with the final action and since when, the verdict timeline (every
change of action with its event time), for ``continue`` why (no canary data, not enough yet,
a suspicious signal not yet persistent, or healthy so far), then the reasons: failed ones
first, the top :data:`DETAILED_REASONS` with example lines and trace ids, the rest one line
each after "and N more". An interrupted replay says so first: its verdicts are partial.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from canarywatch.events import NOT_ENOUGH_DATA, Action, Reason, Verdict, format_unix_nano
from canarywatch.replay import ReplayRun

DETAILED_REASONS = 3
_MAX_EXAMPLES = 2
_MAX_SKIPPED_SHOWN = 10


class TextOut(Protocol):
    """Where the report goes: anything with ``write(str)`` (a text stream)."""

    def write(self, text: str, /) -> object: ...


def example_body(example: dict[str, object]) -> str:
    """An example line as shown: its body, then a structured line's other fields."""
    body = str(example.get("body", ""))
    attributes = example.get("attributes")
    if isinstance(attributes, dict) and attributes:
        body += "  {" + " ".join(f"{k}={v}" for k, v in attributes.items()) + "}"
    return body


def _examples(reason: Reason) -> list[str]:
    out: list[str] = []
    for key, value in reason.details:
        if key != "examples" or not isinstance(value, list):
            continue
        for example in value[:_MAX_EXAMPLES]:
            if isinstance(example, dict):
                line = example_body(example)
                trace = example.get("trace_id") or ""
                out.append(f"{line}  (trace {trace})" if trace else line)
            else:
                out.append(str(example))
    return out


def _first_reached(changes: Sequence[Verdict], final: Verdict) -> Verdict:
    """The change at which the canary reached its final action."""
    reached = final
    for change in changes:
        if change.key == final.key and change.action is final.action:
            reached = change
    return reached


def why_continue(verdict: Verdict) -> str:
    """Why a ``continue`` verdict is not yet promote or rollback, in one sentence."""
    for reason in verdict.reasons:
        if reason.summary.startswith(NOT_ENOUGH_DATA):
            logs = dict(reason.details).get("canary_logs", 0)
            if reason.canary_count == 0 and not logs:
                return "no data: the canary sent no requests or log lines in the window"
            return f"not enough data yet: {reason.summary}"
    failing = sum(1 for r in verdict.reasons if r.failed)
    if failing:
        return (f"suspicious: {failing} signal(s) failed this look but not yet on enough "
                "consecutive looks to roll back")
    return ("healthy so far: no signal failed; promote waits until the canary has run long "
            "enough (analysis.promote_after_s) with enough data")


def _timeline(changes: Sequence[Verdict], final: Verdict, out: TextOut) -> None:
    mine = [c for c in changes if c.key == final.key]
    if not mine:
        return
    out.write("  timeline:\n")
    for change in mine:
        out.write(f"    {format_unix_nano(change.at_unix_nano)}  {change.action.value:<8} "
                  f"(score {change.score:.2f})\n")


def _reasons(final: Verdict, out: TextOut) -> None:
    ordered = sorted(final.reasons, key=lambda r: not r.failed)  # stable: failed first
    if final.action is not Action.ROLLBACK:
        ordered = [r for r in ordered if not r.summary.startswith(NOT_ENOUGH_DATA)]
    if not ordered:
        return
    out.write("  reasons:\n")
    for reason in ordered[:DETAILED_REASONS]:
        out.write(f"  - {reason.summary}\n")
        for line in _examples(reason):
            out.write(f"      e.g. {line}\n")
    rest = ordered[DETAILED_REASONS:]
    if rest:
        out.write(f"  ... and {len(rest)} more:\n")
        for reason in rest:
            out.write(f"  - {reason.summary}\n")


def write_report(run: ReplayRun, out: TextOut) -> None:
    """Write the report of ``run`` to ``out`` (see the module docstring for its shape)."""
    result = run.result
    if run.partial:
        at = run.stopped_at_unix_nano
        out.write(f"PARTIAL: interrupted at event time {format_unix_nano(at) if at else 'start'}"
                  "; the verdicts below are what was decided up to then\n")
    counts = result.counts
    out.write(f"events: {counts.spans} spans, {counts.logs} logs, "
              f"{counts.rejected} rejected, {counts.unversioned} without a version\n")
    for notice in result.notices:
        out.write(f"note: {notice}\n")
    if run.skipped:
        out.write(f"skipped {len(run.skipped)} path(s):\n")
        for item in run.skipped[:_MAX_SKIPPED_SHOWN]:
            out.write(f"  {item.path}: {item.reason}\n")
        if len(run.skipped) > _MAX_SKIPPED_SHOWN:
            out.write(f"  ... and {len(run.skipped) - _MAX_SKIPPED_SHOWN} more "
                      "(--log-level INFO lists them all)\n")
    if not result.final:
        seen = "; ".join(f"{service}: {', '.join(versions) or 'none'}"
                         for service, versions in run.versions.items())
        out.write("no canary found: no service had a second version with enough traffic"
                  + (f" (versions seen: {seen})" if seen else "")
                  + (" (see the notes above)" if result.notices else "") + "\n")
        return
    for final in result.final:
        reached = _first_reached(result.changes, final)
        out.write(f"\n{final.service}: canary {final.canary_version} vs baseline "
                  f"{final.baseline_version}: {final.action.value.upper()} "
                  f"(score {final.score:.2f}) since {format_unix_nano(reached.at_unix_nano)}\n")
        _timeline(result.changes, final, out)
        if final.action is Action.CONTINUE:
            out.write(f"  why continue: {why_continue(final)}\n")
        _reasons(final, out)
