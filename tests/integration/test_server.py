"""The daemon's HTTP API over real loopback HTTP, asked the way Flagger and Argo ask."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from canarywatch.events import Action, Reason, Signal, Verdict
from canarywatch.metrics import create_metrics
from canarywatch.server import ApiServer, VerdictBoard

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CONFIG = Path(__file__).resolve().parents[2] / "config"
TOKEN = "s3cret-token-0123456789"


def _verdict(service: str, action: Action, canary: str = "1.5.0", at: int = 10) -> Verdict:
    reason = Reason(signal=Signal.LATENCY, summary="p50 of GET /cart up 80 ms",
                    failed=action is Action.ROLLBACK, endpoint="GET /cart")
    return Verdict(service=service, baseline_version="1.4.2", canary_version=canary,
                   action=action, at_unix_nano=at, score=0.3, reasons=(reason,))


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def call(self, method: str, path: str, body: object = None,
             token: str | None = None) -> tuple[int, bytes]:
        conn = HTTPConnection("127.0.0.1", self.port, timeout=5)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: object = None,
             token: str | None = None) -> tuple[int, dict[str, object]]:
        status, raw = self.call(method, path, body, token)
        parsed = json.loads(raw)
        assert isinstance(parsed, dict)
        return status, parsed


@pytest.fixture
def served() -> Iterator[tuple[Client, VerdictBoard, threading.Event]]:
    board, ready = VerdictBoard(), threading.Event()
    registry = CollectorRegistry()
    create_metrics(registry).outbox_depth.set(2)
    server = ApiServer("127.0.0.1:0", board, registry, ready.is_set)
    server.start()
    try:
        yield Client(server.port), board, ready
    finally:
        server.stop()


def flagger_success(status: int) -> bool:
    """How Flagger reads a webhook answer: 200-202 success, anything else failure."""
    return 200 <= status <= 202


def test_health_readiness_and_metrics(served: tuple[Client, VerdictBoard,
                                                    threading.Event]) -> None:
    """/healthz is up, /readyz is 503 until ready, /metrics exposes the registry."""
    client, _, ready = served
    assert client.call("GET", "/healthz")[0] == 200
    assert client.call("GET", "/readyz")[0] == 503
    ready.set()
    assert client.call("GET", "/readyz")[0] == 200
    status, text = client.call("GET", "/metrics")
    assert status == 200
    assert re.search(rb"^canarywatch_outbox_depth 2\.0$", text, re.MULTILINE)
    assert client.call("GET", "/nope")[0] == 404


def test_verdicts_endpoint_lists_current_verdicts(served: tuple[Client, VerdictBoard,
                                                                threading.Event]) -> None:
    """/v1/verdicts returns each canary's current verdict with the verdict JSON fields."""
    client, board, _ = served
    board.send(_verdict("cart", Action.CONTINUE))
    board.send(_verdict("cart", Action.ROLLBACK, at=20))
    board.send(_verdict("auth", Action.PROMOTE))
    status, body = client.json("GET", "/v1/verdicts")
    assert status == 200
    verdicts = body["verdicts"]
    assert isinstance(verdicts, list)
    assert [(v["service"], v["action"]) for v in verdicts] == [("auth", "promote"),
                                                              ("cart", "rollback")]
    assert set(verdicts[1]) == {"type", "service", "baseline_version", "canary_version",
                                "action", "at_unix_nano", "at", "score", "reasons"}


def _flagger_calls() -> list[tuple[str, str, dict[str, object]]]:
    """(hook type, path, payload) for each webhook of the example Canary."""
    canary = yaml.safe_load((CONFIG / "flagger-canary.yaml").read_text(encoding="utf-8"))
    calls = []
    for hook in canary["spec"]["analysis"]["webhooks"]:
        url = urllib.parse.urlsplit(hook["url"])
        payload = {"name": canary["metadata"]["name"],
                   "namespace": canary["metadata"]["namespace"], "phase": "Progressing",
                   "checksum": "6d7f9c", "metadata": hook.get("metadata", {})}
        calls.append((hook["type"], f"{url.path}?{url.query}" if url.query else url.path,
                      payload))
    return calls


