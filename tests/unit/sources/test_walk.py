"""The replay directory walk: recursive, every skip with its reason, logs never skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarywatch.errors import InputError
from canarywatch.sources.walk import expand_inputs, skip_reason


def test_every_loghub_log_is_read(loghub_dir: Path) -> None:
    """None of the 14 real log formats of loghub-2k is taken for a note and skipped."""
    files = sorted(loghub_dir.glob("*/*_2k.log"))
    assert len(files) >= 14
    assert {f.name: skip_reason(f) for f in files} == {f.name: None for f in files}


def test_walk_recurses_and_reports_skips(tmp_path: Path) -> None:
    """Subdirectories are read (sorted); hidden entries, empty files and notes are skipped
    with why; a directory with nothing to read is an InputError naming what was skipped."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "app.log").write_text("2026-11-20T10:00:00Z INFO started\n")
    (tmp_path / "a" / "z.log").write_text("2026-11-20T10:00:01Z ERROR boom\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "NOTES.txt").write_text("remember to rotate the keys\n")
    (tmp_path / "empty.log").write_text("")
    inputs = expand_inputs([tmp_path])
    assert inputs.files == (tmp_path / "a" / "z.log", tmp_path / "a" / "b" / "app.log")
    reasons = {s.path.name: s.reason for s in inputs.skipped}
    assert reasons[".git"] == "hidden directory"
    assert reasons["empty.log"] == "empty"
    assert reasons["NOTES.txt"].startswith("text with no time")
    only_notes = tmp_path / "notes"
    only_notes.mkdir()
    (only_notes / "README").write_text("see the wiki\n")
    with pytest.raises(InputError, match=r"directory holds no file to read.*README"):
        expand_inputs([only_notes])
