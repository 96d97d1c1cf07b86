"""The service-level safety net, one-cohort endpoint reasons and honest `continue` verdicts."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

from synth import NS, T0

from canarywatch.analysis import Analyzer
from canarywatch.analysis.stats import binom_sf, min_poisson_binomial_p, poisson_binomial_sf
from canarywatch.config import AnalysisConfig
from canarywatch.events import Action, Verdict


def _play(name: Callable[[bool, int], str], *, seed: int, fault: float = 0.0,
          duration_s: float = 300.0, **config: object) -> list[Verdict]:
    """40 req/s, 10% canary; ``name(is_canary, i)`` names request i's endpoint; canary
    requests fail with probability ``fault`` after 60 s (0.3% errors at base)."""
    analyzer = Analyzer(AnalysisConfig.model_validate(config))
    rng = random.Random(seed)
    verdicts, t, i, next_eval = [], 0.0, 0, T0 + 10 * NS
    while t < duration_s:
        canary = rng.random() < 0.1
        start = T0 + int(t * NS)
        while start >= next_eval:
            verdicts.append(analyzer.evaluate("shop", "1.0", "2.0", next_eval, str))
            next_eval += 10 * NS
        error = rng.random() < 0.003 + (fault if canary and t > 60 else 0.0)
        duration = int(rng.lognormvariate(math.log(20.0), 0.35) * 1e6)
        analyzer.observe_request("shop", "2.0" if canary else "1.0", name(canary, i), start,
                                 start + duration, error, 500 if error else 200, "")
        t += rng.expovariate(40.0)
        i += 1
    return verdicts


def _renamed(canary: bool, i: int) -> str:
    """The HTTP convention migration gone wrong: `GET` in the canary, `HTTP GET` before."""
    return "GET" if canary else "HTTP GET"


def test_fault_caught_when_no_endpoint_is_shared() -> None:
    """Cohorts naming every endpoint differently still roll back on the service error rate."""
    verdicts = _play(_renamed, seed=1, fault=0.10)
    assert verdicts[-1].action is Action.ROLLBACK
    failed = [r for r in verdicts[-1].reasons if r.failed]
    assert any(r.endpoint == "(all endpoints)" and r.signal.value == "error_rate"
               for r in failed), failed


def test_endpoint_seen_in_one_cohort_is_a_reason_and_same_code_does_not_roll_back() -> None:
    """No fault, names differ: no rollback over 5 seeds; each one-cohort endpoint is named."""
    for seed in range(5):
        verdicts = _play(_renamed, seed=seed, duration_s=200.0)
        assert all(v.action is not Action.ROLLBACK for v in verdicts)
        summaries = [r.summary for r in verdicts[-1].reasons]
        assert any(s.startswith("GET appears only in 2.0: ") for s in summaries), summaries
        assert any(s.startswith("HTTP GET appears only in 1.0: ") for s in summaries)


def test_thin_buckets_continue_with_a_reason_and_never_promote() -> None:
    """Every request its own endpoint: `continue` saying no comparison is possible."""
    verdicts = _play(lambda canary, i: f"GET /users/{i}", seed=3, fault=0.15,
                     max_endpoints_per_service=100_000, promote_after_s=100.0,
                     pooled_endpoints=False)
    assert all(v.action is Action.CONTINUE for v in verdicts)
    assert all(v.reasons for v in verdicts[1:])
    assert "no comparison possible yet" in verdicts[-1].reasons[0].summary


def test_healthy_continue_before_promote_says_why() -> None:
    """Nothing wrong before promote_after_s: the `continue` says what it waits for."""
    verdicts = _play(lambda canary, i: "GET /cart", seed=4, duration_s=120.0)
    last = verdicts[-1]
    assert last.action is Action.CONTINUE
    assert [r.summary for r in last.reasons] == [
        "nothing wrong found so far; promote needs 600 s of canary traffic (now 110 s)"]


def test_poisson_binomial_matches_brute_force_and_binomial() -> None:
    """The stratified tail equals enumeration on small strata and the binomial on one."""
    trials, shares = [3, 2], [0.2, 0.6]
    outcomes = itertools.product(*(range(n + 1) for n in trials))
    pmf: dict[int, float] = {}
    for ks in outcomes:
        p = math.prod(math.comb(n, k) * s**k * (1 - s) ** (n - k)
                      for n, k, s in zip(trials, ks, shares, strict=True))
        pmf[sum(ks)] = pmf.get(sum(ks), 0.0) + p
    for k in range(6):
        expected = sum(p for total, p in pmf.items() if total >= k)
        assert math.isclose(poisson_binomial_sf(k, trials, shares), expected, rel_tol=1e-9)
    assert poisson_binomial_sf(4, [10], [0.3]) == binom_sf(4, 10, 0.3)
    assert math.isclose(min_poisson_binomial_p(trials, shares), 0.2**3 * 0.6**2)
