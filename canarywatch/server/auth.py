"""Who may ask the HTTP API: the bearer token, and the rule that off loopback there is one.

- ``server.bearer_token_file`` (or ``_env``) holds the token, at least
  :data:`MIN_TOKEN_CHARS` characters (``openssl rand -hex 32`` makes a good one).
- Listening on anything but a loopback address without a token is refused at start
  (:func:`check_listen`, ConfigError naming ``server.bearer_token_file``), unless the operator
  passes ``--insecure-no-auth``; then every start logs a warning saying the API is open.
- :class:`TokenFile` re-reads ``server.bearer_token_file`` when the file changes (checked at
  most every :data:`RELOAD_CHECK_S`), so a rotated token (a new Kubernetes Secret version, a
  file rewritten in place) applies without a restart; a new content that is not a valid token
  is refused with an error in the log, and the previous token stays in force.
- :func:`token_matches` compares SHA-256 digests with :func:`hmac.compare_digest`, so neither
  the content nor the length of the token leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import time

from canarywatch.actions.credentials import read_secret
from canarywatch.config import ServerConfig
from canarywatch.errors import ConfigError

logger = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
RELOAD_CHECK_S = 1.0
HOW_TO_SET = ("write a token to a file (for example `openssl rand -hex 32 > token`) and set "
              "server.bearer_token_file (CANARYWATCH_SERVER__BEARER_TOKEN_FILE) to its path; "
              "or listen on 127.0.0.1; or pass --insecure-no-auth to serve the verdict and "
              "Flagger endpoints to anyone who can reach them")


def load_bearer_token(config: ServerConfig) -> str | None:
    """The server's bearer token from ``server.bearer_token_env`` / ``_file``, or None.

    ConfigError when the variable or file is unset, unreadable, empty or too short.
    """
    try:
        token = read_secret("server.bearer_token", config.bearer_token_env,
                            config.bearer_token_file)
    except ConfigError as exc:
        raise ConfigError(exc.key, f"{exc.message}; {HOW_TO_SET}") from None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        key = "server.bearer_token_env" if config.bearer_token_env else "server.bearer_token_file"
        raise ConfigError(key, f"the token must be at least {MIN_TOKEN_CHARS} characters "
                               "(for example `openssl rand -hex 32`)")
    return token


class TokenFile:
    """The bearer token of ``config.bearer_token_file``, read again when the file changes.

    :meth:`current` stats the file at most every ``check_s`` seconds and reloads it when its
    inode, size or modification time changed (Kubernetes swaps a Secret's files by renaming
    a directory symlink, which changes the inode). Not thread-safe: one event loop uses it.
    """

    def __init__(self, config: ServerConfig, check_s: float = RELOAD_CHECK_S) -> None:
        if not config.bearer_token_file:
            raise ValueError("TokenFile needs server.bearer_token_file")
        self._config = config
        self._path = config.bearer_token_file
        self._check_s = check_s
        self._stamp = self._stat()
        token = load_bearer_token(config)
        assert token is not None
        self._token = token
        self._checked_at = time.monotonic()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def current(self) -> str:
        """The token in force (see the class docstring)."""
        now = time.monotonic()
        if now - self._checked_at < self._check_s:
            return self._token
        self._checked_at = now
        stamp = self._stat()
        if stamp == self._stamp:
            return self._token
        self._stamp = stamp
        try:
            token = load_bearer_token(self._config)
        except ConfigError as exc:
            logger.error("bearer token file changed but cannot be used (%s: %s); the previous "
                         "token stays in force", exc.key, exc.message.partition(";")[0])
            return self._token
        if token is not None and token != self._token:
            self._token = token
            logger.info("bearer token reloaded from %s", self._path)
        return self._token


def is_loopback(listen: str) -> bool:
    """True when ``HOST:PORT`` binds only a loopback address (``localhost`` included)."""
    host = listen.rpartition(":")[0].strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere


def check_listen(config: ServerConfig, token: str | None, insecure_no_auth: bool) -> None:
    """Refuse (ConfigError) a non-loopback ``server.listen`` without a token, unless
    ``insecure_no_auth``, in which case warn (at every start)."""
    if token is not None:
        return
    if not insecure_no_auth:
        if is_loopback(config.listen):
            return
        raise ConfigError("server.bearer_token_file",
                          f"server.listen {config.listen} is not a loopback address, so the "
                          f"HTTP API needs a bearer token: {HOW_TO_SET}")
    logger.warning("--insecure-no-auth: the HTTP API on %s answers verdict reads and Flagger "
                   "hooks without a token; anyone who can reach it can read verdicts and "
                   "move Flagger revisions", config.listen)


def token_matches(offered: str | None, token: str) -> bool:
    """Constant-time check of an offered token against the configured one."""
    if offered is None:
        return False
    a = hashlib.sha256(offered.encode("utf-8", "surrogateescape")).digest()
    b = hashlib.sha256(token.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)
