"""`canarywatch demo`: the README's first command, end to end on a local broker."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("CANARYWATCH_TEST_KAFKA")),
                       reason="the demo starts its own local broker"),
]


def skip_or_fail(reason: str) -> None:
    """Skip without a broker binary, except in CI where that must fail."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_demo_shows_the_rollback_with_its_reasons_and_exits_0() -> None:
    """The demo prints the continue -> rollback change with the new ERROR, then exits 0."""
    from canarywatch.broker import BrokerError, broker_binary
    from canarywatch.demo import run_demo

    try:
        broker_binary()
    except BrokerError as exc:
        skip_or_fail(str(exc))
    out = io.StringIO()
    assert run_demo(out=out) == 0
    text = out.getvalue()
    assert "checkout 1.5.0 (baseline 1.4.2): CONTINUE -> ROLLBACK" in text
    assert "log_signature: new ERROR template" in text
    assert "NullPointerException" in text
    assert "the canary's fault was caught" in text


def test_demo_json_output_is_verdict_lines_then_a_summary() -> None:
    """With --json the demo writes NDJSON: verdict changes, then one summary line."""
    from canarywatch.broker import BrokerError, broker_binary
    from canarywatch.demo import run_demo

    try:
        broker_binary()
    except BrokerError as exc:
        skip_or_fail(str(exc))
    out = io.StringIO()
    assert run_demo(json_output=True, out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["type"] for line in lines[:-1]] == ["verdict"] * (len(lines) - 1)
    assert lines[-2]["action"] == "rollback"
    summary = lines[-1]
    assert summary["type"] == "summary"
    assert [v["action"] for v in summary["verdicts"]] == ["rollback"]
    assert summary["events"]["rejected"] == 0


def test_blue_green_demo_from_any_directory_is_judged_against_the_example_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`canarywatch demo --blue-green` run outside the source tree finds models/ and rolls
    1.5.0 back against 1.4.2's history, naming it."""
    from canarywatch.broker import BrokerError, broker_binary
    from canarywatch.cli import main

    try:
        broker_binary()
    except BrokerError as exc:
        skip_or_fail(str(exc))
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--blue-green"]) == 0
    text = capsys.readouterr().out
    assert "models/checkout.model.json (15 minutes of 1.4.2's history)" in text
    assert "checkout 1.5.0 (baseline 1.4.2 (history)): CONTINUE -> ROLLBACK" in text
    assert "never seen in 15 minutes of 1.4.2's history" in text


def test_blue_green_demo_without_a_model_exits_2_before_starting_a_broker(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--models naming a directory without checkout's model: exit 2 naming --models."""
    from canarywatch.cli import main

    assert main(["demo", "--blue-green", "--models", str(tmp_path)]) == 2
    err = capsys.readouterr()
    assert "--models" in err.err and "no model of 'checkout'" in err.err
    assert "starting a local Kafka-protocol broker" not in err.out
