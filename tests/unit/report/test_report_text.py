"""The text report's explanation of a `continue` verdict."""

from __future__ import annotations

from canarywatch.events import NOT_ENOUGH_DATA, Action, Reason, Signal, Verdict
from canarywatch.report.text import why_continue


def _continue(*reasons: Reason) -> Verdict:
    return Verdict("checkout", "1.4.2", "1.5.0", Action.CONTINUE, 1_795_000_000_000_000_000,
                   1.0, reasons)


def _thin(requests: int, logs: int) -> Reason:
    return Reason(Signal.ERROR_RATE, f"{NOT_ENOUGH_DATA}: {requests} requests and {logs} log "
                  "lines in the window", failed=False, canary_count=requests,
                  details=(("canary_logs", logs),))


def test_no_canary_data_is_told_from_not_enough_yet() -> None:
    """No canary request or line in the window is 'no data'; a few is 'not enough yet'."""
    assert why_continue(_continue(_thin(0, 0))).startswith("no data:")
    assert why_continue(_continue(_thin(3, 0))).startswith("not enough data yet:")
    assert why_continue(_continue(_thin(0, 2))).startswith("not enough data yet:")


def test_failing_signal_not_yet_persistent_is_suspicious() -> None:
    """A signal that failed this look without enough consecutive looks is 'suspicious'."""
    failed = Reason(Signal.ERROR_RATE, "GET /cart: error rate 9% vs 0%", failed=True,
                    endpoint="GET /cart", canary_count=10)
    assert why_continue(_continue(failed)).startswith("suspicious: 1 signal(s) failed")


def test_nothing_wrong_is_healthy_so_far() -> None:
    """Enough data and nothing failing is 'healthy so far' (promote waits for time)."""
    notable = Reason(Signal.LOG_SIGNATURE, "new INFO template in 1.5.0", failed=False)
    assert why_continue(_continue()).startswith("healthy so far:")
    assert why_continue(_continue(notable)).startswith("healthy so far:")
