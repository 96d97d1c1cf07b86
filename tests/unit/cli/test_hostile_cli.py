"""Hostile inputs to the console script: full disks, absurd times, faults and configs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import SCRIPT, run_cli

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


def _to_dev_full(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARYWATCH_")}
    with open("/dev/full", "w") as full:
        return subprocess.run([str(SCRIPT), *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=120, check=False)


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "sim"
    done = run_cli(["simulate", str(out), "--duration-s", "120", "--rps", "10",
                    "--fault", "new_error@40:GET /cart=0.5"])
    assert done.returncode == 0, done.stderr
    return out


@needs_dev_full
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_replay_to_a_full_disk_is_a_one_line_error(incident: Path,
                                                   json_flag: list[str]) -> None:
    done = _to_dev_full(["replay", "--no-progress", *json_flag, str(incident)])
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "canarywatch: cannot write output: No space left on device"]


@needs_dev_full
@pytest.mark.parametrize("args", [["default-config"], ["check-config"],
                                  ["check-config", "--print"]])
def test_other_commands_to_a_full_disk_are_a_one_line_error(args: list[str]) -> None:
    done = _to_dev_full(args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == "canarywatch: cannot write output: No space left on device"


@needs_dev_full
def test_templates_to_a_full_disk_is_a_one_line_error(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"2026-01-01T00:00:{i:02d}Z INFO user {i} logged in\n"
                           for i in range(50)))
    done = _to_dev_full(["templates", str(log)])
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "canarywatch: cannot write output: No space left on device"


@pytest.mark.parametrize("value", ["1e300", "inf", "-5", "9999-12-31T00:00:00Z"])
def test_absurd_time_names_the_option(value: str) -> None:
    done = run_cli(["replay", "--kafka", "127.0.0.1:1", "--from", value, "--to", "1e301"])
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"--from: out of range: '{value}'" in done.stderr


@pytest.mark.parametrize("fault", ["latency@10:=nan", "latency@10:=inf", "latency@10:=-1",
                                   "latency@inf:=2"])
def test_non_finite_or_negative_fault_names_the_spec(tmp_path: Path, fault: str) -> None:
    done = run_cli(["simulate", str(tmp_path / "out"), "--duration-s", "10", "--fault", fault])
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"--fault: '{fault}': " in done.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("analysis:\n  alpha: 0.01\n  alpha: 0.2\n", "duplicate key 'alpha' at line 3"),
    ("analysis:\n  bucket_s: true\n", "analysis.bucket_s: "),
    ("analysis:\n  max_clock_skew_s: .inf\n", "analysis.max_clock_skew_s: "),
    ("server:\n  bearer_token_file: /nonexistent/tok\n",
     "server.bearer_token_file: no such file: /nonexistent/tok"),
])
def test_check_config_refuses_hostile_configs(tmp_path: Path, text: str,
                                              expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    done = run_cli(["check-config", str(path)])
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert expected in done.stderr
