"""One webhook, compiled from config: which actions fire it and the request each one makes.

Everything here is pure: :meth:`WebhookSpec.render` turns a verdict and its decision id into a
:class:`Request` (method, URL, headers, body bytes). Secrets are *not* part of a request; the
delivery step adds the signature, bearer token, Basic credentials of a ``user:pass@`` URL and
``secret_headers_env``/``_file`` at send time, so nothing secret is written to the outbox:
the stored URL has no userinfo, a URL that is itself a credential is stored as a reference
(:mod:`canarywatch.actions.secreturl`), and a plain header whose name looks secret (see
:data:`SECRET_HEADER_WORDS`) is a ConfigError pointing at the reference forms.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlsplit

from canarywatch import __version__
from canarywatch.actions.presets import PRESETS, Preset
from canarywatch.actions.secreturl import credential_in, stored, without_userinfo
from canarywatch.actions.templating import (
    BodyTemplate,
    TemplateError,
    render_header,
    render_url,
)
from canarywatch.config import WebhookConfig
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Reason, Signal, Verdict

_HEADER_NAME: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# Headers canarywatch sets itself; a config may not override them.
RESERVED_HEADERS: Final = frozenset(
    {"idempotency-key", "x-canarywatch-signature", "authorization", "content-length", "host"}
)


# A plain header whose lower-cased name holds one of these is refused: name it in
# secret_headers_env / secret_headers_file instead.
SECRET_HEADER_WORDS: Final = ("token", "secret", "password", "passwd", "key", "auth",
                              "cookie", "signature", "credential", "session")


@dataclass(frozen=True, slots=True)
class Request:
    """One rendered delivery, as stored in the outbox (no secrets in it)."""

    webhook: str
    decision_id: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def decision_id(verdict: Verdict) -> str:
    """Stable id of a decision: derived from what was decided (service, the release's
    baseline and canary versions, action), not from when, so re-deriving it after a restart
    at another event time gives the same id."""
    raw = "\x1f".join((verdict.service, verdict.baseline_version, verdict.canary_version,
                       verdict.action.value))
    return "cwd-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def release_id(service: str, canary_version: str) -> str:
    """Stable id of the release of a latched rollback of one canary (``cwr-`` + 32 hex
    digits of SHA-256 over service and canary version): released once, whatever restarts."""
    raw = "\x1f".join((service, canary_version, "release"))
    return "cwr-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def summary_of(verdict: Verdict) -> str:
    """One line: the failing reasons' summaries, or the first reason, or a default."""
    failed = [r.summary for r in verdict.reasons if r.failed]
    if failed:
        return "; ".join(failed)
    if verdict.reasons:
        return verdict.reasons[0].summary
    return "no failing signal"


def context(verdict: Verdict, decision: str, webhook: str,
            params: dict[str, str]) -> dict[str, object]:
    """The values a template can name (see :mod:`canarywatch.actions.templating`)."""
    as_json = verdict.to_json()
    return {
        "id": decision,
        "webhook": webhook,
        "service": verdict.service,
        "baseline_version": verdict.baseline_version,
        "canary_version": verdict.canary_version,
        "action": verdict.action.value,
        "at": as_json["at"],
        "at_unix_nano": verdict.at_unix_nano,
        "score": verdict.score,
        "summary": summary_of(verdict),
        "reasons": as_json["reasons"],
        "verdict": {"id": decision, **as_json},
        "params": params,
    }


_SAMPLE_REASON = Reason(signal=Signal.LOG_SIGNATURE, summary="sample", failed=True)


def _sample(action: Action) -> Verdict:
    return Verdict(service="svc", baseline_version="1", canary_version="2", action=action,
                   at_unix_nano=1, score=0.0, reasons=(_SAMPLE_REASON,))


