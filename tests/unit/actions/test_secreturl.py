"""Which webhook URLs are credentials, and how the stored reference is put back."""

from __future__ import annotations

import pytest

from canarywatch.actions.secreturl import credential_in, resolve, stored


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "https://discord.com/api/webhooks/123/abc",
    "https://acme.webhook.office.com/webhookb2/x/IncomingWebhook/y/z",
    "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t",
    "https://ci.example/hook?token=abc",
    "https://fn.azurewebsites.net/api/hook?code=abc",
    "https://x.example/h?X-Api-Key=1",
])
def test_credential_urls_are_recognised(url: str) -> None:
    """Chat webhooks and secret-named query parameters make a URL a credential."""
    assert credential_in(url) is not None


@pytest.mark.parametrize("url", [
    "https://ci.example/hook", "https://ci.example/hook?env=prod&service=cart",
    "http://127.0.0.1:8080/v1/rollback"])
def test_ordinary_urls_are_not_credentials(url: str) -> None:
    """A URL without such a host or parameter is stored as it is."""
    assert credential_in(url) is None


def test_the_reference_resolves_with_the_preset_path() -> None:
    """The stored form names no part of the URL and resolves to URL + rendered path."""
    base = "https://hooks.slack.com/services/T000/B000/XXXX"
    assert "XXXX" not in stored("/rollback")
    assert resolve(stored(""), base) == base
    assert resolve(stored("/rollback"), base + "/") == base + "/rollback"
    assert resolve("https://plain.example/x", None) == "https://plain.example/x"
    assert resolve(stored("/x"), None) is None
