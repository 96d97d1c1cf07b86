"""Fixtures every test directory can use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ../shared beside the clone (DESIGN.md, cases/, datasets/): found from this file, never by
# an absolute path, so the tests run from any checkout.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LOGHUB = SHARED / "datasets" / "loghub-2k"


@pytest.fixture(scope="session")
def loghub_dir() -> Path:
    """``../shared/datasets/loghub-2k``; the test is skipped without it (failed under CI,
    where the data must be there)."""
    if not any(LOGHUB.glob("*/*_2k.log")):
        if os.environ.get("CI"):
            pytest.fail(f"no loghub-2k data under {LOGHUB}")
        pytest.skip(f"no loghub-2k data under {LOGHUB} (see README, Data)")
    return LOGHUB
