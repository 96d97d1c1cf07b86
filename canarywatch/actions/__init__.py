"""Actions: where verdict changes leave canarywatch (webhooks; the HTTP board lives in server/)."""

from __future__ import annotations

from canarywatch.actions.base import FanOut, InMemorySink, VerdictSink
from canarywatch.actions.presets import PRESETS
from canarywatch.actions.webhooks import WebhookDispatcher, webhooks_from_flags

__all__ = ["PRESETS", "FanOut", "InMemorySink", "VerdictSink", "WebhookDispatcher",
           "webhooks_from_flags"]
