"""Request templates that telemetry content cannot break out of.

A body template is a JSON (or YAML) *document*, parsed once when the config is loaded.
Placeholders ``{{ name }}`` or ``{{ name | filter }}`` may appear only inside string values:

- a string that is exactly one placeholder is replaced by the value itself, typed (a list of
  reasons stays a list, a score stays a number);
- otherwise each placeholder is replaced by the value's text inside that string.

The filled document is then serialised with :func:`json.dumps`, so whatever a log line or span
name contains (quotes, braces, newlines) always stays inside one JSON string: it can never add
a key or end the document. URL placeholders are percent-encoded; header placeholders lose
control characters (no header splitting). Filters: ``chat`` (escapes ``& < >`` and breaks
``@`` mentions, for Slack / Mattermost / Discord markup), ``json`` (the value as JSON text),
``upper``, ``lower``, ``url``.

Names: ``id``, ``webhook``, ``service``, ``baseline_version``, ``canary_version``, ``action``,
``at``, ``at_unix_nano``, ``score``, ``summary``, ``reasons``, ``verdict`` (the whole verdict
object) and ``params.<key>`` (the webhook's ``params``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import quote

import yaml

from canarywatch.errors import ConfigError

_PLACEHOLDER: Final = re.compile(
    r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)*)\s*(?:\|\s*([a-z_]+)\s*)?\}\}"
)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
CHAT_MAX_CHARS: Final = 1500


class TemplateError(Exception):
    """A placeholder names a value or filter that does not exist."""


def _chat(value: object) -> str:
    text = as_text(value)
    if len(text) > CHAT_MAX_CHARS:
        text = text[: CHAT_MAX_CHARS - 1] + "\u2026"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("@", "@\u200b")


FILTERS: Final[dict[str, Callable[[object], str]]] = {
    "chat": _chat,
    "json": lambda value: json.dumps(value, sort_keys=True),
    "upper": lambda value: as_text(value).upper(),
    "lower": lambda value: as_text(value).lower(),
    "url": lambda value: quote(as_text(value), safe=""),
}


def as_text(value: object) -> str:
    """The text a value takes inside a longer string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def lookup(context: Mapping[str, object], name: str) -> object:
    """The value of a dotted name; raises TemplateError when any part is missing."""
    node: object = context
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise TemplateError(f"unknown template value '{name}'")
        node = node[part]
    return node


def _apply(context: Mapping[str, object], name: str, filter_name: str | None) -> object:
    value = lookup(context, name)
    if filter_name is None:
        return value
    try:
        return FILTERS[filter_name](value)
    except KeyError:
        valid = ", ".join(sorted(FILTERS))
        raise TemplateError(f"unknown filter '{filter_name}' (valid: {valid})") from None


def render_text(text: str, context: Mapping[str, object],
                escape: Callable[[str], str] = lambda s: s) -> str:
    """Replace every placeholder in ``text`` by its value's text, passed through ``escape``."""
    return _PLACEHOLDER.sub(
        lambda m: escape(as_text(_apply(context, m.group(1), m.group(2)))), text)


def render_url(text: str, context: Mapping[str, object]) -> str:
    """Fill a URL template; every inserted value is percent-encoded."""
    return render_text(text, context, lambda s: quote(s, safe=""))


def render_header(text: str, context: Mapping[str, object]) -> str:
    """Fill a header value; inserted values lose control characters (CR/LF included)."""
    return render_text(text, context, lambda s: _CONTROL.sub("", s))


def _fill(node: object, context: Mapping[str, object]) -> object:
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node.strip())
        if whole is not None:
            return _apply(context, whole.group(1), whole.group(2))
        return render_text(node, context)
    if isinstance(node, Mapping):
        return {str(k): _fill(v, context) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_fill(item, context) for item in node]
    return node


class BodyTemplate:
    """A parsed JSON body template; :meth:`render` returns the request body bytes."""

    __slots__ = ("_document",)

    def __init__(self, document: object) -> None:
        self._document = document

    @classmethod
    def parse(cls, text: str, key: str) -> BodyTemplate:
        """Parse ``text`` (JSON or YAML); ConfigError naming ``key`` when it is not a document."""
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(key, f"body template is not valid JSON or YAML: {exc}") from None
        if not isinstance(document, dict | list):
            raise ConfigError(key, "body template must be a JSON object or array")
        return cls(document)

    def render(self, context: Mapping[str, object]) -> bytes:
        """The filled document as compact UTF-8 JSON; TemplateError on an unknown name."""
        filled = _fill(self._document, context)
        return json.dumps(filled, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
