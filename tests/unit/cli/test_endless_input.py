"""Endless or binary standard input (``/dev/zero``, ``/dev/urandom``) is refused from its
first bytes with exit 2, instead of being spooled or read as one endless line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_helpers import SCRIPT


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("command", [["replay", "-"], ["templates", "-"]])
def test_an_endless_binary_stdin_is_refused_at_once(device: str, command: list[str]) -> None:
    with Path(device).open("rb") as endless:
        done = subprocess.run([str(SCRIPT), *command], stdin=endless, capture_output=True,
                              text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "binary_content" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_of_nul_bytes_is_refused_by_templates_and_replay(tmp_path: Path) -> None:
    """A zeroed file (a disk block lost in a crash) is no telemetry, not 16,000 empty frames."""
    zeros = tmp_path / "traces.pb"
    zeros.write_bytes(bytes(200_000))
    for command in (["templates", str(zeros)], ["replay", str(zeros)]):
        done = subprocess.run([str(SCRIPT), *command], capture_output=True, text=True, check=False,
                              timeout=60)
        assert done.returncode == 2, done.stderr
        assert "only NUL bytes" in done.stderr or "none decodable" in done.stderr
