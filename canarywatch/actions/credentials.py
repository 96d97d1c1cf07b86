"""Secrets for webhooks and the HTTP server, read from environment variables or files.

Secrets are checked when canarywatch starts (a missing file or variable is a ConfigError
naming the key) and never logged. Bearer token files are read again for every attempt, so a
rotated Kubernetes service-account token is picked up without a restart.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from canarywatch.actions.presets import SERVICE_ACCOUNT_DIR, Preset
from canarywatch.actions.secreturl import credential_in, secret_parts, without_userinfo
from canarywatch.config import WebhookConfig
from canarywatch.errors import ConfigError
from canarywatch.redact import register_secret

logger = logging.getLogger(__name__)


def read_secret(key: str, env: str | None, file: str | None,
                environ: Mapping[str, str] | None = None) -> str | None:
    """The secret named by an env variable or a file (trailing newline removed), or None."""
    if env and file:
        raise ConfigError(key, "set either the _env or the _file form, not both")
    environ = os.environ if environ is None else environ
    if env:
        value = environ.get(env)
        if not value:
            raise ConfigError(f"{key}_env", f"environment variable {env} is not set or empty")
        register_secret(value)
        return value
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{key}_file", f"cannot read {file}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"{key}_file", f"{file} is empty")
        register_secret(value)
        return value
    return None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What one webhook authenticates and verifies with; ``repr`` hides the secrets."""

    secret: bytes | None
    bearer_token_file: str | None
    bearer_token_env_value: str | None
    ca_file: str | None
    # ``user:password`` of a ``https://user:password@host/`` URL, sent as Basic auth.
    basic_auth: str | None = None
    # ``secret_headers_env`` / ``secret_headers_file``, read at start.
    secret_headers: tuple[tuple[str, str], ...] = ()
    # The webhook's URL (without userinfo) when it is a credential (see secreturl).
    secret_url: str | None = None

    def __repr__(self) -> str:
        return (f"Credentials(secret={'set' if self.secret else None}, "
                f"secret_url={'set' if self.secret_url else None}, "
                f"bearer_token_file={self.bearer_token_file!r}, ca_file={self.ca_file!r}, "
                f"basic_auth={'set' if self.basic_auth else None}, "
                f"secret_headers={[name for name, _ in self.secret_headers]!r})")

    def bearer_token(self) -> str | None:
        """The current bearer token (the file is read again each time), or None."""
        if self.bearer_token_env_value:
            return self.bearer_token_env_value
        if self.bearer_token_file is None:
            return None
        try:
            token = Path(self.bearer_token_file).read_text(encoding="utf-8").strip() or None
            register_secret(token)
            return token
        except OSError as exc:
            logger.warning("cannot read bearer token file %s: %s", self.bearer_token_file,
                           exc.strerror)
            return None

    def ssl_context(self) -> ssl.SSLContext:
        """TLS context verifying against ``ca_file`` (or the system store)."""
        return ssl.create_default_context(cafile=self.ca_file)


def load_credentials(config: WebhookConfig, key: str, preset: Preset,
                     environ: Mapping[str, str] | None = None) -> Credentials:
    """Read and check one webhook's secrets; ConfigError naming the key when unusable."""
    secret = read_secret(f"{key}.secret", config.secret_env, config.secret_file, environ)
    token_value = None
    if config.bearer_token_env:
        token_value = read_secret(f"{key}.bearer_token", config.bearer_token_env, None, environ)
    token_file = config.bearer_token_file
    if token_file is not None:
        if config.bearer_token_env:
            raise ConfigError(f"{key}.bearer_token", "set either the _env or the _file form")
        read_secret(f"{key}.bearer_token", None, token_file, environ)
    ca_file = config.ca_file
    if ca_file is not None:
        try:
            ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{key}.ca_file", f"cannot load {ca_file}: {exc}") from None
    if type(preset).uses_service_account:
        sa = Path(SERVICE_ACCOUNT_DIR)
        if token_file is None and token_value is None and (sa / "token").is_file():
            token_file = str(sa / "token")
        if ca_file is None and (sa / "ca.crt").is_file():
            ca_file = str(sa / "ca.crt")
    url = _webhook_url(config, key, environ)
    basic_auth = _url_userinfo(url)
    if basic_auth is not None and (token_file is not None or token_value is not None):
        raise ConfigError(f"{key}.url", "has user:password@ and a bearer token: use one")
    return Credentials(secret=secret.encode("utf-8") if secret else None,
                       bearer_token_file=token_file, bearer_token_env_value=token_value,
                       ca_file=ca_file, basic_auth=basic_auth,
                       secret_headers=_secret_headers(config, key, environ),
                       secret_url=_secret_url(config, key, url))


def _webhook_url(config: WebhookConfig, key: str, environ: Mapping[str, str] | None) -> str:
    """The webhook's URL: ``url``, or read from ``url_env`` / ``url_file`` and checked
    (a ConfigError that never shows the value)."""
    if config.url is not None:
        return config.url
    url = read_secret(f"{key}.url", config.url_env, config.url_file, environ) or ""
    which = f"{key}.url_env" if config.url_env else f"{key}.url_file"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(
            c.isspace() for c in url):
        raise ConfigError(which, "does not hold an http:// or https:// URL (one line)")
    return url


def _secret_url(config: WebhookConfig, key: str, url: str) -> str | None:
    """``url`` without userinfo when it is a credential, masked in logs from now on."""
    found = credential_in(url)
    if config.url is not None and found is None:
        return None
    if config.url is not None:
        logger.warning("%s.url holds a credential (%s): canarywatch keeps it out of the "
                       "outbox, logs and metrics; set url_file or url_env to keep it out of "
                       "the config file too", key, found)
    clean = without_userinfo(url)
    for text in secret_parts(clean):
        register_secret(text)
    return clean


def _url_userinfo(url: str) -> str | None:
    """``user:password`` (percent-decoded) of ``url``, registered as a secret; or None."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    password = unquote(parts.password or "")
    userinfo = f"{unquote(parts.username)}:{password}"
    for secret in (password, parts.password, userinfo):
        register_secret(secret)
    return userinfo


def _secret_headers(config: WebhookConfig, key: str,
                    environ: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for name, env in sorted(config.secret_headers_env.items()):
        if name in config.secret_headers_file:
            raise ConfigError(f"{key}.secret_headers_env.{name}",
                              "also in secret_headers_file: use one")
        value = read_secret(f"{key}.secret_headers_env.{name}", env, None, environ)
        out.append((name, value or ""))
    for name, file in sorted(config.secret_headers_file.items()):
        value = read_secret(f"{key}.secret_headers_file.{name}", None, file, environ)
        out.append((name, value or ""))
    for name, value in out:
        if "\r" in value or "\n" in value:
            raise ConfigError(f"{key}.secret_headers.{name}", "value holds a line break")
    return tuple(out)
