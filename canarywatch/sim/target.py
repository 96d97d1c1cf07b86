"""Where `canarywatch simulate` may write: never onto a file, never beside an earlier run.

A replay reads every file of a directory, so a second simulation written beside the first
would count every event twice. The target must be a new or empty directory, or hold only an
earlier simulation's files, which ``--force`` removes first.
"""

from __future__ import annotations

import re
from pathlib import Path

from canarywatch.errors import InputError

# What write_collector_files writes: traces/logs, .jsonl or .pb, optionally .gz.
SIMULATION_FILE = re.compile(r"^(?:traces|logs)\.(?:jsonl|pb)(?:\.gz)?$")


def prepare_out_dir(out_dir: Path, *, force: bool) -> None:
    """Make ``out_dir`` ready for a new simulation, or raise InputError saying why not.

    Refused: an existing path that is not a directory; a directory holding an earlier
    simulation (unless ``force``, which deletes those files); a directory holding any other
    file (even with ``force``: simulate never deletes what it did not write).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(str(out_dir), "exists and is not a directory; simulate writes a "
                                       "directory of files")
    if not out_dir.exists():
        return
    entries = sorted(out_dir.iterdir())
    ours = [p for p in entries if p.is_file() and SIMULATION_FILE.match(p.name)]
    others = [p for p in entries if p not in ours]
    if others:
        shown = ", ".join(p.name for p in others[:5]) + (" ..." if len(others) > 5 else "")
        raise InputError(str(out_dir), f"holds files simulate did not write ({shown}); "
                                       "choose a new or empty directory")
    if ours and not force:
        raise InputError(str(out_dir), "already holds a simulation ("
                         + ", ".join(p.name for p in ours) + "); a replay of the directory "
                         "would read both: use --force to replace it, or a new directory")
    for path in ours:
        path.unlink()
