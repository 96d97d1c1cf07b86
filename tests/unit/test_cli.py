"""Tests for the command line: exit codes and the human report."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarywatch.cli import main
from canarywatch.sim import Fault, Scenario, write_collector_files


def test_missing_input_exits_2_naming_the_path(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is bad input: exit 2 and its name on stderr."""
    missing = tmp_path / "nope.jsonl"
    assert main(["replay", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_bad_config_exits_2_naming_the_key(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A config with a wrong value stops replay with exit 2 and the key's name."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("analysis:\n  persistence: 0\n")
    data = tmp_path / "x.log"
    data.write_text("hello\n")
    assert main(["replay", "--config", str(cfg), str(data)]) == 2
    assert "analysis.persistence" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown commands, unknown flags and half-given roles are usage errors (exit 2)."""
    assert main(["frobnicate"]) == 2
    assert main(["replay", "--no-such-flag", "x"]) == 2
    assert main(["replay", "--baseline", "1.0", "x"]) == 2
    capsys.readouterr()


def test_human_report_names_the_verdict_reason_and_example(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json, replay prints the final verdict, when, and example lines with traces."""
    s = Scenario(duration_s=240.0, seed=41,
                 faults=(Fault("new_error", start_s=60.0, endpoint="GET /cart", magnitude=0.3),))
    files = [str(p) for p in write_collector_files(s, tmp_path)]
    assert main(["replay", *files]) == 3
    out = capsys.readouterr().out
    assert "checkout: canary 1.5.0 vs baseline 1.4.2: ROLLBACK" in out
    assert "NullPointerException" in out
    assert "(trace " in out


def test_templates_command_prints_one_template_per_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`canarywatch templates --json` gives every input line its template, in order."""
    import json

    log = tmp_path / "app.log"
    log.write_text("user 17 logged in from 10.0.0.1\nuser 4242 logged in from 10.9.8.7\n"
                   "disk full on /dev/sda1\n")
    assert main(["templates", "--json", str(log)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3]
    assert rows[0]["template_id"] == rows[1]["template_id"] != rows[2]["template_id"]


def test_fault_spec_parsing() -> None:
    """--fault specs give the fault kind, start, endpoint and magnitude they name."""
    from canarywatch.cli import parse_fault

    fault = parse_fault("new_error@120:GET /cart=0.25")
    assert (fault.kind, fault.start_s, fault.endpoint, fault.magnitude) == \
        ("new_error", 120.0, "GET /cart", 0.25)
    assert parse_fault("latency").magnitude == 2.0
    assert parse_fault("shared_outage@30").start_s == 30.0


def test_simulate_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`simulate` writes files `replay` reads; a bad fault spec exits 2 naming the flag."""
    assert main(["simulate", str(tmp_path / "ok"), "--duration-s", "120", "--format",
                 "proto", "--gzip"]) == 0
    files = capsys.readouterr().out.split()
    assert len(files) == 2 and all(f.endswith(".pb.gz") for f in files)
    assert main(["replay", *files]) == 0
    assert main(["simulate", str(tmp_path / "bad"), "--fault", "latency@soon"]) == 2
    assert "--fault" in capsys.readouterr().err
