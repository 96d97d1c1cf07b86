"""Secrets come from env or files, are checked at start, and never show in repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarywatch.actions.credentials import load_credentials, read_secret
from canarywatch.actions.presets import GenericPreset
from canarywatch.config import WebhookConfig
from canarywatch.errors import ConfigError


def _config(**fields: object) -> WebhookConfig:
    return WebhookConfig.model_validate({"name": "w", "url": "http://x/", **fields})


def test_secret_from_env_or_file() -> None:
    """The env form reads the variable; the file form strips the trailing newline."""
    assert read_secret("k", "HOOK_SECRET", None, {"HOOK_SECRET": "abc"}) == "abc"


def test_secret_file_is_read_and_stripped(tmp_path: Path) -> None:
    """A secret file's trailing newline is not part of the secret."""
    path = tmp_path / "secret"
    path.write_text("abc\n")
    assert read_secret("k", None, str(path), {}) == "abc"


def test_missing_secrets_name_their_key(tmp_path: Path) -> None:
    """An unset variable, a missing or empty file, or both forms set, is a ConfigError."""
    key = "actions.webhooks.0.secret"
    with pytest.raises(ConfigError) as err:
        load_credentials(_config(secret_env="NOPE"), "actions.webhooks.0", GenericPreset({}), {})
    assert err.value.key == f"{key}_env"
    with pytest.raises(ConfigError) as err:
        load_credentials(_config(secret_file=str(tmp_path / "none")), "actions.webhooks.0",
                         GenericPreset({}), {})
    assert err.value.key == f"{key}_file"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        read_secret(key, None, str(empty), {})
    with pytest.raises(ConfigError, match="not both"):
        read_secret(key, "A", str(empty), {"A": "x"})


def test_bad_ca_file_is_a_config_error(tmp_path: Path) -> None:
    """A ca_file that is not a certificate stops the start with its key."""
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError) as err:
        load_credentials(_config(ca_file=str(bad)), "actions.webhooks.3", GenericPreset({}), {})
    assert err.value.key == "actions.webhooks.3.ca_file"


def test_repr_hides_the_secret() -> None:
    """Logging a Credentials object never prints the secret or token."""
    creds = load_credentials(_config(secret_env="S", bearer_token_env="T"), "k",
                             GenericPreset({}), {"S": "hunter2", "T": "tok-xyz"})
    assert creds.secret == b"hunter2" and creds.bearer_token() == "tok-xyz"
    assert "hunter2" not in repr(creds) and "tok-xyz" not in repr(creds)
