"""One exception hierarchy; each exception carries the data needed to act on it."""

from __future__ import annotations

from canarywatch.rejects import RejectReason


class CanarywatchError(Exception):
    """Base of every error canarywatch raises on purpose."""


class ConfigError(CanarywatchError):
    """A setting is missing or wrong. ``key`` is its dotted path (``analysis.min_samples``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


class InputError(CanarywatchError):
    """An input cannot be used at all (missing file, unknown format)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class DecodeError(CanarywatchError):
    """One record could not be decoded. ``origin`` says where it came from.

    ``origin`` is ``file:line`` for files (``file@offset`` for binary files) and
    ``topic:partition:offset`` for Kafka. The record is counted under ``reason``, logged and
    skipped.
    """

    def __init__(self, origin: str, message: str,
                 reason: RejectReason | None = None) -> None:
        super().__init__(f"{origin}: {message}")
        self.origin = origin
        self.message = message
        self.reason = reason or RejectReason.MALFORMED_RECORD


class DeliveryError(CanarywatchError):
    """A webhook delivery attempt failed; ``retry_after_s`` is the receiver's hint, if any."""

    def __init__(self, status: int | None, message: str,
                 retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}" if status is not None else message)
        self.status = status
        self.retry_after_s = retry_after_s


class StateError(CanarywatchError):
    """The state directory cannot be read or written."""
