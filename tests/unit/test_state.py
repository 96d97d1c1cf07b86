"""StateStore: the pipeline snapshot and its offsets, saved together and durably."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from canarywatch.errors import StateError
from canarywatch.state import DB_NAME, StateStore


def _save(state_dir: Path, snapshot: dict[str, object]) -> None:
    store = StateStore(state_dir)
    store.save(snapshot, {})
    store.close()


def test_first_start_has_no_snapshot_and_no_offsets(tmp_path: Path) -> None:
    """A new state directory loads as 'nothing saved yet'."""
    store = StateStore(tmp_path / "state")
    saved = store.load()
    store.close()
    assert saved.snapshot is None
    assert dict(saved.offsets) == {}
    assert (tmp_path / "state" / DB_NAME).is_file()


def test_saved_snapshot_and_offsets_survive_reopening(tmp_path: Path) -> None:
    """What one process saves, the next process loads, snapshot and offsets alike."""
    store = StateStore(tmp_path)
    snapshot = {"version": 1, "counts": {"spans": 12, "logs": 3}, "pending": [{"a": [1, 2.5]}]}
    store.save(snapshot, {("otlp_spans", 0): 41, ("otlp_logs", 2): 7},
               topic_ids={"otlp_spans": "id-s", "otlp_logs": "id-l"}, saved_at_unix_nano=5)
    store.close()
    saved = StateStore(tmp_path).load()
    assert saved.snapshot == snapshot
    assert dict(saved.offsets) == {("otlp_spans", 0): 41, ("otlp_logs", 2): 7}
    assert dict(saved.topic_ids) == {"otlp_spans": "id-s", "otlp_logs": "id-l"}
    assert saved.saved_at_unix_nano == 5


def test_each_save_replaces_all_offsets(tmp_path: Path) -> None:
    """A save is the whole truth: a partition (or topic id) it leaves out is forgotten."""
    store = StateStore(tmp_path)
    store.save({"n": 1}, {("a", 0): 10, ("b", 0): 20}, topic_ids={"a": "1", "b": "2"})
    store.save({"n": 2}, {("a", 0): 15}, topic_ids={"a": "1"})
    saved = store.load()
    assert saved.snapshot == {"n": 2}
    assert dict(saved.offsets) == {("a", 0): 15}
    assert dict(saved.topic_ids) == {"a": "1"}


def test_failed_save_leaves_previous_state_whole(tmp_path: Path) -> None:
    """A save that fails half way (unserialisable snapshot) changes neither snapshot nor offsets."""
    store = StateStore(tmp_path)
    store.save({"n": 1}, {("a", 0): 10})
    with pytest.raises(TypeError):
        store.save({"n": object()}, {("a", 0): 99})
    saved = store.load()
    assert saved.snapshot == {"n": 1}
    assert dict(saved.offsets) == {("a", 0): 10}


def test_database_uses_wal_and_full_sync(tmp_path: Path) -> None:
    """The store runs SQLite in WAL mode, so a crash mid-write never tears the last save."""
    _save(tmp_path, {"n": 1})
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_corrupt_snapshot_is_a_state_error(tmp_path: Path) -> None:
    """A snapshot body that does not decompress to JSON raises StateError, not a crash."""
    _save(tmp_path, {"n": 1})
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("UPDATE snapshot SET body = ?", (b"not zlib",))
    db.commit()
    with pytest.raises(StateError, match="corrupt"):
        StateStore(tmp_path).load()


def test_state_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    """A state directory written by an incompatible version is refused with a clear message."""
    StateStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.commit()
    with pytest.raises(StateError, match="schema 999"):
        StateStore(tmp_path)


def test_unwritable_state_dir_is_a_state_error(tmp_path: Path) -> None:
    """A state directory that cannot be created raises StateError naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError, match="file"):
        StateStore(blocker / "state")


def test_a_second_store_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    """Two agents can never share one state directory; the lock goes with the first store."""
    first = StateStore(tmp_path)
    with pytest.raises(StateError, match="in use"):
        StateStore(tmp_path)
    first.close()
    StateStore(tmp_path).close()
