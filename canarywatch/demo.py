"""``canarywatch demo``: a faulty canary, end to end, on this machine, in well under a minute.

A local Kafka-protocol broker (Tansu, from the optional ``demo`` extra) is started; the
example incident (5 minutes of ``checkout`` traffic; from 2 minutes the 1.5.0 canary throws a
new ERROR on ``GET /cart``) is made by the real OpenTelemetry SDK, encoded as the collector's
Kafka exporter encodes it and produced at replay speed; the daemon's own loop consumes it with
the HTTP API up, printing each verdict change with its reasons as it happens. Then everything
stops.

Exit code: 0 when the demo worked, that is when the injected fault was caught (rollback);
1 if it was not (that would be a canarywatch bug); 2 if the broker cannot be started. Unlike
``replay``, a rollback is the expected outcome of a demo, not a finding about real software,
so it does not make the README's first command "fail".
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from prometheus_client import CollectorRegistry

from canarywatch import config as config_mod
from canarywatch.broker import BrokerError, LocalBroker, create_topics
from canarywatch.daemon import Daemon
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Verdict
from canarywatch.metrics import create_metrics
from canarywatch.sim.examples import EXAMPLE_INCIDENT
from canarywatch.sim.generator import generate_batches
from canarywatch.sim.scenario import Scenario
from canarywatch.sources.base import PayloadKind

log = logging.getLogger(__name__)

SPANS_TOPIC = "otlp_spans"
LOGS_TOPIC = "otlp_logs"
DEADLINE_S = 90.0


class _Printer:
    """A verdict sink that prints each change with its reasons (or NDJSON lines)."""

    def __init__(self, out: TextIO, scenario: Scenario, as_json: bool) -> None:
        self._out = out
        self._start_ns = scenario.start_unix_nano
        self._json = as_json
        self._last: dict[tuple[str, str], Action] = {}

    def send(self, verdict: Verdict) -> None:
        if self._json:
            self._out.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
            self._out.flush()
            return
        before = self._last.get(verdict.key)
        self._last[verdict.key] = verdict.action
        offset_s = max(0, verdict.at_unix_nano - self._start_ns) // 1_000_000_000
        change = (f"{before.value} -> {verdict.action.value}" if before
                  else verdict.action.value)
        self._out.write(f"[t+{offset_s // 60:d}:{offset_s % 60:02d} event time] "
                        f"{verdict.service} {verdict.canary_version} (baseline "
                        f"{verdict.baseline_version}): {change.upper()}, score "
                        f"{verdict.score:.2f}\n")
        for reason in verdict.reasons:
            if reason.failed or verdict.action is not Action.ROLLBACK:
                self._out.write(f"    - {reason.signal.value}: {reason.summary}\n")
        self._out.flush()


class _Feeder(threading.Thread):
    """Produces the scenario to Kafka as fast as it goes; remembers each topic's end offset."""

    def __init__(self, bootstrap: str, scenario: Scenario) -> None:
        super().__init__(name="demo-producer", daemon=True)
        self._servers = bootstrap
        self._scenario = scenario
        self.end_offsets: dict[tuple[str, int], int] = {}
        self.messages = 0
        self.error: Exception | None = None
        self.done = threading.Event()

    def run(self) -> None:
        from kafka import KafkaProducer  # noqa: PLC0415  (slow import, only needed here)

        topics = {PayloadKind.OTLP_SPANS: SPANS_TOPIC, PayloadKind.OTLP_LOGS: LOGS_TOPIC}
        try:
            producer = KafkaProducer(bootstrap_servers=self._servers, compression_type="gzip",
                                     linger_ms=20, max_request_size=16 * 1024 * 1024)
            futures = [producer.send(topics[kind], payload)
                       for kind, payload in generate_batches(self._scenario)]
            producer.flush(timeout=60)
            for future in futures:
                meta = future.get(timeout=30)
                key = (meta.topic, meta.partition)
                self.end_offsets[key] = max(self.end_offsets.get(key, 0), meta.offset + 1)
            self.messages = len(futures)
            producer.close()
        except Exception as exc:  # reported by run_demo, which owns the exit code
            self.error = exc
        finally:
            self.done.set()


def example_models_dir() -> Path:
    """The source tree's ``models/`` (the example model of checkout 1.4.2), found from the
    package, so the demo works from any directory."""
    return Path(__file__).resolve().parent.parent / "models"


def check_models(models_dir: Path, service: str) -> str:
    """What the blue-green demo judges against: ``models_dir``'s model of ``service``,
    described (``15 minutes of 1.4.2's history``). ConfigError naming ``--models`` when
    there is none, before any broker starts."""
    from canarywatch.history import ModelError, load_models  # noqa: PLC0415 (sklearn)

    try:
        models = load_models(models_dir)
    except ModelError as exc:
        raise ConfigError("--models", f"{exc} (the example model is models/checkout.model."
                                      "json in the source tree; `canarywatch learn` makes "
                                      "one)") from None
    model = models.get(service)
    if model is None:
        raise ConfigError("--models", f"{models_dir} has no model of {service!r} (it has: "
                                      f"{', '.join(sorted(models)) or 'none'})")
    return model.describe()


