"""Tests find shared data relative to the repository, never by an absolute path."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# A string literal that starts at the filesystem root and points into shared data.
_ABSOLUTE = re.compile(r"""["'](/[^"'\n]*(?:shared|datasets|loghub)[^"'\n]*)["']""")


def test_no_test_reads_shared_data_by_absolute_path() -> None:
    """No test module names ../shared (datasets, cases) by an absolute path."""
    found = [f"{path.relative_to(TESTS)}: {match.group(1)}"
             for path in sorted(TESTS.rglob("*.py"))
             for match in _ABSOLUTE.finditer(path.read_text(encoding="utf-8"))]
    assert found == []


def test_loghub_fixture_resolves_beside_the_clone(loghub_dir: Path) -> None:
    """The loghub_dir fixture gives ../shared/datasets/loghub-2k of this checkout."""
    assert loghub_dir == TESTS.parent.parent / "shared" / "datasets" / "loghub-2k"
