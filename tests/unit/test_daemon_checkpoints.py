"""How often the daemon saves state: every commit interval, but never spending more than about
a tenth of its time on it. (No broker: the source has no consumer, so polls return nothing.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from canarywatch import daemon as daemon_mod
from canarywatch.config import validate
from canarywatch.daemon import CHECKPOINT_COST_FACTOR, Daemon
from canarywatch.metrics import create_metrics


def _daemon(state_dir: Path) -> Daemon:
    cfg = validate({"kafka": {"bootstrap_servers": "127.0.0.1:9", "commit_interval_s": 1},
                    "state_dir": str(state_dir)})
    return Daemon(cfg, create_metrics(CollectorRegistry()))


def _saves(daemon: Daemon) -> float:
    return float(daemon.metrics.state_saves._value.get())


def test_a_slow_save_spaces_out_the_next_ones(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    try:
        daemon._dirty = True
        daemon._last_checkpoint = time.monotonic() - 2.0  # past the 1 s commit interval
        daemon._checkpoint_seconds = 1.0  # the last save took 1 s: wait 10 s, not 1 s
        daemon.step(0)
        assert _saves(daemon) == 0
        daemon._last_checkpoint = time.monotonic() - CHECKPOINT_COST_FACTOR * 1.0 - 0.1
        daemon.step(0)
        assert _saves(daemon) == 1
        assert 0 <= daemon._checkpoint_seconds < 1.0  # measured afresh on every save
    finally:
        daemon.store.close()


def test_cheap_saves_follow_the_commit_interval(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    try:
        daemon._dirty = True
        daemon._last_checkpoint = time.monotonic() - 0.5
        daemon.step(0)
        assert _saves(daemon) == 0  # within the commit interval
        daemon._last_checkpoint = time.monotonic() - 1.1
        daemon.step(0)
        assert _saves(daemon) == 1
    finally:
        daemon.store.close()


def test_a_refused_commit_is_retried_with_no_new_records(tmp_path: Path) -> None:
    """A commit refused mid-rebalance (unknown member id) must not be forgotten: with the
    state clean and nothing new read, the next due checkpoint commits the offsets again.
    (Seen on a broker restarted empty: the group stayed at the old commit for good.)"""
    daemon = _daemon(tmp_path)
    calls: list[dict[tuple[str, int], int]] = []
    refuse = [True]

    def commit(offsets: Mapping[tuple[str, int], int], timeout_ms: int = 5000) -> bool:
        calls.append(dict(offsets))
        accepted = not refuse[0]
        refuse[0] = False
        return accepted

    try:
        daemon.source._assignment = {("spans", 0)}
        daemon.source.commit = commit  # type: ignore[method-assign]
        daemon._offsets[("spans", 0)] = 148
        daemon._dirty = True
        daemon._last_checkpoint = time.monotonic() - 1.1
        daemon.step(0)
        assert calls == [{("spans", 0): 148}] and not daemon._dirty
        daemon._last_checkpoint = time.monotonic() - 1.1
        daemon.step(0)  # nothing new, but the commit is still owed
        assert calls == [{("spans", 0): 148}] * 2
        daemon._last_checkpoint = time.monotonic() - 1.1
        daemon.step(0)  # accepted last time: nothing more to send
        assert len(calls) == 2
        assert _saves(daemon) == 1  # the retry commits; it does not save the state again
    finally:
        daemon.store.close()


def test_an_agent_left_without_partitions_says_why(tmp_path: Path, caplog: Any,
                                                    monkeypatch: Any) -> None:
    """Not ready because the group assigned nothing (a member that never left holds the
    partitions until its session times out): a WARNING says so, not silence for minutes."""
    monkeypatch.setattr(daemon_mod, "UNASSIGNED_LOG_S", 0.05)
    daemon = _daemon(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="canarywatch.daemon"):
            daemon.step(0)
            time.sleep(0.1)
            daemon.step(0)
        lines = [r.getMessage() for r in caplog.records if "no partition assigned" in
                 r.getMessage()]
        assert len(lines) == 1
        assert "group canarywatch" in lines[0] and "session_timeout_ms 10000" in lines[0]
        daemon._on_assigned({("otlp_spans", 0)})
        caplog.clear()
        time.sleep(0.1)
        daemon.step(0)
        assert not [r for r in caplog.records if "no partition assigned" in r.getMessage()]
    finally:
        daemon.store.close()