@pytest.mark.parametrize(("action", "expected"), [
    (Action.ROLLBACK, {"rollout": False, "rollback": True, "confirm-promotion": False}),
    (Action.CONTINUE, {"rollout": True, "rollback": False, "confirm-promotion": False}),
    (Action.PROMOTE, {"rollout": True, "rollback": False, "confirm-promotion": True}),
    (None, {"rollout": True, "rollback": False, "confirm-promotion": False}),
])
def test_flagger_example_webhooks_answer_as_flagger_expects(
        served: tuple[Client, VerdictBoard, threading.Event], action: Action | None,
        expected: dict[str, bool]) -> None:
    """The example Canary's hooks: failing canary rolled back, healthy one promoted."""
    client, board, _ = served
    if action is not None:
        board.send(_verdict("checkout", action))
    calls = _flagger_calls()
    assert {hook for hook, _, _ in calls} == set(expected)
    for hook, path, payload in calls:
        status, _ = client.call("POST", path, payload)
        assert flagger_success(status) is expected[hook], (hook, status)
        assert status != 204


def test_last_releases_rollback_does_not_answer_for_the_next_release() -> None:
    """With the token, a new Canary checksum hides earlier verdicts until the new canary has one."""
    board = VerdictBoard()
    server = ApiServer("127.0.0.1:0", board, CollectorRegistry(), lambda: True,
                       bearer_token=TOKEN)
    server.start()
    client = Client(server.port)
    board.send(_verdict("checkout", Action.ROLLBACK, canary="1.5.0", at=100))

    def rollback(checksum: str) -> int:
        payload = {"name": "checkout", "namespace": "shop", "phase": "Progressing",
                   "checksum": checksum, "metadata": {"token": TOKEN}}
        return client.call("POST", "/v1/flagger/rollback", payload)[0]

    try:
        assert rollback("rev-1") == 200
        assert rollback("rev-2") == 403  # the next release: 1.5.0's rollback is not about it
        board.send(_verdict("checkout", Action.CONTINUE, canary="1.5.1", at=200))
        assert rollback("rev-2") == 403
        board.send(_verdict("checkout", Action.ROLLBACK, canary="1.5.1", at=300))
        assert rollback("rev-2") == 200
    finally:
        server.stop()


def test_without_a_token_the_next_release_moves_once_its_canary_has_a_verdict(
        served: tuple[Client, VerdictBoard, threading.Event]) -> None:
    """No token: a new checksum waits for the new canary's verdict before hiding a rollback."""
    client, board, _ = served
    board.send(_verdict("checkout", Action.ROLLBACK, canary="1.5.0", at=100))

    def rollback(checksum: str) -> int:
        payload = {"name": "checkout", "namespace": "shop", "checksum": checksum}
        return client.call("POST", "/v1/flagger/rollback", payload)[0]

    assert rollback("rev-1") == 200
    assert rollback("rev-2") == 200  # refused: nothing shows yet that rev-2 is a new release
    board.send(_verdict("checkout", Action.CONTINUE, canary="1.5.1", at=200))
    assert rollback("rev-2") == 403
    board.send(_verdict("checkout", Action.ROLLBACK, canary="1.5.1", at=300))
    assert rollback("rev-2") == 200


def test_flagger_endpoints_refuse_bad_payloads(served: tuple[Client, VerdictBoard,
                                                             threading.Event]) -> None:
    """Bad JSON or a payload without a name is a 400; GET on a Flagger path is a 405."""
    client, _, _ = served
    conn = HTTPConnection("127.0.0.1", client.port, timeout=5)
    conn.request("POST", "/v1/flagger/rollback", body=b"{not json",
                 headers={"Content-Type": "application/json"})
    assert conn.getresponse().status == 400
    conn.close()
    assert client.call("POST", "/v1/flagger/gate", {"namespace": "x"})[0] == 400
    assert client.call("GET", "/v1/flagger/gate")[0] == 405
    assert client.call("POST", "/v1/elsewhere", {"name": "x"})[0] == 404


