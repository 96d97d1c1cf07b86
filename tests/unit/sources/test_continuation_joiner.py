"""ContinuationJoiner: text lines shipped one message each become one record per statement."""

from __future__ import annotations

from canarywatch.sources.base import PayloadKind, Position, Record
from canarywatch.sources.multiline import MAX_RECORD_LINES, ContinuationJoiner


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _msg(offset: int, line: bytes, partition: int = 0) -> Record:
    return Record(line, PayloadKind.LOG_TEXT, f"app:{partition}:{offset}",
                  position=Position("app", partition, offset))


TRACE = [b"2026-01-01T00:00:00Z ERROR request failed",
         b"java.lang.IllegalStateException: cart 81 is locked",
         b"\tat com.shop.cart.CartService.lock(CartService.java:88)",
         b"Caused by: java.io.IOException: gone",
         b"\t... 42 more"]


def test_lines_join_until_a_line_that_continues_nothing() -> None:
    joiner = ContinuationJoiner(hold_s=1.0, clock=Clock())
    out = [r for i, line in enumerate([*TRACE, b"2026-01-01T00:00:01Z INFO ok"])
           if (r := joiner.push("p0", _msg(i, line))) is not None]
    assert [r.payload for r in out] == [b"\n".join(TRACE)]
    assert out[0].origin == "app:0:0"  # where it starts
    assert out[0].position == Position("app", 0, 4)  # its last line: commits stay exact
    held = joiner.flush("p0")
    assert held is not None and held.payload == b"2026-01-01T00:00:01Z INFO ok"
    assert len(joiner) == 0


def test_a_held_record_is_released_after_the_hold_without_a_next_line() -> None:
    clock = Clock()
    joiner = ContinuationJoiner(hold_s=1.0, clock=clock)
    for i, line in enumerate(TRACE[:3]):
        assert joiner.push("p0", _msg(i, line)) is None
    clock.now += 0.9
    assert joiner.expired() == []
    assert joiner.push("p0", _msg(3, TRACE[3])) is None  # the hold restarts at each line
    clock.now += 0.9
    assert joiner.expired() == []
    clock.now += 0.2
    [done] = joiner.expired()
    assert done.payload == b"\n".join(TRACE[:4])


def test_streams_are_joined_apart_and_dropped_on_revoke() -> None:
    joiner = ContinuationJoiner(hold_s=1.0, clock=Clock())
    joiner.push(("app", 0), _msg(0, TRACE[0], 0))
    joiner.push(("app", 1), _msg(0, b"2026-01-01T00:00:00Z INFO other", 1))
    # a continuation on partition 1 does not join partition 0's record
    assert joiner.push(("app", 1), _msg(1, TRACE[2], 1)) is None
    assert joiner.drop([("app", 0)]) == 1
    held = joiner.flush(("app", 1))
    assert held is not None and held.payload.count(b"\n") == 1
    assert joiner.flush(("app", 0)) is None


def test_a_runaway_trace_is_cut_at_the_line_bound() -> None:
    joiner = ContinuationJoiner(hold_s=1.0, clock=Clock())
    out = [r for i in range(MAX_RECORD_LINES + 10)
           if (r := joiner.push("p", _msg(i, TRACE[0] if i == 0 else TRACE[2]))) is not None]
    assert len(out) == 1 and out[0].payload.count(b"\n") == MAX_RECORD_LINES - 1