class WebhookSpec:
    """A validated webhook: construction raises ConfigError naming the bad key."""

    def __init__(self, config: WebhookConfig, key: str) -> None:
        self.config = config
        self.key = key
        self.name = config.name
        preset_cls = PRESETS.get(config.preset)
        if preset_cls is None:
            valid = ", ".join(sorted(PRESETS))
            raise ConfigError(f"{key}.preset",
                              f"unknown preset '{config.preset}' (valid: {valid})")
        self.preset: Preset = preset_cls(config.params)
        self._check_params(preset_cls)
        if config.body_template is not None:
            self.body = BodyTemplate.parse(config.body_template, f"{key}.body_template")
        else:
            self.body = BodyTemplate(self.preset.body())
        self.method = config.method or preset_cls.method
        self._headers = self._check_headers()
        # The URL is a credential: given by reference, or one that lets its reader post.
        self.secret_url = config.url is None or credential_in(config.url) is not None
        if self.secret_url and config.url is not None and "{" in config.url:
            raise ConfigError(f"{key}.url", f"holds a credential ({credential_in(config.url)})"
                                            " and a template: a secret URL is sent as given")
        self._check_renders()
        latches = preset_cls.release_path is not None
        if config.release_latch and not latches:
            raise ConfigError(f"{key}.release_latch",
                              f"preset '{preset_cls.name}' does not latch a rollback")
        # Whether a rollback sent here stays until released (see release_request).
        self.latches = latches and config.release_latch is not False

    def release_request(self, rollback: Verdict, decision: str) -> Request:
        """The request that releases the latch ``rollback`` set (the preset's release path,
        e.g. the Flagger load tester's ``/rollback/close``), under id ``decision``."""
        return self.render(replace(rollback, action=Action.CONTINUE), decision)

    def _check_params(self, preset_cls: type[Preset]) -> None:
        for name in preset_cls.required_params:
            if not self.config.params.get(name):
                raise ConfigError(f"{self.key}.params.{name}",
                                  f"required by preset '{preset_cls.name}'")
        known = preset_cls.known_params
        if known is not None and self.config.body_template is None:
            for name in self.config.params:
                if name not in known:
                    raise ConfigError(f"{self.key}.params.{name}",
                                      f"unknown param (valid: {', '.join(sorted(known))})")

    def _check_headers(self) -> tuple[tuple[str, str], ...]:
        headers: list[tuple[str, str]] = []
        has_type = False
        for name, value in self.config.headers.items():
            if not _HEADER_NAME.match(name):
                raise ConfigError(f"{self.key}.headers.{name}", "not a valid header name")
            if name.lower() in RESERVED_HEADERS:
                raise ConfigError(f"{self.key}.headers.{name}",
                                  "set by canarywatch (use bearer_token_file / secret_file)")
            if any(word in name.lower() for word in SECRET_HEADER_WORDS):
                raise ConfigError(f"{self.key}.headers.{name}",
                                  "looks secret: name its env variable in secret_headers_env "
                                  "or its file in secret_headers_file (never stored in clear)")
            has_type = has_type or name.lower() == "content-type"
            headers.append((name, value))
        if not has_type:
            headers.append(("Content-Type", self.preset.content_type))
        headers.append(("User-Agent", f"canarywatch/{__version__}"))
        return tuple(headers)

    def _check_renders(self) -> None:
        for action in Action:
            if not self.preset.applies(action):
                continue
            try:
                request = self.render(_sample(action), "cwd-sample")
            except TemplateError as exc:
                raise ConfigError(self.key, str(exc)) from None
            if self.secret_url:
                continue  # checked where it is read (load_credentials)
            parts = urlsplit(request.url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"{self.key}.url", "must be an http:// or https:// URL")

    def wants(self, action: Action) -> bool:
        """Whether a verdict changing to ``action`` fires this webhook."""
        triggers = self.config.on
        fired = "change" in triggers or action.value in triggers
        return fired and self.preset.applies(action)

    def render(self, verdict: Verdict, decision: str) -> Request:
        """The request for one decision; raises TemplateError on an unknown template name."""
        params = self.preset.params_for(verdict)
        ctx = context(verdict, decision, self.name, params)
        path = self.preset.path_for(verdict.action)
        if self.secret_url:  # the URL is put back at send time (secreturl.resolve)
            url = stored(render_url(path, ctx))
        else:
            assert self.config.url is not None
            base = without_userinfo(self.config.url)  # the credentials are added at send time
            url = render_url((base.rstrip("/") if path else base) + path, ctx)
        headers = tuple((name, render_header(value, ctx)) for name, value in self._headers)
        return Request(webhook=self.name, decision_id=decision, method=self.method, url=url,
                       headers=headers, body=self.body.render(ctx))
