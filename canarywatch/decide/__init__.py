"""Decisions: signal results in, one verdict per canary out."""

from canarywatch.decide.judge import Exposure, LookState, decide, look_alpha, tarone_threshold

__all__ = ["Exposure", "LookState", "decide", "look_alpha", "tarone_threshold"]
