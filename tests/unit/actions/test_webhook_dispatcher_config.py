"""The dispatcher refuses to start on a bad webhook setup, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from canarywatch.actions.webhooks import WebhookDispatcher
from canarywatch.config import ActionsConfig, WebhookConfig
from canarywatch.errors import ConfigError, StateError
from canarywatch.metrics import create_metrics


def _start(tmp_path: Path, *hooks: WebhookConfig) -> WebhookDispatcher:
    return WebhookDispatcher(ActionsConfig(webhooks=hooks), tmp_path,
                             create_metrics(CollectorRegistry()), environ={})


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    """Two webhooks with one name would share outbox rows: refused on the second's key."""
    hook = WebhookConfig(name="a", url="http://127.0.0.1:9/")
    with pytest.raises(ConfigError) as err:
        _start(tmp_path, hook, hook)
    assert err.value.key == "actions.webhooks.1.name"


def test_missing_secret_stops_the_start(tmp_path: Path) -> None:
    """A webhook whose secret variable is unset does not start without its signature."""
    hook = WebhookConfig(name="a", url="http://127.0.0.1:9/", secret_env="NOT_SET_ANYWHERE")
    with pytest.raises(ConfigError) as err:
        _start(tmp_path, hook)
    assert err.value.key == "actions.webhooks.0.secret_env"


def test_unusable_state_directory_is_a_state_error(tmp_path: Path) -> None:
    """An outbox that cannot be created is a StateError, not a silent in-memory fallback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError):
        _start(blocker / "state")


def test_yaml_on_key_is_read_as_the_trigger_list() -> None:
    """A bare YAML `on:` key (read as boolean true by YAML 1.1) still sets the triggers."""
    data = yaml.safe_load("name: a\nurl: http://x/\non: [promote]\n")
    assert WebhookConfig.model_validate(data).on == ("promote",)
