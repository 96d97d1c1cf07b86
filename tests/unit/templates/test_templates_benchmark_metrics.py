"""The benchmark's accuracy measures, checked on hand-worked examples."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "templates.py"
    spec = importlib.util.spec_from_file_location("bench_templates", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_templates"] = module
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def test_grouping_accuracy_counts_only_exact_groups() -> None:
    """A line counts only when its predicted group is exactly its true group."""
    truth = ["A", "A", "B", "B", "C"]
    pred = [1, 1, 2, 2, 2]  # A right; B and C merged, so B's and C's lines are wrong
    assert BENCH.grouping_accuracy(pred, truth) == pytest.approx(2 / 5)


def test_false_novelty_counts_new_predictions_of_known_truths() -> None:
    """A B-line is false novelty when its template is unseen in A but its true one was seen."""
    truth = ["A"] * 4 + ["B"] * 4
    order = list(range(8))
    random.Random(1).shuffle(order)  # the documented split: shuffled, first half is A
    half_a, half_b = set(order[:4]), order[4:]
    seen_truths = {truth[i] for i in half_a}
    assert BENCH.false_novelty([0] * 8, truth, 1) == 0.0
    # Every line its own template: each B line whose true template occurs in A is false.
    expected = sum(1 for i in half_b if truth[i] in seen_truths) / 4
    assert BENCH.false_novelty(list(range(8)), truth, 1) == pytest.approx(expected)
    # Lines of a template that A never saw are true novelty, never counted.
    assert BENCH.false_novelty(list(range(8)), [str(i) for i in range(8)], 1) == 0.0
