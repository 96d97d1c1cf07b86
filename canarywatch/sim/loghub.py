"""Real log lines from the loghub-2k sample, used as extra message bodies in simulations."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from canarywatch.errors import InputError

_SUFFIX = "_structured_corrected.csv"


def loghub_systems(root: Path) -> tuple[str, ...]:
    """The systems (sub-directories with a structured CSV) under a loghub-2k root, sorted."""
    return tuple(sorted(p.parent.name for p in root.glob(f"*/*{_SUFFIX}")))


def load_loghub_lines(root: Path, systems: Sequence[str] | None = None,
                      limit: int = 2000) -> tuple[str, ...]:
    """The ``Content`` column of each system's ``*_structured_corrected.csv``.

    ``systems`` defaults to every system found under ``root``; ``limit`` caps the lines taken
    from each system. Empty contents are skipped. Raises InputError for a missing root or an
    unknown system.
    """
    if not root.is_dir():
        raise InputError(str(root), "loghub root is not a directory")
    known = loghub_systems(root)
    wanted = known if systems is None else tuple(systems)
    lines: list[str] = []
    for system in wanted:
        if system not in known:
            raise InputError(str(root / system),
                             f"unknown loghub system; valid: {', '.join(known)}")
        path = next((root / system).glob(f"*{_SUFFIX}"))
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            taken = 0
            for row in csv.DictReader(handle):
                content = (row.get("Content") or "").strip()
                if not content:
                    continue
                lines.append(content)
                taken += 1
                if taken >= limit:
                    break
    return tuple(lines)
