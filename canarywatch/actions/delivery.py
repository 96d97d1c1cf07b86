"""One delivery attempt over HTTP(S), and the retry schedule around it.

:func:`attempt` sends a stored :class:`Request`, adding what must not be stored: the
``X-Canarywatch-Signature`` (``sha256=<hex HMAC-SHA256 of the body>``) when a secret is set and
``Authorization: Bearer`` when a token is set (``Basic`` for a ``user:pass@`` URL), the
``secret_headers_env``/``_file`` headers; plus ``Idempotency-Key: <decision id>``.
Redirects are not followed. 2xx is success; 400, 404, 405, 410, 413, 414, 415 and 422 are
permanent (the receiver will never take this body); everything else, timeouts and connection
errors included, is retried with :func:`backoff_s`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import random
import ssl
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit

from canarywatch.actions.credentials import Credentials
from canarywatch.actions.secreturl import resolve
from canarywatch.actions.spec import Request
from canarywatch.config import RetryConfig

PERMANENT_STATUSES: Final = frozenset({400, 404, 405, 410, 413, 414, 415, 422})
# A receiver's Retry-After is honoured up to this bound (a day), never beyond.
MAX_RETRY_AFTER_S: Final = 86_400.0
_MAX_RESPONSE_BYTES: Final = 65_536


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt; ``reason`` is the failure metric's label (``ok`` on success)."""

    ok: bool
    reason: str
    status: int | None = None
    retry_after_s: float | None = None
    permanent: bool = False


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Canarywatch-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def parse_retry_after(value: str | None, now_unix_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, when.timestamp() - now_unix_s), MAX_RETRY_AFTER_S)


def backoff_s(attempts: int, retry: RetryConfig, rng: random.Random,
              retry_after_s: float | None = None) -> float:
    """Delay before the next try after ``attempts`` failed ones.

    Exponential (``base * 2**(attempts-1)``, capped at ``max_delay_s``) with equal jitter (half
    fixed, half uniform), so many agents retrying one receiver do not stay in step; never
    sooner than the receiver's ``Retry-After``.
    """
    ceiling = min(retry.max_delay_s, retry.base_delay_s * 2.0 ** max(0, attempts - 1))
    delay = ceiling / 2 + rng.uniform(0.0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


def _headers(request: Request, credentials: Credentials) -> dict[str, str]:
    headers = dict(request.headers)
    headers["Idempotency-Key"] = request.decision_id
    headers["Content-Length"] = str(len(request.body))
    if credentials.secret is not None:
        headers["X-Canarywatch-Signature"] = sign(credentials.secret, request.body)
    token = credentials.bearer_token()
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    elif credentials.basic_auth is not None:
        encoded = base64.b64encode(credentials.basic_auth.encode("utf-8")).decode("ascii")
        headers["Authorization"] = f"Basic {encoded}"
    headers.update(credentials.secret_headers)
    return headers


def attempt(request: Request, credentials: Credentials, timeout_s: float,
            now_unix_s: float) -> Outcome:
    """Send ``request`` once; never raises for network or HTTP failures."""
    url = resolve(request.url, credentials.secret_url)
    if url is None:  # stored for a secret URL the webhook no longer has
        return Outcome(ok=False, reason="bad_url", permanent=True)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    try:
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port,
                                               timeout=timeout_s,
                                               context=credentials.ssl_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                              timeout=timeout_s)
    except (ValueError, http.client.InvalidURL):
        return Outcome(ok=False, reason="bad_url", permanent=True)
    try:
        conn.request(request.method, path, body=request.body,
                     headers=_headers(request, credentials))
        response = conn.getresponse()
        response.read(_MAX_RESPONSE_BYTES)
        status = response.status
        retry_after = parse_retry_after(response.getheader("Retry-After"), now_unix_s)
    except ssl.SSLError:
        return Outcome(ok=False, reason="tls")
    except TimeoutError:
        return Outcome(ok=False, reason="timeout")
    except (OSError, http.client.HTTPException):
        return Outcome(ok=False, reason="connection")
    finally:
        conn.close()
    if 200 <= status < 300:
        return Outcome(ok=True, reason="ok", status=status)
    return Outcome(ok=False, reason=f"http_{status}", status=status, retry_after_s=retry_after,
                   permanent=status in PERMANENT_STATUSES)
