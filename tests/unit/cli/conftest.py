"""Fixtures for the console-script tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import SCRIPT


@pytest.fixture(scope="session")
def script() -> Path:
    """The installed console script (pip install -e . puts it beside the interpreter)."""
    assert SCRIPT.is_file(), f"{SCRIPT}: install the package (pip install -e '.[dev]')"
    return SCRIPT
