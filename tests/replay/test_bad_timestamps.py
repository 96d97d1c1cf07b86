"""Impossible timestamps among normal traffic change neither the verdict nor its time, and
cost the judge no extra looks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from canarywatch.config import Config
from canarywatch.pipeline import Pipeline, ReplayResult
from canarywatch.replay import replay_paths
from canarywatch.sim import Fault, Scenario, write_collector_files

SCENARIO = Scenario(seed=31, duration_s=300.0, rps=40.0, canary_share=0.10,
                    faults=(Fault("new_error", start_s=90.0, endpoint="GET /cart",
                                  magnitude=0.3),))
BEYOND_UINT64 = "1700344572441000936000000"  # ns passed where ms were expected
IN_1970 = "1000000000"  # seconds passed where nanoseconds were expected
YEAR_2554 = str((1 << 64) - 2)  # a valid uint64, hours beyond the watermark: clock skew


def _replay(files: list[Path]) -> tuple[ReplayResult, int]:
    pipeline = Pipeline(Config())
    return replay_paths(files, pipeline).result, pipeline.look_count


def _with_times(line: bytes, fields: tuple[str, ...], value: str) -> bytes:
    """A copy of an OTLP/JSON line with ``fields`` of its first record set to ``value``,
    the record alone in its message (a producer with a broken clock)."""
    message: dict[str, Any] = json.loads(line)
    key = "resourceSpans" if "resourceSpans" in message else "resourceLogs"
    scopes, inner = ("scopeSpans", "spans") if key == "resourceSpans" else \
        ("scopeLogs", "logRecords")
    bad = copy.deepcopy(message)
    resource = bad[key][0]
    record = resource[scopes][0][inner][0]
    for field in fields:
        record[field] = value
    resource[scopes] = [{**resource[scopes][0], inner: [record]}]
    bad[key] = [resource]
    return json.dumps(bad).encode() + b"\n"


@pytest.mark.parametrize("value", [BEYOND_UINT64, IN_1970, YEAR_2554])
def test_one_bad_timestamp_changes_neither_verdict_nor_time(tmp_path: Path,
                                                            value: str) -> None:
    """A log record and a span with a time beyond uint64 or in 1970 (first and in the middle
    of the files) or in 2554 (in the middle): same verdicts at the same times, as many looks
    (no work for the gap a bad time would open), each bad record counted under its reason."""
    files = write_collector_files(SCENARIO, tmp_path / "clean")
    clean, clean_looks = _replay(files)
    assert clean.rollback

    bad_files = []
    for path, fields in zip(files, (("startTimeUnixNano", "endTimeUnixNano"),
                                    ("timeUnixNano",)), strict=True):
        lines = path.read_bytes().splitlines(keepends=True)
        bad = _with_times(lines[len(lines) // 2], fields, value)
        target = tmp_path / "bad" / path.name
        target.parent.mkdir(exist_ok=True)
        # first and in the middle; a time within uint64 is only wrong by its distance from
        # the watermark, which the first record of a stream sets: in the middle only
        first = [] if value == YEAR_2554 else [bad]
        target.write_bytes(b"".join([*first, *lines[:len(lines) // 2], bad,
                                     *lines[len(lines) // 2:]]))
        bad_files.append(target)
    dirty, dirty_looks = _replay(bad_files)

    assert [(v.action, v.at_unix_nano) for v in dirty.changes] == \
        [(v.action, v.at_unix_nano) for v in clean.changes]
    assert [(v.action, v.at_unix_nano) for v in dirty.final] == \
        [(v.action, v.at_unix_nano) for v in clean.final]
    assert dirty_looks == clean_looks
    reason = {BEYOND_UINT64: "time_beyond_uint64", IN_1970: "time_before_2000",
              YEAR_2554: "clock_skew"}[value]
    assert dirty.counts.rejected_by_reason == {reason: 2 if value == YEAR_2554 else 4}
    assert (dirty.counts.spans, dirty.counts.logs) == (clean.counts.spans, clean.counts.logs)


def _events_in(line: bytes) -> int:
    """Spans or log records in one OTLP/JSON message."""
    message: dict[str, Any] = json.loads(line)
    return sum(len(scope.get("spans", scope.get("logRecords", [])))
               for resource in message.get("resourceSpans", message.get("resourceLogs", []))
               for scope in resource.get("scopeSpans", resource.get("scopeLogs", [])))


@pytest.mark.parametrize("shift_s", [-7200, 7200])
def test_a_lone_first_record_hours_off_moves_no_clock(tmp_path: Path, shift_s: int) -> None:
    """A first record whose producer clock is two hours off (a valid time, beyond
    analysis.max_clock_skew_s) must not anchor its stream there: the stream's own events
    outvote it, the watermark moves to them and the verdicts come at the clean times. What
    is lost is the one record read before the move (counted as clock_skew)."""
    files = write_collector_files(SCENARIO, tmp_path / "clean")
    clean, _ = _replay(files)
    shifted = []
    for path in files:
        lines = path.read_bytes().splitlines(keepends=True)
        message: dict[str, Any] = json.loads(lines[0])
        key = "resourceSpans" if "resourceSpans" in message else "resourceLogs"
        fields = ("startTimeUnixNano", "endTimeUnixNano") if key == "resourceSpans" \
            else ("timeUnixNano",)
        record = message[key][0][("scopeSpans" if key == "resourceSpans" else "scopeLogs")][
            0][("spans" if key == "resourceSpans" else "logRecords")][0]
        value = str(int(record[fields[0]]) + shift_s * 1_000_000_000)
        target = tmp_path / "shifted" / path.name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(_with_times(lines[0], fields, value) + b"".join(lines))
        shifted.append(target)
    dirty, _ = _replay(shifted)

    assert [(v.action, v.at_unix_nano) for v in dirty.changes] == \
        [(v.action, v.at_unix_nano) for v in clean.changes]
    assert set(dirty.counts.rejected_by_reason) == {"clock_skew"}
    # only what the first clean message of each file holds is lost, not the stream
    assert dirty.counts.rejected <= sum(_events_in(p.read_bytes().splitlines()[0])
                                        for p in files)
    assert dirty.counts.spans + dirty.counts.logs + dirty.counts.rejected == \
        clean.counts.spans + clean.counts.logs + 2


def test_records_from_the_future_first_in_the_files_are_dropped(tmp_path: Path) -> None:
    """The first ten messages of each file end in 2199 (a producer clock years ahead): they
    are rejected before they can anchor a stream or move the event clock, and the fault is
    still rolled back, at a 2026 time (it stayed `continue ... since 2199` before)."""
    import time

    files = write_collector_files(SCENARIO, tmp_path / "clean")
    clean, _ = _replay(files)
    future = []
    for path in files:
        lines = path.read_bytes().splitlines(keepends=True)
        head = [line.replace(b'"17950', b'"72500') for line in lines[:10]]
        target = tmp_path / "future" / path.name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(b"".join([*head, *lines[10:]]))
        future.append(target)
    dirty, _ = _replay(future)
    assert dirty.rollback and clean.rollback
    assert set(dirty.counts.rejected_by_reason) == {"clock_skew"}
    [rollback] = [v for v in dirty.final if v.action.value == "rollback"]
    assert rollback.at_unix_nano < time.time_ns()
    clean_at = next(v.at_unix_nano for v in clean.final if v.action.value == "rollback")
    assert abs(rollback.at_unix_nano - clean_at) <= 30 * 1_000_000_000
