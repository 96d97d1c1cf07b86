"""Log template mining: canarywatch's masking and fast path around Drain3."""

from __future__ import annotations

from canarywatch.templates.command import run_templates_command
from canarywatch.templates.miner import TemplateMiner

__all__ = ["TemplateMiner", "run_templates_command"]
