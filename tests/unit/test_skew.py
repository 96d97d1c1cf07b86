"""The per-stream clock-skew guard: a wrong clock is rejected, a stream's own clock wins."""

from __future__ import annotations

from canarywatch.events import LogEvent, Severity
from canarywatch.rejects import RejectTally
from canarywatch.skew import SkewGuard

_S = 1_000_000_000
T0 = 1_795_000_000 * _S
HOUR = 3600 * _S


def _line(at: int) -> list[LogEvent]:
    return [LogEvent("checkout", "1.4.2", at, Severity.INFO, "GET /cart 200")]


def _feed(guard: SkewGuard, times: list[int], stream: str = "app.log") -> list[int]:
    """Times kept, one record (a text line) per time."""
    kept: list[int] = []
    for i, at in enumerate(times):
        kept += [ev.time_unix_nano for ev in guard.check_events(f"{stream}:{i + 1}", _line(at))]
    return kept


def test_a_lone_wrong_first_line_is_outvoted_by_the_stream() -> None:
    rejects = RejectTally()
    guard = SkewGuard(3600.0, rejects)
    good = [T0 + i * _S for i in range(50)]
    kept = _feed(guard, [T0 + 2 * HOUR, *good])
    # the wrong line came first and could not be known wrong; one good line is lost before
    # the stream's own clock wins, and everything after it is read
    assert kept == [T0 + 2 * HOUR, *good[1:]]
    assert rejects.total == 1
    assert guard.reanchored == 1


def test_a_lone_wrong_line_mid_stream_is_rejected_and_moves_nothing() -> None:
    rejects = RejectTally()
    guard = SkewGuard(3600.0, rejects)
    times = [T0 + i * _S for i in range(20)]
    times[10] = T0 - 3 * HOUR
    kept = _feed(guard, times)
    assert kept == times[:10] + times[11:]
    assert rejects.total == 1 and guard.reanchored == 0


def test_a_minority_clock_never_takes_the_stream_over() -> None:
    """One producer in five two hours ahead, sharing the partition with good ones."""
    rejects = RejectTally()
    guard = SkewGuard(3600.0, rejects)
    times = [T0 + i * _S + (2 * HOUR if i % 5 == 4 else 0) for i in range(200)]
    kept = _feed(guard, times)
    assert kept == [t for i, t in enumerate(times) if i % 5 != 4]
    assert rejects.total == 40 and guard.reanchored == 0


def test_a_corrected_producer_clock_moves_the_watermark_after_two_records() -> None:
    """The whole stream jumps three hours (a clock corrected by NTP): its first record after
    the jump is rejected while it could still be a lone wrong one; the second agrees with it,
    moves the watermark and is read, and so is the rest."""
    rejects = RejectTally()
    guard = SkewGuard(3600.0, rejects)
    before = [T0 + i * _S for i in range(30)]
    after = [T0 + 3 * HOUR + i * _S for i in range(30)]
    kept = _feed(guard, before + after)
    assert kept == before + after[1:]
    assert rejects.total == 1 and guard.reanchored == 1


def test_watermarks_are_per_stream() -> None:
    rejects = RejectTally()
    guard = SkewGuard(3600.0, rejects)
    assert _feed(guard, [T0, T0 + _S], "a.log") == [T0, T0 + _S]
    assert _feed(guard, [T0 + 5 * HOUR], "b.log") == [T0 + 5 * HOUR]
    assert rejects.total == 0
