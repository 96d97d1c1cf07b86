"""Open a page in Debian's headless Chromium: console messages and a screenshot.

The report pages carry no script, so any console message at all (an error, a blocked load, a
script someone slipped in) is a failure for the tests that use this.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

_CONSOLE = re.compile(r":CONSOLE(?::|\()[^\]]*\]\s*(.*)")


@dataclass(frozen=True)
class PageLoad:
    console: list[str]  # every console message the page produced
    screenshot: np.ndarray  # RGB(A) floats in [0, 1]


def chromium() -> str:
    """The Chromium binary; skip (or fail in CI) when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = "no chromium binary (.ci/run installs Debian's chromium package)"
    if os.environ.get("CI"):  # in CI a missing browser fails: the test must not pass unrun
        pytest.fail(reason)
    pytest.skip(reason)


def open_page(url: str, screenshot: Path, height: int = 2400) -> PageLoad:
    """Load ``url`` headless, collect its console messages and take a screenshot."""
    proc = subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={screenshot.parent / 'chromium-profile'}",
         f"--window-size=1100,{height}", f"--screenshot={screenshot}", url],
        capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [m.group(1) for m in map(_CONSOLE.search, proc.stderr.splitlines()) if m]
    return PageLoad(console, imread(str(screenshot)))


def not_blank(image: np.ndarray) -> bool:
    """More than a trace of the screenshot differs from its background colour."""
    rgb = image[..., :3]
    background = np.median(rgb.reshape(-1, 3), axis=0)
    differs = np.abs(rgb - background).max(axis=-1) > 0.1
    return bool(differs.mean() > 0.01)

