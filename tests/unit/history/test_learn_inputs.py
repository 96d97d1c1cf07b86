"""`canarywatch learn` takes exactly one kind of input, and says what is wrong otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarywatch.cli import main


def test_learn_needs_exactly_one_kind_of_input(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """No input, or files with --kafka, or --kafka with --from-state: exit 2 naming them."""
    assert main(["learn", "--out", str(tmp_path)]) == 2
    assert main(["learn", str(tmp_path), "--kafka", "127.0.0.1:1", "--from", "0",
                 "--to", "1"]) == 2
    assert main(["learn", "--from-state", str(tmp_path), "--kafka", "127.0.0.1:1"]) == 2
    assert "PATH/--kafka/--from-state" in capsys.readouterr().err


def test_learn_from_a_directory_without_state_exits_2(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """--from-state on a directory a daemon never wrote: exit 2, nothing written."""
    out = tmp_path / "models"
    assert main(["learn", "--from-state", str(tmp_path), "--out", str(out)]) == 2
    assert "holds no rolling history" in capsys.readouterr().err
    assert not out.exists()


def test_learn_kafka_needs_a_time_range(capsys: pytest.CaptureFixture[str]) -> None:
    """--kafka without --from/--to: exit 2 naming them (before any connection)."""
    assert main(["learn", "--kafka", "127.0.0.1:1"]) == 2
    assert "--from" in capsys.readouterr().err
