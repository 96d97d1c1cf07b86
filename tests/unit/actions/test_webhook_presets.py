"""Presets make the requests their routers expect; bad webhook config names its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from canarywatch.actions.spec import WebhookSpec, decision_id
from canarywatch.config import WebhookConfig, validate
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Reason, Signal, Verdict

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config" / "webhooks"
KEY = "actions.webhooks.0"


def _verdict(action: Action = Action.ROLLBACK, summary: str = "new ERROR template") -> Verdict:
    reason = Reason(signal=Signal.LOG_SIGNATURE, summary=summary, failed=True,
                    template="payment <*> failed", baseline_count=0, canary_count=12)
    return Verdict(service="checkout", baseline_version="1.4.2", canary_version="1.5.0",
                   action=action, at_unix_nano=1_795_000_312_000_000_000, score=0.0,
                   reasons=(reason,))


def _spec(**fields: object) -> WebhookSpec:
    data: dict[str, object] = {"name": "w", "url": "http://127.0.0.1:9/hook"}
    data.update(fields)
    return WebhookSpec(WebhookConfig.model_validate(data), KEY)


def test_generic_body_is_the_verdict_json_plus_id() -> None:
    """The generic preset posts every verdict field and the decision id."""
    verdict = _verdict()
    request = _spec().render(verdict, "cwd-1")
    body = json.loads(request.body)
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/hook"
    assert body == {"id": "cwd-1", **verdict.to_json()}
    assert body["at"] == "2026-11-18T11:11:52Z"  # date -u -d @1795000312
    assert ("Content-Type", "application/json") in request.headers


def test_flagger_loadtester_opens_the_rollback_gate() -> None:
    """A rollback opens /rollback/open for the Canary; a promote closes the gate."""
    spec = _spec(preset="flagger-loadtester", url="http://loadtester.test/",
                 params={"namespace": "shop"}, on=["change"])
    opened = spec.render(_verdict(), "cwd-1")
    assert opened.url == "http://loadtester.test/rollback/open"
    assert json.loads(opened.body) == {"name": "checkout", "namespace": "shop"}
    closed = spec.render(_verdict(Action.PROMOTE), "cwd-2")
    assert closed.url == "http://loadtester.test/rollback/close"


def test_argo_abort_patches_the_rollout_status() -> None:
    """The Argo preset merge-patches status.abort on the Rollout's status subresource."""
    spec = _spec(preset="argo-rollouts-abort", url="https://k8s.example:6443",
                 params={"namespace": "shop", "rollout": "checkout-ro"})
    request = spec.render(_verdict(), "cwd-1")
    assert request.method == "PATCH"
    assert request.url == ("https://k8s.example:6443/apis/argoproj.io/v1alpha1/namespaces/shop"
                           "/rollouts/checkout-ro/status")
    assert json.loads(request.body) == {"status": {"abort": True}}
    assert ("Content-Type", "application/merge-patch+json") in request.headers


def test_nginx_preset_sets_canary_weight_to_zero() -> None:
    """The NGINX preset merge-patches the canary Ingress's canary-weight annotation to "0"."""
    spec = _spec(preset="nginx-canary-weight", url="https://k8s.example",
                 params={"namespace": "shop", "ingress": "checkout-canary"})
    request = spec.render(_verdict(), "cwd-1")
    assert request.method == "PATCH"
    assert request.url == ("https://k8s.example/apis/networking.k8s.io/v1/namespaces/shop"
                           "/ingresses/checkout-canary")
    annotations = json.loads(request.body)["metadata"]["annotations"]
    assert annotations == {"nginx.ingress.kubernetes.io/canary-weight": "0"}


def test_chat_message_is_one_escaped_line() -> None:
    """The chat preset posts {"text": ...} naming service, versions, action and the reason."""
    spec = _spec(preset="chat", on=["change"])
    text = json.loads(spec.render(_verdict(summary="boom <@U123>"), "cwd-9").body)["text"]
    assert "ROLLBACK" in text and "checkout" in text and "1.5.0" in text and "cwd-9" in text
    assert "boom &lt;@\u200bU123&gt;" in text
    discord = _spec(preset="chat", params={"field": "content"})
    assert set(json.loads(discord.render(_verdict(), "x").body)) == {"content"}


