"""Which files a replay reads: paths as given, directories walked recursively.

Every path the walk meets is either read or reported as skipped with why (hidden, empty,
unreadable, not telemetry), so a user sees that a README or a stray binary in an incident
directory was left out rather than counted. Whether a file holds telemetry is told by its
content through one call, :func:`skip_reason`; the format itself is told by the file source.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from canarywatch.errors import InputError

log = logging.getLogger(__name__)

STDIN = Path("-")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path the walk did not read, and why (one short phrase)."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files to read, in order, and what was skipped."""

    files: tuple[Path, ...]
    skipped: tuple[Skipped, ...]


def skip_reason(path: Path) -> str | None:
    """Why ``path`` (a regular file met in a directory walk) is not read, or None to read it.

    The one place a directory walk asks about a file's content; files named on the command
    line are always read (and rejected record by record if they hold no telemetry).
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return "empty"
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    return None


def _walk(root: Path, files: list[Path], skipped: list[Skipped]) -> None:
    seen: set[tuple[int, int]] = set()
    for directory, subdirs, names in os.walk(root, followlinks=True, onerror=None):
        here = Path(directory)
        st = here.stat()
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop
            skipped.append(Skipped(here, "already read (symbolic link loop)"))
            subdirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        for name in sorted(subdirs):
            if name.startswith("."):
                skipped.append(Skipped(here / name, "hidden directory"))
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            path = here / name
            if name.startswith("."):
                skipped.append(Skipped(path, "hidden file"))
            elif not path.is_file():
                skipped.append(Skipped(path, "not a regular file"))
            elif (reason := skip_reason(path)) is not None:
                skipped.append(Skipped(path, reason))
            else:
                files.append(path)


def expand_inputs(paths: Sequence[Path]) -> Inputs:
    """Files named directly are read as given; directories are walked recursively (sorted,
    hidden entries skipped). ``-`` stands for standard input and is passed through.

    Raises InputError for a path that does not exist, is neither a file nor a directory, or a
    directory that holds no file to read.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []
    for path in paths:
        if path == STDIN:
            files.append(path)
        elif path.is_dir():
            before = len(files)
            _walk(path, files, skipped)
            if len(files) == before:
                why = "; ".join(f"{s.path}: {s.reason}" for s in skipped if path in s.path.parents)
                raise InputError(str(path), "directory holds no file to read" +
                                 (f" ({why})" if why else ""))
        elif path.is_file():
            files.append(path)
        elif not path.exists():
            raise InputError(str(path), "no such file or directory")
        else:
            raise InputError(str(path), "not a regular file or directory")
    for item in skipped:
        log.info("skipped %s: %s", item.path, item.reason)
    return Inputs(tuple(files), tuple(skipped))
