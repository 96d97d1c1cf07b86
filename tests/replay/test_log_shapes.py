"""Golden replays of the log shapes services really write: JSON lines from a structured
logger, stack traces in logback's JSON encoder (``stack_trace``) and in a plain text log.

Each incident is written as files the way the loggers write them (a baseline and a canary
pod, 90/10 traffic, five minutes), then replayed through `canarywatch replay --json` exactly
as a user runs it."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from canarywatch.cli import main

START = 1_795_000_000  # seconds
DURATION_S = 300
RATE = 20  # lines per second over both pods
HOSTS = ["db-primary", "db-replica"]
FRAMES = [
    "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)",
    "\tat okhttp3.internal.http1.Http1ExchangeCodec.readResponseHeaders("
    "Http1ExchangeCodec.kt:210)",
    "\tat com.shop.pricing.PriceClient.fetch(PriceClient.java:71)",
    "\tat com.shop.cart.CartService.loadPrices(CartService.java:198)",
    "\tat org.apache.catalina.core.ApplicationFilterChain.doFilter("
    "ApplicationFilterChain.java:166)",
]
TIMEOUT = "java.net.SocketTimeoutException: Read timed out"

Line = Callable[[random.Random, int, str], dict[str, object]]


def _ts(second: float) -> str:
    whole = int(second)
    millis = int((second - whole) * 1000)
    return f"2026-11-18T10:{whole // 60 % 60:02d}:{whole % 60:02d}.{millis:03d}Z"


def _trace(frames: list[str], *, head: str = TIMEOUT) -> str:
    return "\n".join([head, *frames, "\t... 42 more"])


def _write(path: Path, canary: Line, baseline: Line, seed: int) -> Path:
    """JSON lines of both pods, in time order; each line's pod picks its writer."""
    rng = random.Random(seed)
    lines = []
    for i in range(DURATION_S * RATE):
        at = i / RATE
        version, writer = ("1.5.0", canary) if rng.random() < 0.1 else ("1.4.2", baseline)
        obj = {"@timestamp": _ts(at), "service": "cart", "version": version,
               **writer(rng, i, version)}
        lines.append(json.dumps(obj))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _info(rng: random.Random, i: int) -> dict[str, object]:
    return {"level": "INFO", "message": f"GET /cart completed in {rng.randint(1, 90)} ms"}


def _replay(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(["replay", "--json", str(path)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    final = lines[-1]["verdicts"]
    assert isinstance(final, list) and len(final) == 1
    return code, final[0]


def _failed_templates(final: dict[str, object]) -> list[str]:
    reasons = final["reasons"]
    assert isinstance(reasons, list)
    return [str(r.get("template")) for r in reasons
            if r.get("failed") and r.get("signal") == "log_signature"]


def _logback(frames: Callable[[random.Random], list[str]], head: str = TIMEOUT) -> Line:
    """Mostly INFO; one request in twenty fails with a logged stack trace."""

    def line(rng: random.Random, i: int, version: str) -> dict[str, object]:
        if rng.random() < 0.05:
            return {"level": "ERROR", "message": "Request processing failed",
                    "stack_trace": _trace(frames(rng), head=head)}
        return _info(rng, i)

    return line


def test_known_error_with_an_extra_stack_frame_is_not_new(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same error at the same rate, its stack one frame deeper in the canary: no rollback."""
    deeper = [*FRAMES[:2], "\tat com.shop.pricing.RetryingClient.call(RetryingClient.java:40)",
              *FRAMES[2:]]
    path = _write(tmp_path / "cart.jsonl", _logback(lambda rng: deeper),
                  _logback(lambda rng: FRAMES), seed=1)
    code, final = _replay(path, capsys)
    assert code == 0, final
    assert final["action"] != "rollback"
    assert _failed_templates(final) == []


def test_new_exception_type_in_the_canary_rolls_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The canary's stack traces name another exception: rollback naming it."""
    path = _write(tmp_path / "cart.jsonl",
                  _logback(lambda rng: FRAMES,
                           head="java.lang.IllegalStateException: price list is not loaded"),
                  _logback(lambda rng: FRAMES), seed=2)
    code, final = _replay(path, capsys)
    assert code == 3
    assert final["action"] == "rollback"
    assert any("IllegalStateException" in t for t in _failed_templates(final))
    reasons = final["reasons"]
    assert isinstance(reasons, list)
    reason = next(r for r in reasons if "IllegalStateException" in str(r.get("template")))
    # Evidence: the application's first frames, not the runtime's.
    assert reason["application_frames"][:2] == [
        "at com.shop.pricing.PriceClient.fetch(PriceClient.java:71)",
        "at com.shop.cart.CartService.loadPrices(CartService.java:198)"]


def _zap(error_message: Callable[[str], str], host: Callable[[random.Random, str], str]) -> Line:
    """A structured logger's JSON lines: INFO requests and a database error now and then."""

    def line(rng: random.Random, i: int, version: str) -> dict[str, object]:
        if rng.random() < 0.05:
            return {"level": "error", "msg": error_message(version),
                    "host": host(rng, version), "port": 5432,
                    "attempt": rng.randint(1, 5)}
        return {"level": "info", "msg": "HTTP request", "method": "GET",
                "path": f"/api/users/{rng.randint(1, 999)}", "status": 200,
                "user": rng.choice(["alice", "bob", "carol"])}

    return line


def test_json_lines_new_error_message_rolls_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON-lines canary that logs a new error message is rolled back, naming the message."""
    writer = _zap(lambda v: "database connection refused" if v == "1.4.2"
                  else "schema migration 42 failed: column cart.total missing",
                  lambda rng, v: rng.choice(HOSTS))
    path = _write(tmp_path / "cart.jsonl", writer, writer, seed=3)
    code, final = _replay(path, capsys)
    assert code == 3
    assert any("schema migration" in t for t in _failed_templates(final))
    # the line's other fields are evidence beside the example, never template text
    reasons = final["reasons"]
    assert isinstance(reasons, list)
    failed = next(r for r in reasons if r.get("failed") and "schema" in str(r.get("template")))
    assert "host" not in str(failed["template"]) and "5432" not in str(failed["template"])
    examples = failed["examples"]
    assert examples and all(e["attributes"]["port"] == "5432" and
                            e["attributes"]["host"] in HOSTS and "msg" not in e["attributes"]
                            and "level" not in e["attributes"] for e in examples)


def test_json_lines_new_host_values_only_are_not_new(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same release whose error lines name only other hosts: no rollback."""
    writer = _zap(lambda v: "database connection refused",
                  lambda rng, v: rng.choice(HOSTS) if v == "1.4.2"
                  else f"db-canary-{rng.choice(['east', 'west'])}")
    path = _write(tmp_path / "cart.jsonl", writer, writer, seed=4)
    code, final = _replay(path, capsys)
    assert code == 0, final
    assert _failed_templates(final) == []


def test_text_log_stack_traces_group_by_exception(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plain-text Java log: each stack trace is one record with its header line, and the
    report's template is the exception, not a frame."""
    case = Path(__file__).parents[1] / "unit" / "templates" / "cases" / "multiline-java-app.log"
    capsys.readouterr()
    code = main(["replay", "--json", "--config", str(_config(tmp_path)), str(case)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = lines[-1]["events"]
    assert isinstance(events, dict)
    text = case.read_text(encoding="utf-8").splitlines()
    assert events["logs"] == sum(not line.startswith((" ", "\t")) for line in text)
    assert code in (0, 3)


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "canarywatch.yaml"
    path.write_text("logs:\n  default_service: cart\n  default_version: 1.4.2\n",
                    encoding="utf-8")
    return path
