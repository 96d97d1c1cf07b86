"""`canarywatch probe`: ask the local daemon's HTTP API whether it is alive or ready.

The container health check runs it, so it follows the configured ``server.listen`` (config
file and ``CANARYWATCH_*`` variables, exactly as ``canarywatch run`` reads them) instead of a
port written into the image. A wildcard host (``0.0.0.0``, ``::``) is probed on loopback.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

from canarywatch.config import ServerConfig

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1", "": "127.0.0.1"}


def probe_url(server: ServerConfig, path: str) -> str:
    """The URL of ``path`` on the daemon configured by ``server`` (``http://host:port/path``)."""
    host, _, port = server.listen.rpartition(":")
    host = _WILDCARDS.get(host, host).strip("[]")
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


def probe(server: ServerConfig, ready: bool = False, timeout_s: float = 4.0) -> tuple[bool, str]:
    """``(ok, what happened)``: ok when ``/healthz`` (``/readyz`` with ``ready``) answers 200."""
    url = probe_url(server, READY_PATH if ready else HEALTH_PATH)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url}: {reason}"
