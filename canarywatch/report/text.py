"""The short human report `canarywatch replay` prints without --json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from canarywatch.events import Action, Reason, Verdict, format_unix_nano
from canarywatch.pipeline import ReplayResult

_MAX_REASONS = 3
_MAX_EXAMPLES = 2


def _examples(reason: Reason) -> list[str]:
    out: list[str] = []
    for key, value in reason.details:
        if key != "examples" or not isinstance(value, list):
            continue
        for example in value[:_MAX_EXAMPLES]:
            if isinstance(example, dict):
                line = str(example.get("body", ""))
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


def write_report(result: ReplayResult, out: TextIO) -> None:
    counts = result.counts
    out.write(f"events: {counts.spans} spans, {counts.logs} logs, "
              f"{counts.rejected} rejected, {counts.unversioned} without a version\n")
    for notice in result.notices:
        out.write(f"note: {notice}\n")
    if not result.final:
        out.write("no canary found: no service had a second version with enough traffic"
                  f"{' (see the notes above)' if result.notices else ''}\n")
        return
    for final in result.final:
        reached = _first_reached(result.changes, final)
        out.write(f"\n{final.service}: canary {final.canary_version} vs baseline "
                  f"{final.baseline_version}: {final.action.value.upper()} "
                  f"(score {final.score:.2f}) since {format_unix_nano(reached.at_unix_nano)}\n")
        shown = [r for r in reached.reasons if r.failed] if final.action is Action.ROLLBACK \
            else list(reached.reasons)
        for reason in shown[:_MAX_REASONS]:
            out.write(f"  - {reason.summary}\n")
            for line in _examples(reason):
                out.write(f"      e.g. {line}\n")