def run_demo(json_output: bool = False, out: TextIO | None = None,
             scenario: Scenario = EXAMPLE_INCIDENT, models_dir: Path | None = None) -> int:
    """Run the demo; see the module docstring for what it does and its exit codes.

    ``models_dir``: the blue-green demo. The new version takes all the traffic at once (no
    live baseline) and is judged against the learned model of 1.4.2 in that directory.
    """
    out = out if out is not None else sys.stdout
    history = ""
    if models_dir is not None:
        scenario = replace(scenario, canary_share=1.0)
        history = check_models(models_dir, scenario.service)

    def say(text: str) -> None:
        if not json_output:
            print(text, file=out, flush=True)

    started = time.monotonic()
    say("canarywatch demo: starting a local Kafka-protocol broker (Tansu) ...")
    try:
        broker = LocalBroker()
        broker.start()
    except BrokerError as exc:
        print(f"canarywatch demo: {exc}", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="canarywatch-demo-") as state_dir:
            return _run(broker.bootstrap_servers, Path(state_dir), scenario, out=out,
                        json_output=json_output, say=say, started=started,
                        models_dir=models_dir, history=history)
    finally:
        broker.stop()


def _run(bootstrap: str, state_dir: Path, scenario: Scenario, *, out: TextIO,
         json_output: bool, say: Callable[[str], None], started: float,
         models_dir: Path | None = None, history: str = "") -> int:
    from canarywatch.server import ApiServer, VerdictBoard  # noqa: PLC0415

    create_topics(bootstrap, [SPANS_TOPIC, LOGS_TOPIC])
    cfg = config_mod.validate({
        "kafka": {"bootstrap_servers": bootstrap, "group_id": "canarywatch-demo",
                  "session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
                  "max_poll_interval_ms": 10000, "commit_interval_s": 1.0},
        "server": {"listen": "127.0.0.1:0"},
        "state_dir": str(state_dir),
        "models": {"dir": None if models_dir is None else str(models_dir)},
    })
    registry = CollectorRegistry()
    metrics = create_metrics(registry)
    board = VerdictBoard()
    daemon = Daemon(cfg, metrics, sinks=(board, _Printer(out, scenario, json_output)))
    server = ApiServer(cfg.server.listen, board, registry, daemon.ready)
    server.start()
    feeder = _Feeder(bootstrap, scenario)
    say(f"broker on {bootstrap}; HTTP API on http://127.0.0.1:{server.port} "
        "(/v1/verdicts, /metrics, /readyz)")
    if models_dir is not None:
        say(f"blue-green: {scenario.canary_version} takes all of {scenario.service}'s traffic, "
            f"no live baseline; judged against {models_dir / (scenario.service + '.model.json')}"
            f" ({history}). {scenario.duration_s / 60:.0f} minutes of traffic through the "
            "OpenTelemetry SDK; the new version has a fault.")
    else:
        say(f"producing {scenario.duration_s / 60:.0f} minutes of {scenario.service} traffic "
            f"({scenario.baseline_version} baseline, {scenario.canary_version} canary at "
            f"{scenario.canary_share:.0%}) through the OpenTelemetry SDK; the canary has a "
            "fault.")
    say("watching (event time runs as fast as the machine goes):")
    try:
        daemon.restore()
        feeder.start()
        daemon.connect()
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            daemon.step(200)
            if feeder.error is not None:
                raise BrokerError(f"producing the demo data failed: {feeder.error}")
            if feeder.done.is_set() and _caught_up(daemon.offsets, feeder.end_offsets):
                break
        else:
            say("canarywatch demo: gave up waiting for the data after "
                f"{DEADLINE_S:.0f}s")
        with daemon.lock:
            result = daemon.pipeline.finish()
        verdicts_json = _get_json(f"http://127.0.0.1:{server.port}/v1/verdicts")
    finally:
        daemon.close()
        server.stop()
    counts = result.counts
    if json_output:
        out.write(json.dumps(result.summary_json(), ensure_ascii=False) + "\n")
    else:
        say(f"\nread {feeder.messages} Kafka messages: {counts.spans} spans, {counts.logs} "
            f"log records, {counts.rejected} rejected, in {time.monotonic() - started:.1f}s")
        say(f"GET /v1/verdicts -> {json.dumps(verdicts_json)[:300]}...")
    if result.rollback:
        say("the canary's fault was caught: rollback. (Run `canarywatch run` against your "
            "own collector's Kafka topics next.)")
        return 0
    print("canarywatch demo: the injected fault was NOT detected (a canarywatch bug)",
          file=sys.stderr)
    return 1



def _caught_up(position: dict[tuple[str, int], int], ends: dict[tuple[str, int], int]) -> bool:
    return all(position.get(key, 0) >= end for key, end in ends.items())


def _get_json(url: str) -> object:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            return json.loads(response.read())
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}
