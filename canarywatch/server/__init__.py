"""The daemon's HTTP server: health, metrics, current verdicts, Flagger and Argo endpoints."""

from __future__ import annotations

from canarywatch.server.board import VerdictBoard
from canarywatch.server.http import ApiServer, load_bearer_token

__all__ = ["ApiServer", "VerdictBoard", "load_bearer_token"]
