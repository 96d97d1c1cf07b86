"""Tests of the always-valid count tests: the mixture SPRT, its validity under repeated looks,
and its use on everything since the canary's start."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from synth import T0, Run, first_rollback_s

from canarywatch.analysis import Analyzer
from canarywatch.analysis.logs import TemplateInfo
from canarywatch.analysis.sequential import (
    always_valid_p,
    log_mixture_lr,
    min_always_valid_p,
    sequential_signals,
)
from canarywatch.analysis.windows import EndpointCounts, Summary, VersionWindow
from canarywatch.config import AnalysisConfig
from canarywatch.events import Severity

NS = 1_000_000_000


def test_mixture_ratio_is_half_a_point_mass_at_one_and_half_uniform_above_the_share() -> None:
    """LR(c, b) = 1/2 [b = 0] p0^-c + 1/2 (integral of p^c (1-p)^b over [p0, 1]) /
    ((1-p0) p0^c (1-p0)^b), checked against scipy's incomplete beta function; four
    canary-only lines at a 10% share give about p = 1/5000; fewer canary lines than the
    share expects give no evidence."""
    for c, b, p0 in ((4, 0, 0.1), (7, 3, 0.1), (0, 5, 0.3), (40, 200, 0.1), (2, 30, 0.1)):
        above = special.beta(c + 1, b + 1) * special.betaincc(c + 1, b + 1, p0)
        uniform = above / ((1 - p0) * p0**c * (1 - p0) ** b)
        point = p0**-c if b == 0 else 0.0
        assert math.exp(log_mixture_lr(c, b, p0)) == pytest.approx(0.5 * point + 0.5 * uniform,
                                                                    rel=1e-9)
    assert always_valid_p(4, 0, 0.1) == pytest.approx(1 / (5000 + 0.5 * (1 - 1e-5) / 5 / 0.9e-4))
    assert always_valid_p(0, 50, 0.1) == 1.0
    assert always_valid_p(1, 200, 0.1) == 1.0
    assert min_always_valid_p(4, 0.1) == always_valid_p(4, 0, 0.1)
    assert min_always_valid_p(0, 0.1) == 1.0


def test_p_value_stays_valid_however_often_one_looks() -> None:
    """Under the null (every trial the canary's with the traffic share), the chance that the
    p-value EVER drops to 0.05 over 400 trials, looked at after each one, is at most 0.05
    (Ville); a fixed-sample binomial test looked at as often would exceed it."""
    rng = np.random.default_rng(17)
    p0, runs, trials = 0.1, 2000, 400
    crossed = 0
    for _ in range(runs):
        labels = rng.random(trials) < p0
        c = np.cumsum(labels)
        n = np.arange(1, trials + 1)
        pairs = zip(c, n, strict=True)
        if any(always_valid_p(int(ci), int(ni - ci), p0) <= 0.05 for ci, ni in pairs):
            crossed += 1
    assert crossed / runs <= 0.05


def test_a_new_error_template_fails_and_a_shared_one_does_not() -> None:
    """A canary-only ERROR template (4 lines, 10% share) is a failing always-valid test; an
    ERROR template both cohorts write at their share is not, and INFO is not tested."""
    book = {1: TemplateInfo(Severity.ERROR, T0, {"2.0"}), 2: TemplateInfo(Severity.ERROR, T0,
                                                                          {"1.0", "2.0"}),
            3: TemplateInfo(Severity.INFO, T0, {"2.0"})}
    canary = Summary(endpoints={"GET /cart": EndpointCounts(requests=100)},
                     templates={1: 4, 2: 10, 3: 9}, logs=23)
    baseline = Summary(endpoints={"GET /cart": EndpointCounts(requests=900)},
                       templates={2: 90}, logs=90)
    found = sequential_signals(canary, baseline, book, canary_version="2.0",
                               baseline_version="1.0", config=AnalysisConfig(),
                               template_text=lambda t: f"t{t}", per_endpoint=[])
    by_key = {r.key: r for r in found}
    assert set(by_key) == {"template:1@seq", "template:2@seq"}
    new = by_key["template:1@seq"]
    assert new.always_valid and new.can_fail and new.effect_ok
    assert new.p_value == pytest.approx(always_valid_p(4, 0, 0.1)) and new.p_value < 3e-4
    assert new.reason.template == "t1"
    assert by_key["template:2@seq"].p_value > 0.05


def test_since_start_keeps_evicted_slots() -> None:
    """Everything since the first event survives the sliding window's evictions and a
    snapshot round trip."""
    window = VersionWindow(10 * NS, keep_slots=3)
    for i in range(10):
        window.add_log(T0 + i * 10 * NS, 1)
    assert window.summary(T0, T0 + 100 * NS).templates[1] < 10
    assert window.since_start(T0 + 100 * NS).templates == {1: 10}
    restored = VersionWindow.from_json(10 * NS, 3, window.to_json())
    assert restored.since_start(T0 + 100 * NS).templates == {1: 10}


def test_new_error_rolls_back_on_its_fourth_line_without_waiting_for_persistence() -> None:
    """With the always-valid tests the rollback comes at the look after the few lines that
    make the evidence, sooner than with them turned off."""
    def fault(canary: bool, t: float) -> float:
        return 0.03 if canary and t >= 60 else 0.0

    times = {}
    for share in (0.5, 0.0):
        config = AnalysisConfig(always_valid_share=share)
        run = Run(seed=3, new_error=fault)
        times[share] = first_rollback_s(run.play(Analyzer(config), interval_s=5.0))
    assert times[0.5] is not None and times[0.0] is not None
    assert 60 <= times[0.5] < times[0.0]
