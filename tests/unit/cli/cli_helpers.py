"""Run the real `canarywatch` console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "canarywatch"


def run_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None,
            stdin: bytes | None = None, timeout_s: float = 120.0,
            ) -> subprocess.CompletedProcess[str]:
    """``canarywatch ARGS`` with a clean CANARYWATCH_* environment plus ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CANARYWATCH_")}
    full.update(env or {})
    return subprocess.run([str(SCRIPT), *args], input=stdin.decode() if stdin else None,
                          capture_output=True, text=True, env=full, timeout=timeout_s,
                          check=False)
