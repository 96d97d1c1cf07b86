"""Tests of the trace join that tells which endpoint wrote a log line."""

from __future__ import annotations

from canarywatch.analysis.join import NO_ENDPOINT, PendingLine, TraceJoin

S = 1_000_000_000


def _line(trace: str, at_s: int, tid: int = 7) -> PendingLine:
    return PendingLine("shop", "2.0", trace, at_s * S, tid)


def test_lines_written_before_their_span_wait_for_it() -> None:
    """A line waits until its trace's SERVER span arrives, then gets that endpoint."""
    join = TraceJoin(wait_ns=30 * S)
    assert join.line(_line("t1", 1)) == []
    assert join.line(_line("t1", 2, tid=8)) == []
    released = join.span("shop", "t1", "GET /cart")
    assert [(x.template_id, e) for x, e in released] == [(7, "GET /cart"), (8, "GET /cart")]


def test_lines_after_their_span_find_it_at_once() -> None:
    """An exception line recorded after its span ended is attributed immediately."""
    join = TraceJoin(wait_ns=30 * S)
    assert join.span("shop", "t2", "POST /pay") == []
    assert [e for _, e in join.line(_line("t2", 5))] == ["POST /pay"]


def test_untraced_and_orphan_lines_are_released_without_endpoint() -> None:
    """No trace id: no endpoint at once; a trace whose span never comes expires."""
    join = TraceJoin(wait_ns=30 * S)
    assert join.line(_line("", 1)) == [(_line("", 1), NO_ENDPOINT)]
    join.line(_line("t3", 1))
    assert join.expire(20 * S) == []
    assert [e for _, e in join.expire(40 * S)] == [NO_ENDPOINT]
    assert join.span("shop", "t3", "GET /cart") == []


def test_join_state_round_trips() -> None:
    """Pending lines and recent spans survive to_json/restore."""
    join = TraceJoin(wait_ns=30 * S)
    join.line(_line("t4", 1))
    join.span("shop", "t5", "GET /x")
    copy = TraceJoin(wait_ns=30 * S)
    copy.restore(join.to_json())
    assert [e for _, e in copy.span("shop", "t4", "GET /y")] == ["GET /y"]
    assert [e for _, e in copy.line(_line("t5", 2))] == ["GET /x"]


def test_recent_spans_are_remembered_for_at_least_max_recent_spans() -> None:
    """A late line finds any of the last ``max_recent`` spans, and the memory stays bounded."""
    join = TraceJoin(wait_ns=30 * S, max_recent=4)
    for i in range(11):
        join.span("shop", f"s{i}", f"GET /{i}")
    for i in range(7, 11):  # the last max_recent spans are always found
        assert [e for _, e in join.line(_line(f"s{i}", 20))] == [f"GET /{i}"]
    assert join.line(_line("s0", 20)) == []  # long gone: the line waits instead
    remembered = join.to_json()
    assert len(remembered["older"]) + len(remembered["recent"]) <= 2 * 4


def test_restored_join_forgets_the_same_spans_as_the_original() -> None:
    """Both generations round-trip, so a restarted agent evicts exactly as one never stopped."""
    join = TraceJoin(wait_ns=30 * S, max_recent=4)
    for i in range(6):
        join.span("shop", f"s{i}", f"GET /{i}")
    copy = TraceJoin(wait_ns=30 * S, max_recent=4)
    copy.restore(join.to_json())
    for i in range(6, 9):
        join.span("shop", f"s{i}", f"GET /{i}")
        copy.span("shop", f"s{i}", f"GET /{i}")
    assert copy.to_json() == join.to_json()


def test_lines_whose_spans_never_come_are_bounded() -> None:
    """Past max_pending waiting lines, the longest-waiting traces stop waiting; the newest
    still get their endpoint when the span comes."""
    join = TraceJoin(wait_ns=30 * S, max_pending=100)
    for i in range(250):
        join.line(_line(f"t{i}", 1))
    assert join.waiting == 100
    assert join.span("shop", "t0", "GET /old") == []
    assert [e for _, e in join.span("shop", "t249", "GET /new")] == ["GET /new"]
    assert join.waiting == 99
    copy = TraceJoin(wait_ns=30 * S, max_pending=100)
    copy.restore(join.to_json())
    assert copy.waiting == 99
    assert [e for _, e in copy.expire(40 * S)] == [""] * 99 and copy.waiting == 0
