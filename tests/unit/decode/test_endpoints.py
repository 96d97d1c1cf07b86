"""Endpoint identity across semantic-convention versions, through every decoder path."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from opentelemetry import trace
from otel_sdk_helpers import Sdk, traces_json, traces_proto

from canarywatch.config import DEFAULT_VERSION_KEYS, load
from canarywatch.decode.endpoints import EndpointNames
from canarywatch.decode.otlp_json import JsonDecoder
from canarywatch.decode.otlp_proto import ProtoDecoder
from canarywatch.errors import ConfigError

MakeSdk = Callable[..., Sdk]
SERVER, CONSUMER, CLIENT = trace.SpanKind.SERVER, trace.SpanKind.CONSUMER, trace.SpanKind.CLIENT
Span = tuple[str, Mapping[str, Any], trace.SpanKind]

# (what, older convention span, newer convention span, the endpoint both must give)
TABLE: list[tuple[str, Span, Span, str]] = [
    ("http route",
     ("/users/{id}", {"http.method": "GET", "http.route": "/users/{id}",
                      "http.target": "/users/7", "http.status_code": 200}, SERVER),
     ("GET /users/{id}", {"http.request.method": "GET", "http.route": "/users/{id}",
                          "url.path": "/users/7", "http.response.status_code": 200}, SERVER),
     "GET /users/{id}"),
    ("http no route",
     ("HTTP GET", {"http.method": "GET", "http.target": "/users/48213?page=2",
                   "http.status_code": 200}, SERVER),
     ("GET", {"http.request.method": "GET", "url.path": "/users/7",
              "http.response.status_code": 200}, SERVER),
     "GET /users/{id}"),
    ("raw path in the span name",
     ("GET /users/48213", {"http.method": "GET", "http.status_code": 500}, SERVER),
     ("GET /users/7/", {}, SERVER),
     "GET /users/{id}"),
    ("uuid and hex ids",
     ("HTTP GET", {"http.method": "GET",
                   "http.target": "/orders/3f2b8c1e-9a4d-4e0b-8f43-1c2d3e4f5a6b/items/deadbeef01"},
      SERVER),
     ("GET", {"http.request.method": "GET",
              "url.path": "/orders/00000000-1111-2222-3333-444444444444/items/9f86d081884c7d65"},
      SERVER),
     "GET /orders/{id}/items/{id}"),
    ("emails and tokens",
     ("HTTP POST", {"http.method": "POST", "http.target": "/accounts/ana@example.com/reset/"
                    "eyJhbGciOiJIUzI1NiJ9x7Qz"}, SERVER),
     ("POST", {"http.request.method": "POST", "url.path": "/accounts/bo.li@shop.example.org/"
               "reset/Zm9vYmFyYmF6cXV4MTIzNDU2"}, SERVER),
     "POST /accounts/{email}/reset/{token}"),
    ("full url",
     ("HTTP PUT", {"http.method": "put", "http.url": "https://shop.example.com/carts/12?x=1"},
      SERVER),
     ("PUT", {"http.request.method": "PUT", "url.full": "https://shop.example.com/carts/99"},
      SERVER),
     "PUT /carts/{id}"),
    ("rpc",
     ("shop.Cart/Get", {"rpc.system": "grpc", "rpc.service": "shop.Cart", "rpc.method": "Get"},
      SERVER),
     ("shop.Cart/Get", {"rpc.system.name": "grpc", "rpc.method": "shop.Cart/Get"}, SERVER),
     "shop.Cart/Get"),
    ("messaging consumer",
     ("orders process", {"messaging.system": "kafka", "messaging.operation": "process",
                         "messaging.destination.name": "orders"}, CONSUMER),
     ("process orders", {"messaging.system": "kafka", "messaging.operation.type": "process",
                         "messaging.operation.name": "process",
                         "messaging.destination.name": "orders"}, CONSUMER),
     "process orders"),
    ("messaging consumer, pre-1.17 keys",
     ("orders process", {"messaging.operation": "process", "messaging.destination": "orders"},
      CONSUMER),
     ("process orders", {"messaging.operation.type": "process",
                         "messaging.destination.name": "orders"}, CONSUMER),
     "process orders"),
    ("messaging consumer, 1.17 source name",
     ("orders process", {"messaging.operation": "process", "messaging.source.name": "orders"},
      CONSUMER),
     ("process orders", {"messaging.operation.type": "process",
                         "messaging.destination.name": "orders"}, CONSUMER),
     "process orders"),
    ("messaging 1.24 deliver",
     ("orders deliver", {"messaging.operation": "deliver",
                         "messaging.destination.name": "orders"}, CONSUMER),
     ("process orders", {"messaging.operation.type": "process",
                         "messaging.destination.name": "orders"}, CONSUMER),
     "process orders"),
    ("messaging producer",
     ("orders publish", {"messaging.operation": "publish",
                         "messaging.destination.name": "orders"}, trace.SpanKind.PRODUCER),
     ("send orders", {"messaging.operation.type": "send",
                      "messaging.destination.name": "orders"}, trace.SpanKind.PRODUCER),
     "send orders"),
    ("messaging names only",
     ("orders process", {"messaging.system": "rabbitmq"}, CONSUMER),
     ("process orders", {"messaging.system": "rabbitmq"}, CONSUMER),
     "process orders"),
    ("database",
     ("SELECT shop.orders", {"db.system": "postgresql", "db.operation": "SELECT",
                             "db.sql.table": "orders"}, CLIENT),
     ("SELECT orders", {"db.system.name": "postgresql", "db.operation.name": "SELECT",
                        "db.collection.name": "orders", "db.query.summary": "SELECT orders"},
      CLIENT),
     "SELECT orders"),
    ("mongodb",
     ("users.find", {"db.system": "mongodb", "db.operation": "find",
                     "db.mongodb.collection": "users"}, CLIENT),
     ("find users", {"db.system.name": "mongodb", "db.operation.name": "find",
                     "db.collection.name": "users"}, CLIENT),
     "FIND users"),
]


def _endpoints(sdk: MakeSdk, spans: list[Span], **decoder: Any) -> dict[str, list[str]]:
    """The endpoint of each span through the lean, full, batch and JSON decoder paths."""
    s = sdk()
    for name, attributes, kind in spans:
        s.request(name, attributes, kind=kind)
    proto = traces_proto(s.spans)
    decoders = (ProtoDecoder(DEFAULT_VERSION_KEYS, **decoder),
                JsonDecoder(DEFAULT_VERSION_KEYS, **decoder))
    lean = [e.endpoint for e in decoders[0].spans(proto)]
    batch = decoders[0].span_batch(proto)
    return {
        "lean": lean, "full": [e.endpoint for e in decoders[0].spans_full(proto)],
        "batch": [e.endpoint if hasattr(e, "endpoint") else e[4]  # type: ignore[union-attr,index]
                  for e in batch.events],
        "json": [e.endpoint for e in decoders[1].spans(json.loads(json.dumps(
            traces_json(s.spans))))],
    }


@pytest.mark.parametrize(("what", "older", "newer", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_old_and_new_conventions_give_one_endpoint(sdk: MakeSdk, what: str, older: Span,
                                                   newer: Span, expected: str) -> None:
    """Spans of one request written by an older and a newer convention share one endpoint."""
    entry = older[2] in (SERVER, CONSUMER)  # only entry spans are rows of a batch
    for path, found in _endpoints(sdk, [older, newer]).items():
        assert found == ([expected, expected] if entry or path != "batch" else []), (what, path)


def test_path_rules_are_configurable(sdk: MakeSdk) -> None:
    """Custom path rules replace the defaults: a SKU segment templated, numbers kept."""
    rules = {"SKU-[0-9]+": "{sku}"}
    spans: list[Span] = [("GET", {"http.request.method": "GET", "url.path": "/p/SKU-123/7"},
                          SERVER)]
    for path, found in _endpoints(sdk, spans, path_rules=rules).items():
        assert found == ["GET /p/{sku}/7"], path


def test_bad_path_rule_is_a_config_error_naming_the_key(tmp_path: Any) -> None:
    """A path rule that is not a regular expression stops start-up naming the key."""
    config = tmp_path / "c.yaml"
    config.write_text("analysis:\n  endpoint_path_rules: {'[0-9': '{id}'}\n")
    with pytest.raises(ConfigError, match=r"analysis\.endpoint_path_rules"):
        load(config, environ={})


def test_plain_words_and_routes_are_left_alone() -> None:
    """Words, versions and route placeholders are not variable segments."""
    names = EndpointNames()
    assert names.template("/v2/cart/items/{id}") == "/v2/cart/items/{id}"
    assert names.template("/search/apples") == "/search/apples"
    assert names.template("/") == "/"
    assert names.name([None] * 11, "checkout-worker tick") == "checkout-worker tick"
    assert names.name([None] * 11, "HTTP GET") == "GET"


def test_caches_stay_bounded_with_distinct_raw_paths() -> None:
    """100,000 distinct raw paths that no rule templates keep both caches bounded."""
    names = EndpointNames()
    texts: list[str | None] = [None] * 11
    for i in range(100_000):
        texts[0], texts[5] = "GET", f"/search/{_word(i)}"
        names.name(texts, "GET")
    assert len(names._names) <= 65536
    assert len(names._templates) <= 65536


def _word(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        i, r = divmod(i, 26)
        out += letters[r]
        if i == 0:
            return out
