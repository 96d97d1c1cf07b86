"""Endpoint identity: one stable name per operation, whichever semantic-convention version wrote it.

Every decoder reads the same span attribute slots (:data:`SPAN_ATTRIBUTE_SLOTS`; the first
key present decides its slot) and hands the slot texts with the span name to
:meth:`EndpointNames.name`, which picks, in this order:

1. HTTP with a route: method (``http.request.method``, else ``http.method``) + ``http.route``;
2. RPC: ``rpc.service``/``rpc.method`` (or a fully qualified ``rpc.method``, as semconv
   1.37+ writes it without ``rpc.service``);
3. HTTP without a route: method + a path template from ``url.path`` / ``http.target`` /
   ``http.url`` / ``url.full`` or from the path in the span name (``GET /users/48213``,
   ``HTTP GET``);
4. messaging: operation type (``messaging.operation.type``, else ``messaging.operation``;
   ``publish`` is ``send``, ``deliver`` is ``process``) + destination
   (``messaging.destination.name``, else ``messaging.source.name``, else
   ``messaging.destination``): ``process orders``;
5. database: operation + collection (``db.operation.name``/``db.operation`` +
   ``db.collection.name``/``db.sql.table``/...), else ``db.query.summary``;
6. the span name, normalised the same way (``orders process`` -> ``process orders``,
   ``HTTP GET`` -> ``GET``, variable segments templated).

A path template replaces each ``/``-separated segment that fully matches one of the path
rules (ordered ``regex -> placeholder``; default :data:`DEFAULT_PATH_RULES`: UUIDs, numbers,
hex ids, emails, long random tokens) with its placeholder: ``/users/48213`` ->
``/users/{id}``. Templating is cached per raw text and names per slot texts, both bounded, so a
stream of distinct raw paths costs one templating each and no unbounded memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from canarywatch.config import DEFAULT_PATH_RULES

# Slots of the span attributes the decoders read; version keys follow at VERSION_SLOT + rank.
(METHOD, ROUTE, STATUS, RPC_SERVICE, RPC_METHOD, URL_PATH, MSG_OPERATION, MSG_DESTINATION,
 DB_OPERATION, DB_COLLECTION, DB_SUMMARY, VERSION_SLOT) = range(12)

# Key -> slot, in order of preference within a slot (newest convention first).
SPAN_ATTRIBUTE_SLOTS: dict[str, int] = {
    "http.request.method": METHOD,
    "http.method": METHOD,
    "http.route": ROUTE,
    "http.response.status_code": STATUS,
    "http.status_code": STATUS,
    "rpc.service": RPC_SERVICE,
    "rpc.method": RPC_METHOD,
    "url.path": URL_PATH,
    "http.target": URL_PATH,
    "http.url": URL_PATH,
    "url.full": URL_PATH,
    "messaging.operation.type": MSG_OPERATION,
    "messaging.operation": MSG_OPERATION,
    "messaging.destination.name": MSG_DESTINATION,
    "messaging.source.name": MSG_DESTINATION,
    "messaging.destination": MSG_DESTINATION,
    "db.operation.name": DB_OPERATION,
    "db.operation": DB_OPERATION,
    "db.collection.name": DB_COLLECTION,
    "db.sql.table": DB_COLLECTION,
    "db.mongodb.collection": DB_COLLECTION,
    "db.cassandra.table": DB_COLLECTION,
    "db.cosmosdb.container": DB_COLLECTION,
    "db.query.summary": DB_SUMMARY,
}

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                           "TRACE", "PATCH", "_OTHER"})
# Old and new messaging operation names -> the current `messaging.operation.type` value.
_MESSAGING_OPERATIONS = {"publish": "send", "send": "send", "create": "create",
                         "receive": "receive", "process": "process", "deliver": "process",
                         "settle": "settle"}
_MAX_CACHED = 65536


def compile_path_rules(rules: Mapping[str, str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """``regex -> placeholder`` rules compiled; re.error for a bad pattern."""
    return tuple((re.compile(pattern), placeholder) for pattern, placeholder in rules.items())


class EndpointNames:
    """Builds endpoint names from slot texts and the span name; caches are bounded."""

    def __init__(self, path_rules: Mapping[str, str] | None = None) -> None:
        self._rules = compile_path_rules(DEFAULT_PATH_RULES if path_rules is None
                                         else path_rules)
        self._names: dict[tuple[tuple[str | None, ...], str], str] = {}
        self._templates: dict[str, str] = {}

    def name(self, texts: Sequence[str | None], span_name: str) -> str:
        """The endpoint of a span: ``texts[slot]`` is the text of each slot below
        VERSION_SLOT (None where absent or not text)."""
        key = (tuple(texts), span_name)
        found = self._names.get(key)
        if found is None:
            found = self._derive(texts, span_name)
            if len(self._names) >= _MAX_CACHED:
                self._names.clear()
            self._names[key] = found
        return found

    def http(self, method: str, route: str, span_name: str) -> str:
        """The endpoint of a span with a method and a route (the decoders' short path)."""
        texts: list[str | None] = [None] * VERSION_SLOT
        texts[METHOD], texts[ROUTE] = method, route
        return self.name(texts, span_name)

    def template(self, path: str) -> str:
        """A path (or URL, or destination) with its variable segments replaced."""
        found = self._templates.get(path)
        if found is None:
            found = self._template(path)
            if len(self._templates) >= _MAX_CACHED:
                self._templates.clear()
            self._templates[path] = found
        return found

    def _template(self, path: str) -> str:
        if "://" in path:
            path = urlsplit(path).path or "/"
        path = path.split("?", 1)[0].split("#", 1)[0]
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        segments = path.split("/")
        for i, segment in enumerate(segments):
            if segment:
                for pattern, placeholder in self._rules:
                    if pattern.fullmatch(segment):
                        segments[i] = placeholder
                        break
        return "/".join(segments)

    def _derive(self, t: Sequence[str | None], span_name: str) -> str:
        raw_method = t[METHOD]
        method = raw_method.upper() if raw_method else None
        route, path = t[ROUTE], t[URL_PATH]
        if route:
            method = method or _http_name(span_name)[0]
            return f"{method} {self.template(route)}" if method else self.template(route)
        rpc_method, rpc_service = t[RPC_METHOD], t[RPC_SERVICE]
        if rpc_method:
            if rpc_service and "/" not in rpc_method:
                return f"{rpc_service}/{rpc_method}"
            if "/" in rpc_method:
                return rpc_method
        if method or path:
            named_method, named_path = _http_name(span_name)
            method = method or named_method
            path = path or named_path
            if path:
                return f"{method} {self.template(path)}" if method else self.template(path)
            if method:
                return method
        operation, destination = t[MSG_OPERATION], t[MSG_DESTINATION]
        if operation or destination:
            op = _MESSAGING_OPERATIONS.get((operation or "").lower(), operation)
            if destination:
                where = self.template(destination)
                return f"{op} {where}" if op else where
            return op or ""
        db_operation, collection = t[DB_OPERATION], t[DB_COLLECTION]
        if db_operation and collection:
            return f"{db_operation.upper()} {collection}"
        if t[DB_SUMMARY]:
            return str(t[DB_SUMMARY])
        if db_operation:
            return db_operation.upper()
        return self._normalised(span_name)

    def _normalised(self, span_name: str) -> str:
        """The span name alone: HTTP and messaging forms of every version made one."""
        named_method, named_path = _http_name(span_name)
        if named_method:
            return f"{named_method} {self.template(named_path)}" if named_path else named_method
        words = span_name.split()
        if len(words) == 2:  # "orders process" (older) / "process orders" (current)
            first, second = (w.lower() for w in words)
            if second in _MESSAGING_OPERATIONS and first not in _MESSAGING_OPERATIONS:
                return f"{_MESSAGING_OPERATIONS[second]} {self.template(words[0])}"
            if first in _MESSAGING_OPERATIONS:
                return f"{_MESSAGING_OPERATIONS[first]} {self.template(words[1])}"
        return " ".join(self.template(w) for w in words) if words else span_name


def _http_name(span_name: str) -> tuple[str | None, str | None]:
    """(method, path) of an HTTP span name: ``GET``, ``HTTP GET``, ``GET /users/1``."""
    words = span_name.split()
    if words and words[0] == "HTTP" and len(words) > 1:
        words = words[1:]
    if not words or words[0] not in _HTTP_METHODS or len(words) > 2:
        return None, None
    if len(words) == 2:
        return (words[0], words[1]) if words[1].startswith("/") else (None, None)
    return words[0], None
