"""`canarywatch replay` as a CI gate runs it: exit codes, bad input, inputs and the report."""

from __future__ import annotations

import fcntl
import os
import pty
import random
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from cli_helpers import SCRIPT, run_cli

FAULT = "new_error@60:GET /cart=0.3"


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-minute simulated release whose canary throws a new error from minute one."""
    out = tmp_path_factory.mktemp("incident") / "inc"
    done = run_cli(["simulate", str(out), "--duration-s", "180", "--fault", FAULT])
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-minute simulated release with nothing wrong."""
    out = tmp_path_factory.mktemp("healthy") / "ok"
    assert run_cli(["simulate", str(out), "--duration-s", "120"]).returncode == 0
    return out


def test_closed_stdout_keeps_the_rollback_exit_code(incident: Path) -> None:
    """`replay --json DIR | head -1` and the text report into a closed pipe still exit 3,
    with no BrokenPipeError traceback."""
    with subprocess.Popen([str(SCRIPT), "replay", "--json", str(incident)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does after its line
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    assert first.startswith(b'{"type": "verdict"')
    assert code == 3, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    with subprocess.Popen([str(SCRIPT), "replay", str(incident)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # nobody reads the report at all
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    assert code == 3, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_input_without_telemetry_exits_2_naming_it(tmp_path: Path) -> None:
    """An empty file or an empty directory is bad input (exit 2, named), not 'no canary'."""
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = run_cli(["replay", str(empty)])
    assert result.returncode == 2
    assert f"{empty}: file holds no data" in result.stderr
    assert "no telemetry" in result.stderr
    directory = tmp_path / "nothing"
    directory.mkdir()
    result = run_cli(["replay", str(directory)])
    assert result.returncode == 2
    assert f"{directory}: directory holds no file to read" in result.stderr
    assert "Traceback" not in result.stderr


def test_random_bytes_and_binaries_exit_2(tmp_path: Path) -> None:
    """Random bytes or an executable given as input hold no telemetry: exit 2, each named
    with why, never 'no canary found' with exit 0."""
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(7).randbytes(20000))
    binary = tmp_path / "python"
    shutil.copy(Path(sys.executable).resolve(), binary)
    result = run_cli(["replay", str(noise), str(binary)])
    assert result.returncode == 2, result.stdout
    assert "no telemetry in any input" in result.stderr
    assert f"{noise}: file is binary" in result.stderr
    assert f"{binary}: file content is an executable" in result.stderr
    assert "no canary found" not in result.stdout


def test_unknown_or_equal_versions_exit_2_listing_versions(incident: Path) -> None:
    """--canary 9.9.9 (never seen) and --baseline V --canary V exit 2, each listing the
    versions each service carried and printing no report."""
    unknown = run_cli(["replay", "--baseline", "1.4.2", "--canary", "9.9.9", str(incident)])
    assert unknown.returncode == 2
    assert "--canary 9.9.9 never appeared" in unknown.stderr
    assert "checkout: 1.4.2 (" in unknown.stderr and "1.5.0 (" in unknown.stderr
    assert unknown.stdout == ""
    same = run_cli(["replay", "--baseline", "1.5.0", "--canary", "1.5.0", str(incident)])
    assert same.returncode == 2
    assert "both 1.5.0" in same.stderr
    assert "checkout: 1.4.2 (" in same.stderr and "1.5.0 (" in same.stderr
    assert same.stdout == ""


def test_directories_are_read_recursively_and_skips_reported(incident: Path,
                                                             tmp_path: Path) -> None:
    """A nested directory gives the same verdict and counts as its files; hidden, empty,
    binary and note files (README, LICENSE) are skipped and named with why."""
    root = tmp_path / "collected"
    (root / "spans" / "deep").mkdir(parents=True)
    (root / "logs").mkdir()
    shutil.copy(incident / "traces.jsonl", root / "spans" / "deep")
    shutil.copy(incident / "logs.jsonl", root / "logs")
    (root / ".DS_Store").write_bytes(b"\0\1junk")
    (root / "logs" / "rotated.log").write_bytes(b"")
    (root / "README.md").write_text("# Incident 42\nCollected by the on-call engineer.\n")
    (root / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n")
    shutil.copy(Path(sys.executable).resolve(), root / "python-binary")
    nested = run_cli(["replay", str(root)])
    flat = run_cli(["replay", str(incident / "traces.jsonl"), str(incident / "logs.jsonl")])
    assert nested.returncode == flat.returncode == 3
    assert nested.stdout.splitlines()[0] == flat.stdout.splitlines()[0]  # the event counts
    assert f"{root / '.DS_Store'}: hidden file" in nested.stdout
    assert f"{root / 'logs' / 'rotated.log'}: empty" in nested.stdout
    for note in ("README.md", "LICENSE"):
        assert f"{root / note}: text with no time on any of its first lines" in nested.stdout
    assert f"{root / 'python-binary'}: not telemetry: " in nested.stdout


def test_dash_reads_standard_input(incident: Path) -> None:
    """`replay -` reads stdin (kubectl logs ... | canarywatch replay -) like the file."""
    from_stdin = run_cli(["replay", "--json", "-", str(incident / "logs.jsonl")],
                         stdin=(incident / "traces.jsonl").read_bytes())
    from_file = run_cli(["replay", "--json", str(incident / "traces.jsonl"),
                         str(incident / "logs.jsonl")])
    assert from_stdin.returncode == from_file.returncode == 3
    assert from_stdin.stdout.splitlines()[-1] == from_file.stdout.splitlines()[-1]


def test_bad_log_level_is_a_usage_error(incident: Path) -> None:
    """--log-level LOUD exits 2 with the valid levels, not a traceback."""
    result = run_cli(["replay", "--log-level", "LOUD", str(incident)])
    assert result.returncode == 2
    assert "invalid level 'LOUD'" in result.stderr and "DEBUG" in result.stderr
    assert "Traceback" not in result.stderr
    assert run_cli(["replay", "--log-level", "error", str(incident)]).returncode == 3


def test_report_shows_timeline_and_every_reason(incident: Path) -> None:
    """The text report lists each verdict change with its time and every reason, the top
    ones with examples, the rest after 'and N more'."""
    result = run_cli(["replay", str(incident)])
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    at = lines.index("  timeline:")
    assert "continue" in lines[at + 1] and "rollback" in lines[at + 2]
    assert lines[at + 1].split()[0] < lines[at + 2].split()[0]  # RFC 3339 times, in order
    more = [line for line in lines if line.startswith("  ... and ")]
    assert len(more) == 1
    hidden = int(more[0].split()[2])
    listed = [line for line in lines[lines.index(more[0]) + 1:] if line.startswith("  - ")]
    assert hidden == len(listed) > 0
    json_run = run_cli(["replay", "--json", str(incident)])
    import json

    final = json.loads(json_run.stdout.splitlines()[-1])["verdicts"][0]
    shown = [line for line in lines if line.startswith("  - ")]
    assert len(shown) == len(final["reasons"])  # all of them, none dropped


def test_continue_says_why(healthy: Path) -> None:
    """A canary that stays `continue` is explained (here: healthy so far, not yet promoted)."""
    result = run_cli(["replay", str(healthy)])
    assert result.returncode == 0
    assert "CONTINUE" in result.stdout
    assert "why continue: healthy so far" in result.stdout


def test_ctrl_c_prints_partial_results_and_exits_130(tmp_path: Path) -> None:
    """SIGINT during a replay prints what was decided so far, marked PARTIAL, exit 130.

    The input is 15 minutes of traffic (distinct events: the same file given twice is read
    once), interrupted half a second after the replay starts."""
    long = tmp_path / "hour"
    assert run_cli(["simulate", str(long), "--duration-s", "900"]).returncode == 0
    with subprocess.Popen([str(SCRIPT), "replay", "--log-level", "INFO", str(long)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "replaying" in line:
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out.startswith("PARTIAL: interrupted at event time ")
    assert "events: " in out
    assert "Traceback" not in err


def test_a_file_named_twice_is_read_once(healthy: Path) -> None:
    """`replay ok ok/traces.jsonl`: the same file reached twice counts its events once."""
    once = run_cli(["replay", "--json", str(healthy)])
    twice = run_cli(["replay", "--json", str(healthy), str(healthy / "traces.jsonl")])
    assert twice.returncode == once.returncode == 0
    import json

    counts = [json.loads(r.stdout.splitlines()[-1])["events"] for r in (once, twice)]
    assert counts[0] == counts[1]
    assert "is the same file as" in twice.stderr


def test_progress_on_a_terminal_only(healthy: Path) -> None:
    """Progress (events, event time, rate) goes to stderr when it is a TTY, not otherwise."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    with subprocess.Popen([str(SCRIPT), "replay", str(healthy)], stdout=subprocess.PIPE,
                          stderr=slave) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=120)
    os.close(master)
    shown = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "replay" in shown and "events" in shown and "event time 2026-" in shown
    assert "events/s" in shown
    quiet = run_cli(["replay", str(healthy)])
    assert quiet.stderr == ""
