"""Analysis: per-version windows, the statistics behind each signal, and the Analyzer."""

from canarywatch.analysis.analyzer import Analyzer
from canarywatch.analysis.base import SignalResult

__all__ = ["Analyzer", "SignalResult"]
