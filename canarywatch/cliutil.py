"""Helpers of the command line that are not parsing: a stdout that survives a closed pipe,
replay progress on a terminal, help text with defaults, and the checks that refuse a replay
whose answer would mislead (unknown versions, no telemetry)."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

from canarywatch.config import Config
from canarywatch.errors import CanarywatchError, InputError
from canarywatch.events import format_unix_nano

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, when it has a meaningful one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        # identity, not equality: a default of 0 is a default (0 == False)
        if ("%(default)" in text or default is None or default is False
                or default is argparse.SUPPRESS or default == [] or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


def log_level(value: str) -> str:
    """argparse type for ``--log-level``: one of :data:`LOG_LEVELS`, any case."""
    level = value.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"invalid level {value!r}; choose from {', '.join(LOG_LEVELS)}")
    return level


def unknown_top_level_option(argv: Sequence[str], known: Sequence[str]) -> str | None:
    """The message for an option before the command that canarywatch does not know, or None.

    Without this, argparse reports ``--versoin`` as a missing command.
    """
    for token in argv:
        if not token.startswith("-") or token == "-":
            return None  # the command: options after it are the subcommand's to judge
        name = token.split("=", 1)[0]
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return f"unrecognized option: {name}{hint}"
    return None


def unrecognized_arguments(extras: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """argparse's "unrecognized arguments" message, with the nearest option of ``parser``
    suggested for each misspelt one (``replay --jsno``: did you mean --json?)."""
    known = [o for action in parser._actions for o in action.option_strings]
    hints = []
    for token in extras:
        if token.startswith("--"):
            close = difflib.get_close_matches(token.split("=", 1)[0], known, n=1)
            if close:
                hints.append(f"{token}: did you mean {close[0]}?")
    return (f"unrecognized arguments: {' '.join(extras)}"
            + (f" ({'; '.join(hints)})" if hints else ""))


class OutputError(CanarywatchError):
    """Standard output cannot be written (a full disk, an I/O error): the command's result is lost.

    The message is one line, ``cannot write output: <strerror>``; the CLI exits 2 with it.
    """

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"cannot write output: {exc.strerror or exc}")


def output_error(exc: OSError) -> OutputError:
    """Point stdout at /dev/null (so the exit flush cannot fail again) and wrap ``exc``."""
    silence_stdout()
    return OutputError(exc)


class GuardedOut:
    """A text stream that, once its reader has gone (closed pipe), drops further writes.

    The first BrokenPipeError points the file descriptor at /dev/null so the interpreter's own
    flush at exit cannot fail either; the command then ends with the exit code its result
    calls for, whatever became of its reader. Any other write error (ENOSPC on ``> /dev/full``,
    EIO) is kept in ``error`` and further writes are dropped the same way; :meth:`check`
    raises it (:class:`OutputError`) once the command is done: a report nobody can read is an
    error the user must see, whatever the verdict.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_by_reader = False
        self.error: OutputError | None = None

    def write(self, text: str) -> None:
        if self.closed_by_reader:
            return
        try:
            self._stream.write(text)
        except BrokenPipeError:
            self._reader_gone()
        except OSError as exc:
            self._failed(exc)

    def flush(self) -> None:
        if self.closed_by_reader:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()
        except OSError as exc:
            self._failed(exc)

    def check(self) -> None:
        """Raise :class:`OutputError` if a write or flush failed (other than a closed pipe)."""
        if self.error is not None:
            raise self.error

    def _failed(self, exc: OSError) -> None:
        self.closed_by_reader = True  # drop what follows, as for a closed pipe
        self.error = output_error(exc)

    def _reader_gone(self) -> None:
        self.closed_by_reader = True
        silence_stdout()


def silence_stdout() -> None:
    """Point the process's stdout descriptor at /dev/null (its reader has gone)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


class ReplayProgress:
    """Events read, event-time position and rate on stderr, through tqdm."""

    def __init__(self, stream: TextIO) -> None:
        from tqdm import tqdm  # noqa: PLC0415  (only for terminals)

        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError):
            columns = 0
        self._bar = tqdm(file=stream, unit=" events", unit_scale=True, desc="replay",
                         mininterval=0.5, ncols=columns or 80)
        self._done = 0
        self._started = time.monotonic()

    def __call__(self, done: int, at_unix_nano: int) -> None:
        self._bar.update(done - self._done)
        self._done = done
        self._bar.set_postfix_str(f"event time {format_unix_nano(at_unix_nano)}", refresh=False)

    def close(self) -> None:
        self._bar.close()


@contextlib.contextmanager
def progress_for(enabled: bool, stream: TextIO | None = None) -> Iterator[ReplayProgress | None]:
    """A progress display on ``stream`` (stderr) when enabled and it is a terminal."""
    stream = stream or sys.stderr
    if not enabled or not stream.isatty():
        yield None
        return
    bar = ReplayProgress(stream)
    try:
        yield bar
    finally:
        bar.close()


def _seen(versions: dict[str, dict[str, int]]) -> str:
    if not versions:
        return "no service carried a version"
    return "; ".join(f"{service}: " + ", ".join(f"{v} ({n} events)" for v, n in vs.items())
                     for service, vs in versions.items())


def check_versions_seen(baseline: str | None, canaries: Sequence[str], cfg: Config,
                        versions: dict[str, dict[str, int]]) -> None:
    """Raise when a version the user named never appeared, listing the versions seen.

    ``--baseline``/``--canary`` must each appear in some service and differ (the input is
    read first so that the error lists what it holds: issue 13); a service given roles in
    ``cohorts.services`` that appeared must carry its configured versions.
    """
    problems: list[str] = []
    if baseline is not None and baseline in canaries:
        problems.append(f"--baseline and --canary are both {baseline}: a version cannot be "
                        "its own baseline")
    elif baseline is not None:
        everywhere = {v for vs in versions.values() for v in vs}
        for name, wanted in (("--baseline", [baseline]), ("--canary", list(canaries))):
            missing = [v for v in wanted if v not in everywhere]
            if missing:
                problems.append(f"{name} {', '.join(missing)} never appeared")
        if not problems and not any(baseline in vs and any(c in vs for c in canaries)
                                    for vs in versions.values()):
            problems.append(f"no service carried both {baseline} and "
                            f"{', '.join(canaries)}")
    for service, roles in cfg.cohorts.services.items():
        seen = versions.get(service)
        if seen is None:
            continue
        missing = [v for v in (roles.baseline, *roles.canary) if v not in seen]
        if missing:
            problems.append(f"cohorts.services.{service}: {', '.join(missing)} never appeared "
                            f"in {service}")
    if problems:
        raise CanarywatchError("; ".join(problems) + f". Versions seen: {_seen(versions)}")


def no_telemetry_error(names_and_why: Sequence[tuple[str, str]]) -> InputError:
    """The error for a replay whose inputs held no decodable telemetry."""
    listing = "; ".join(f"{name}: {why}" for name, why in names_and_why)
    return InputError("input", f"no telemetry in any input ({listing})")
