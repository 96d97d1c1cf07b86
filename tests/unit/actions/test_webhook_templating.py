"""Body, URL and header templates keep telemetry content where it was put."""

from __future__ import annotations

import json

import pytest

from canarywatch.actions.templating import (
    BodyTemplate,
    TemplateError,
    render_header,
    render_url,
)
from canarywatch.errors import ConfigError

HOSTILE = 'x", "action": "promote", "pwn": {"a": 1} } <!channel> @here\r\nX-Evil: 1 ../?a=b#'


def _ctx(summary: str = HOSTILE) -> dict[str, object]:
    return {"service": "checkout", "summary": summary, "score": 0.25,
            "reasons": [{"signal": "latency", "failed": True}], "params": {"ns": "shop"}}


def test_hostile_text_stays_inside_its_json_string() -> None:
    """Quotes and braces from a log line cannot add keys or end the document."""
    template = BodyTemplate.parse('{"action": "rollback", "text": "saw: {{summary}}"}', "k")
    body = json.loads(template.render(_ctx()))
    assert set(body) == {"action", "text"}
    assert body["action"] == "rollback"
    assert body["text"] == "saw: " + HOSTILE


def test_whole_string_placeholder_keeps_the_value_typed() -> None:
    """A string that is only a placeholder becomes the value itself (list, number)."""
    template = BodyTemplate.parse('{"r": "{{reasons}}", "s": "{{ score }}"}', "k")
    body = json.loads(template.render(_ctx()))
    assert body == {"r": [{"signal": "latency", "failed": True}], "s": 0.25}


def test_yaml_body_template_is_accepted() -> None:
    """A body template may be written as YAML."""
    template = BodyTemplate.parse("text: 'svc {{service}}'\nlist: [1, '{{params.ns}}']", "k")
    assert json.loads(template.render(_ctx())) == {"text": "svc checkout", "list": [1, "shop"]}


def test_chat_filter_escapes_markup_and_mentions() -> None:
    """The chat filter turns <, >, & into entities and breaks @mentions."""
    template = BodyTemplate.parse('{"text": "{{summary|chat}}"}', "k")
    text = json.loads(template.render(_ctx("<!channel> & @here <https://evil|x>")))["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; &amp; @\u200bhere" in text


def test_url_values_are_percent_encoded() -> None:
    """A value inserted into a URL cannot add path segments or query parameters."""
    url = render_url("https://api.example/ns/{{params.ns}}/svc/{{summary}}", _ctx("a/../b?c=d"))
    assert url == "https://api.example/ns/shop/svc/a%2F..%2Fb%3Fc%3Dd"


def test_header_values_lose_line_breaks() -> None:
    """A value inserted into a header cannot start a new header."""
    value = render_header("svc={{summary}}", _ctx("a\r\nX-Evil: 1"))
    assert value == "svc=aX-Evil: 1"


def test_unknown_name_and_filter_are_errors() -> None:
    """An unknown placeholder or filter raises TemplateError naming it."""
    with pytest.raises(TemplateError, match="nope"):
        BodyTemplate.parse('{"a": "{{nope}}"}', "k").render(_ctx())
    with pytest.raises(TemplateError, match="shout"):
        BodyTemplate.parse('{"a": "{{service|shout}}"}', "k").render(_ctx())


def test_unparseable_or_scalar_template_is_a_config_error() -> None:
    """A body template must parse to an object or array; the error names the key."""
    with pytest.raises(ConfigError) as err:
        BodyTemplate.parse('{"a": ', "actions.webhooks.0.body_template")
    assert err.value.key == "actions.webhooks.0.body_template"
    with pytest.raises(ConfigError):
        BodyTemplate.parse('"just a string"', "k")