# --- Argo Rollouts: evaluate the example AnalysisTemplate's conditions on our JSON ----------

_TOKEN = re.compile(r'\s*(&&|\|\||==|!=|"[^"]*"|[A-Za-z_][\w.]*|-?\d+(?:\.\d+)?)')


def _value(token: str, result: object) -> object:
    if token.startswith('"'):
        return token[1:-1]
    if token in ("true", "false"):
        return token == "true"
    if token.startswith("result"):
        node = result
        for part in token.split(".")[1:]:
            assert isinstance(node, dict) and part in node, f"no field {token}"
            node = node[part]
        return node
    return float(token)


def evaluate(condition: str, result: object) -> bool:
    """A small evaluator for `a == b` / `a != b` terms joined by && and || (&& binds first)."""
    tokens = _TOKEN.findall(condition)
    assert "".join(tokens) == condition.replace(" ", ""), f"unsupported: {condition}"
    alternatives = " ".join(tokens).split(" || ")
    for alternative in alternatives:
        ok = True
        for term in alternative.split(" && "):
            left, op, right = term.split(" ")
            equal = _value(left, result) == _value(right, result)
            ok = ok and (equal if op == "==" else not equal)
        if ok:
            return True
    return False


def _json_path(path: str, body: object) -> object:
    inner = path.strip()[1:-1]  # "{$.a.b}" -> "$.a.b"
    node = body
    for part in [p for p in inner.split(".")[1:] if p]:
        assert isinstance(node, dict)
        node = node[part]
    return node


@pytest.mark.parametrize(("action", "outcome"), [
    (Action.ROLLBACK, "Failed"), (Action.CONTINUE, "Successful"),
    (Action.PROMOTE, "Successful"), (None, "Successful")])
def test_argo_endpoint_satisfies_the_example_analysis_template(
        served: tuple[Client, VerdictBoard, threading.Event], action: Action | None,
        outcome: str) -> None:
    """The web metric's JSON meets the example's success or failure condition as it should."""
    client, board, _ = served
    template = yaml.safe_load((CONFIG / "argo-analysistemplate.yaml").read_text("utf-8"))
    metric = template["spec"]["metrics"][0]
    web = metric["provider"]["web"]
    if action is not None:
        board.send(_verdict("checkout", Action.CONTINUE, canary="1.4.9", at=1))
        board.send(_verdict("checkout", action, at=50))
    url = urllib.parse.urlsplit(web["url"].replace("{{ args.service-name }}", "checkout"))
    status, body = client.json("GET", url.path)
    assert status == 200
    result = _json_path(web.get("jsonPath", "{$}"), body)
    success = evaluate(metric["successCondition"], result)
    failure = evaluate(metric["failureCondition"], result)
    assert (success, failure) == (outcome == "Successful", outcome == "Failed")
    if action is not None:
        assert body["canary_version"] == "1.5.0"


def test_bearer_token_protects_the_router_endpoints() -> None:
    """With a token, /v1/ needs it (header, or metadata.token for Flagger); probes stay open."""
    board = VerdictBoard()
    board.send(_verdict("checkout", Action.ROLLBACK))
    server = ApiServer("127.0.0.1:0", board, CollectorRegistry(), lambda: True,
                       bearer_token=TOKEN)
    server.start()
    try:
        client = Client(server.port)
        assert client.call("GET", "/v1/verdicts")[0] == 401
        assert client.call("GET", "/v1/verdicts/checkout", token="wrong")[0] == 401
        assert client.call("GET", "/v1/verdicts/checkout", token=TOKEN)[0] == 200
        payload: dict[str, object] = {"name": "checkout", "namespace": "shop"}
        assert client.call("POST", "/v1/flagger/rollback", payload)[0] == 401
        payload["metadata"] = {"token": TOKEN}
        assert client.call("POST", "/v1/flagger/rollback", payload)[0] == 200
        assert client.call("GET", "/healthz")[0] == 200
        assert client.call("GET", "/metrics")[0] == 200
    finally:
        server.stop()
