"""`canarywatch run` on a real broker keeps each service's baseline history and exports it as
a model file (GET /v1/models, `canarywatch learn --from-state`); a rolled-back canary's
windows stay out of it."""

from __future__ import annotations

import io
import signal
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from canarywatch.cli import main
from canarywatch.history import load_model
from canarywatch.history.store import model_from_json

pytestmark = pytest.mark.integration

CANARY = ("checkout", "1.5.0")
_SERVER = 2  # SpanKind SERVER in OTLP


def _baseline_requests(incident: Any) -> int:
    """Entry spans of 1.4.2 in the incident, counted from the produced messages."""
    n = 0
    for payload in incident.spans:
        for rs in TracesData.FromString(payload).resource_spans:
            attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
            if attrs.get("service.version") == "1.4.2":
                n += sum(1 for ss in rs.scope_spans for s in ss.spans if s.kind == _SERVER)
    return n


def _learn(*args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["learn", *args])
    return code, buf.getvalue()


def test_daemon_exports_the_baseline_history_without_the_rolled_back_canary(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """After the incident: /v1/models/checkout is a valid model of 1.4.2 only (no NPE
    template), and `learn --from-state` writes the same model once the agent has stopped."""
    kafka_kit.create()
    kafka_kit.produce(kafka_kit.spans_topic, incident.spans)
    kafka_kit.produce(kafka_kit.logs_topic, incident.logs)
    state_dir = tmp_path / "state"
    agent = harness.agent(kafka_kit.write_config(
        kafka_kit.config_data(state_dir, commit_interval_s=1.0)))
    harness.until(lambda: agent.verdict_actions().get(CANARY) == "rollback", 90,
                  "a rollback verdict for checkout 1.5.0")

    def settled() -> bool:  # the idle drain has run: two reads a second apart agree
        first = agent.get_json("/v1/models/checkout")
        time.sleep(1.0)
        return first[0] == 200 and agent.get_json("/v1/models/checkout") == first

    harness.until(settled, 60, "the exported history to settle")
    status, listing = agent.get_json("/v1/models")
    assert status == 200
    assert [(m["service"], m["versions"], m["path"]) for m in listing["models"]] == [
        ("checkout", ["1.4.2"], "/v1/models/checkout")]
    _, body = agent.get_json("/v1/models/checkout")
    served = model_from_json(body)
    assert served.versions == ("1.4.2",) and served.exposure == "requests"
    assert served.windows >= 3 and served.window_s == 60.0
    assert 0 < served.requests < _baseline_requests(incident)  # closed windows only
    assert {e.name for e in served.endpoints} >= {"GET /cart", "POST /checkout"}
    assert any("payment gateway timeout" in t.text for t in served.templates)
    assert not any("NullPointerException" in t.text for t in served.templates)
    assert agent.get_json("/v1/models/nosuch")[0] == 404

    running_out = tmp_path / "while-running"  # the state is readable while the agent runs
    code, _ = _learn("--from-state", str(state_dir), "--out", str(running_out))
    assert code == 0 and load_model(running_out / "checkout.model.json").versions == ("1.4.2",)

    agent.signal(signal.SIGTERM)
    assert agent.wait(15) == 0
    out = tmp_path / "models"
    code, printed = _learn("--from-state", str(state_dir), "--out", str(out))
    assert code == 0 and "checkout" in printed
    assert load_model(out / "checkout.model.json") == served
