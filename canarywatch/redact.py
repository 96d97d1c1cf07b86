"""Keep secrets out of every log line, whoever logs it (canarywatch, kafka-python, aiohttp).

Every secret canarywatch reads (SASL password, bearer tokens, webhook secrets, URL passwords)
is registered here with :func:`register_secret`. :class:`RedactingFilter`, which the CLI puts
on its log handler, rewrites any record whose text (message, arguments, traceback) holds one
of them, in the forms it takes in logs: as text, inside a ``bytes`` repr (kafka-python logs
its SASL PLAIN ``SaslAuthenticateRequest`` and the raw bytes it sends at DEBUG), as hex and as
base64. SASL ``auth_bytes=b'...'`` values are masked whatever they hold. Secrets shorter than
:data:`MIN_SECRET_CHARS` are not registered (they would mask ordinary words).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from typing import Final

MIN_SECRET_CHARS: Final = 4
MASK: Final = "<redacted>"
_AUTH_BYTES = re.compile(r"""auth_bytes=b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")

_lock = threading.Lock()
_forms: set[str] = set()
_pattern: re.Pattern[str] | None = None


_ESCAPES: Final = {0x5C: "\\\\", 0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _bytes_repr_body(raw: bytes, quote: str) -> str:
    """How ``raw`` reads inside a Python ``bytes`` repr quoted with ``quote``."""
    out = []
    for byte in raw:
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif chr(byte) == quote:
            out.append("\\" + quote)
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def forms_of(secret: str) -> set[str]:
    raw = secret.encode("utf-8")
    forms = {secret, raw.hex(), base64.b64encode(raw).decode("ascii").rstrip("="),
             _bytes_repr_body(raw, "'"), _bytes_repr_body(raw, '"'), repr(secret)[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_CHARS}


def register_secret(secret: str | None) -> None:
    """Mask ``secret`` in every log record from now on (no-op for None or short values)."""
    global _pattern  # noqa: PLW0603  # one process-wide set, as logging itself is
    if not secret or len(secret) < MIN_SECRET_CHARS:
        return
    with _lock:
        new = forms_of(secret) - _forms
        if not new:
            return
        _forms.update(new)
        ordered = sorted(_forms, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(f) for f in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret and SASL ``auth_bytes`` value masked."""
    if "auth_bytes=" in text:
        text = _AUTH_BYTES.sub("auth_bytes=" + MASK, text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites records holding a secret (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the formatter's to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
