"""Webhook URLs that are themselves credentials, kept out of the outbox by reference.

A Slack incoming webhook (``https://hooks.slack.com/services/T000/B000/XXXX``), a Discord,
Microsoft Teams or Google Chat webhook, or any URL with a query parameter named like a secret
(``?token=``, ``?sig=``, ``?code=``, see :data:`SECRET_QUERY_WORDS`) lets whoever reads it
post to the receiver. For such a webhook, and for every URL given by ``url_env`` or
``url_file``, the outbox stores :data:`SECRET_URL` followed by the preset's rendered path only
(``secret-url:`` alone for the generic preset); delivery puts the URL back at send time
(:func:`resolve`) from the webhook's :class:`~canarywatch.actions.credentials.Credentials`.
The URL, its path and its query values are registered with :mod:`canarywatch.redact`, so no
log line shows them; metrics and errors name the webhook, never its URL.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

# What the outbox stores in place of a secret webhook URL.
SECRET_URL: Final = "secret-url:"

# Hosts whose webhook URLs carry the credential in their path.
CREDENTIAL_HOSTS: Final = ("hooks.slack.com", "discord.com", "discordapp.com",
                           "chat.googleapis.com", "outlook.office.com")
CREDENTIAL_HOST_SUFFIXES: Final = (".webhook.office.com",)

# A query parameter whose lower-cased name holds one of these is a credential (``code`` is
# Azure Functions' key, ``sig`` an Azure SAS signature).
SECRET_QUERY_WORDS: Final = ("token", "secret", "password", "passwd", "key", "auth", "sig",
                             "code", "credential", "session")


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` removed (what the outbox may store)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def credential_in(url: str) -> str | None:
    """What makes ``url`` a credential (for messages: never the value), or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in CREDENTIAL_HOSTS or host.endswith(CREDENTIAL_HOST_SUFFIXES):
        return f"a {host} webhook path"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if any(word in name.lower() for word in SECRET_QUERY_WORDS):
            return f"the query parameter '{name}'"
    return None


def secret_parts(url: str) -> list[str]:
    """The texts of ``url`` to mask in logs: the URL, its path, its query and its values."""
    parts = urlsplit(url)
    found = [url, parts.path, parts.query]
    found += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    return [text for text in found if text]


def stored(suffix: str) -> str:
    """The outbox form of a secret webhook URL followed by ``suffix`` (a rendered path)."""
    return SECRET_URL + suffix


def resolve(url: str, secret_url: str | None) -> str | None:
    """The URL to send to: ``url`` itself, or a :func:`stored` form with ``secret_url`` put
    back (None when the webhook has no secret URL any more: the row cannot be sent)."""
    if not url.startswith(SECRET_URL):
        return url
    if secret_url is None:
        return None
    suffix = url[len(SECRET_URL):]
    return secret_url.rstrip("/") + suffix if suffix else secret_url