def test_triggers_follow_on_and_what_the_preset_can_do() -> None:
    """`on` picks actions ("change" = all); Kubernetes presets only act on rollback."""
    assert _spec().wants(Action.ROLLBACK) and not _spec().wants(Action.PROMOTE)
    every = _spec(on=["change"])
    assert all(every.wants(a) for a in Action)
    argo = _spec(preset="argo-rollouts-abort", on=["change"], params={"namespace": "n"})
    assert argo.wants(Action.ROLLBACK) and not argo.wants(Action.PROMOTE)


def test_unknown_preset_lists_the_valid_names() -> None:
    """An unknown preset is a ConfigError on its key listing every preset."""
    with pytest.raises(ConfigError) as err:
        _spec(preset="pagerduty")
    assert err.value.key == f"{KEY}.preset"
    for name in ("generic", "flagger-loadtester", "argo-rollouts-abort",
                 "nginx-canary-weight", "chat"):
        assert name in str(err.value)


def test_missing_or_unknown_params_name_the_key() -> None:
    """Required params must be set, and misspelt ones are refused."""
    with pytest.raises(ConfigError) as err:
        _spec(preset="nginx-canary-weight", params={"namespace": "shop"})
    assert err.value.key == f"{KEY}.params.ingress"
    with pytest.raises(ConfigError) as err:
        _spec(preset="argo-rollouts-abort", params={"namespace": "shop", "rolout": "x"})
    assert err.value.key == f"{KEY}.params.rolout"


def test_bad_url_template_and_headers_are_config_errors() -> None:
    """A non-HTTP URL, an unknown placeholder or a reserved header stops the start."""
    with pytest.raises(ConfigError, match="http"):
        _spec(url="ftp://example/")
    with pytest.raises(ConfigError, match="nope"):
        _spec(body_template='{"a": "{{nope}}"}')
    with pytest.raises(ConfigError) as err:
        _spec(headers={"Authorization": "Bearer x"})
    assert err.value.key == f"{KEY}.headers.Authorization"


def test_custom_template_and_headers_are_rendered() -> None:
    """A body template replaces the preset body; header placeholders are filled."""
    spec = _spec(body_template='{"svc": "{{service}}", "p": "{{params.team}}"}',
                 headers={"X-Service": "{{service}}"}, params={"team": "pay"})
    request = spec.render(_verdict(), "cwd-1")
    assert json.loads(request.body) == {"svc": "checkout", "p": "pay"}
    assert ("X-Service", "checkout") in request.headers


def test_decision_id_depends_on_the_decision_only() -> None:
    """Same service, release and action give the same id at any event time; another
    action or release, another id."""
    base = _verdict()
    again = Verdict(**{**{f: getattr(base, f) for f in base.__slots__}, "score": 0.7})
    assert decision_id(again) == decision_id(base)
    later = Verdict(**{**{f: getattr(base, f) for f in base.__slots__},
                       "at_unix_nano": base.at_unix_nano + 40_000_000_000})
    assert decision_id(later) == decision_id(base)  # re-derived after a restart, later
    assert decision_id(_verdict(Action.PROMOTE)) != decision_id(base)
    other_release = Verdict(**{**{f: getattr(base, f) for f in base.__slots__},
                               "canary_version": "9.9.9"})
    assert decision_id(other_release) != decision_id(base)


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_example_webhook_configs_are_valid(path: Path) -> None:
    """Every example in config/webhooks/ validates and compiles to webhooks."""
    config = validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert config.actions.webhooks
    for index, webhook in enumerate(config.actions.webhooks):
        WebhookSpec(webhook, f"actions.webhooks.{index}")


def test_there_is_an_example_for_each_preset() -> None:
    """config/webhooks/ shows every preset."""
    presets: set[str] = set()
    for path in CONFIG_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        presets.update(w.get("preset", "generic") for w in data["actions"]["webhooks"])
    assert presets == {"generic", "flagger-loadtester", "argo-rollouts-abort",
                       "nginx-canary-weight", "chat"}
