"""canarywatch: streaming canary analysis from logs and OpenTelemetry spans."""

from __future__ import annotations

__version__ = "0.1.0"
