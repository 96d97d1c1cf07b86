"""Which files a replay reads: paths as given, directories walked recursively.

Every path the walk meets is either read or reported as skipped with why (hidden, empty,
unreadable, not telemetry), so a user sees that a README or a stray binary in an incident
directory was left out rather than counted. Whether a file holds telemetry is told by its
content through one call, :func:`skip_reason`; the format itself is told by the file source.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from canarywatch.decode.timefmt import leading_time
from canarywatch.errors import InputError
from canarywatch.rejects import Rejection
from canarywatch.sources.detect import (
    HEAD_BYTES,
    SNIFF_LINES,
    Compression,
    Layout,
    compression_of,
    detect_format,
)

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

    The one place a directory walk asks about a file's content, through the format detection
    of :func:`canarywatch.sources.detect.detect_format` (a binary, an archive, an undecodable
    compressed file is skipped with its reason). Files named on the command line are always
    read, and rejected record by record if they hold no telemetry.
    """
    try:
        if path.stat().st_size == 0:
            return "empty"
        detected = detect_format(path)
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    if isinstance(detected, Rejection):
        return f"not telemetry: {detected.detail}"
    if detected.layout is Layout.LOG_TEXT and not _has_timestamped_line(path):
        return "text with no time on any of its first lines (a README, a note), not a log"
    return None


# A time of day, a date, a compact date-time (HDFS: ``081109 203615``) or an epoch in seconds
# or milliseconds, anywhere in a line: every log format of loghub-2k carries one of these on
# every line; a README or a LICENSE does not.
_TIME_LIKE = re.compile(r"\d{1,2}:\d{2}:\d{2}|\d{4}[-./]\d{2}[-./]\d{2}|\b\d{6} \d{6}\b"
                        r"|\b1\d{9}(?:\d{3})?\b")


def _has_timestamped_line(path: Path) -> bool:
    """Whether one of the first :data:`SNIFF_LINES` non-blank lines carries a time. Compressed
    text is given the benefit of the doubt (log rotators compress logs, not notes)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return True
    if compression_of(head[:8]) is not Compression.NONE:
        return True
    lines = [line for line in head.decode("utf-8", "replace").splitlines() if line.strip()]
    return any(leading_time(line)[0] is not None or _TIME_LIKE.search(line)
               for line in lines[:SNIFF_LINES])


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
    files = _once_each(files, skipped)
    for item in skipped:
        log.info("skipped %s: %s", item.path, item.reason)
    return Inputs(tuple(files), tuple(skipped))


def _once_each(files: list[Path], skipped: list[Skipped]) -> list[Path]:
    """``files`` with each file read once: a file named twice, or reached both by name and
    through a directory or a link, would count every event twice (and make a healthy canary
    look worse: the same requests are not independent evidence). The later ones are skipped."""
    first: dict[tuple[int, int], Path] = {}
    out: list[Path] = []
    for path in files:
        if path == STDIN:
            out.append(path)
            continue
        st = path.stat()
        key = (st.st_dev, st.st_ino)
        if key in first:
            skipped.append(Skipped(path, f"the same file as {first[key]}, already read"))
            log.warning("%s is the same file as %s: read once", path, first[key])
            continue
        first[key] = path
        out.append(path)
    return out
