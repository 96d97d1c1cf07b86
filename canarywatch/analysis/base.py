"""What a signal hands the judge: one tested hypothesis with its evidence."""

from __future__ import annotations

from dataclasses import dataclass

from canarywatch.events import Reason


@dataclass(frozen=True, slots=True)
class SignalResult:
    """One test of "the canary is worse" on one endpoint or template, at one look.

    The judge decides whether it fails: ``can_fail`` (severity and data allow it),
    ``effect_ok`` (the effect-size gates pass) and ``p_value`` at or below the look's
    threshold. ``min_p_value`` is the smallest p-value the test could reach with the data it
    has, so tests that cannot reach significance do not dilute the others (Tarone).
    ``reason`` carries the evidence with ``failed=False``; the judge marks the failing ones.
    """

    key: str
    p_value: float
    min_p_value: float
    can_fail: bool
    effect_ok: bool
    reason: Reason
    # Reported even when it does not fail (a new template of any severity).
    notable: bool = False
    # An always-valid p-value (canarywatch.analysis.sequential): judged against its own
    # share of the budget, with no spending over looks and no persistence.
    always_valid: bool = False
