"""The state directory's permissions: 0700 for the directory, 0600 for every file in it.

The state holds verdict history, webhook requests and Flagger revisions: nothing another local
user should read or change. :func:`prepare_state_dir` creates the directory 0700, warns when an
existing one (or a file in it) is looser and tightens it where this process owns it;
:func:`secure_file` creates a file 0600 before SQLite opens it (SQLite gives its ``-wal`` and
``-shm`` files the database file's mode).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from canarywatch.errors import StateError

logger = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, wanted: int, what: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & ~wanted == 0:
        return
    try:
        path.chmod(mode & wanted)
        logger.warning("%s %s was mode %04o (readable by other users); set to %04o", what,
                       path, mode, mode & wanted)
    except OSError as exc:
        logger.warning("%s %s is mode %04o (readable by other users) and cannot be "
                       "tightened to %04o: %s", what, path, mode, mode & wanted, exc.strerror)


def prepare_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` 0700 (parents as the umask says); warn about and tighten looser
    modes of it and its files. StateError when it cannot be created."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        _tighten(state_dir, DIR_MODE, "state directory")
        for child in state_dir.iterdir():
            if child.is_file() and not child.is_symlink():
                _tighten(child, FILE_MODE, "state file")
    except OSError as exc:
        raise StateError(f"cannot prepare state directory {state_dir}: {exc.strerror}") from None


def secure_file(path: Path) -> None:
    """Create ``path`` 0600 if missing (tighten it if looser); OSError when impossible."""
    prepare_state_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE, "state file")
