"""Decoder interface: raw payloads in, typed events out, shared by every source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from canarywatch.events import Event
from canarywatch.sources.base import Record


class Decoder(Protocol):
    """Turns one record into events; raises DecodeError (carrying ``record.origin``) on bad data."""

    def decode(self, record: Record) -> Sequence[Event]: ...
