"""``canarywatch templates [--json] [--per-file] FILE...``: how log records group into templates.

Files (plain or gzip-compressed; ``-`` is standard input) are streamed record by record with
the preprocessing replay uses: continuation lines joined into their record (stack traces),
a leading timestamp and level cut off, JSON and logfmt lines mined by their message field,
stack traces by their signature. All files share one miner, so a template id means the same
in every file.

Output (after all input is read, so every record shows its final template):

- default: a table, one row per template, most frequent first, with its count, severity,
  id, template and one example record (its first line); ``--per-file`` prints one table per
  file (same ids);
- ``--json``: one object per record, ``{"line": N, "template_id": ..., "template": ...,
  "severity": "ERROR"}``, N the number of the record's first line counted from 1 over all
  inputs in order; severity the OpenTelemetry severity name, null when the record has none.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from canarywatch.config import TemplatesConfig
from canarywatch.decode.lines import split_level
from canarywatch.decode.otlp import OtlpDecoder
from canarywatch.decode.timefmt import leading_time
from canarywatch.errors import DecodeError
from canarywatch.events import LogEvent, Severity
from canarywatch.rejects import Rejection, RejectReason
from canarywatch.sources.base import PayloadKind
from canarywatch.sources.detect import (
    Compression,
    compression_of,
    detect_format,
    looks_binary,
    open_stream,
)
from canarywatch.sources.files import FileSource
from canarywatch.sources.multiline import join_continuations
from canarywatch.templates.miner import TemplateMiner

SERVICE = "templates"
STDIN = Path("-")
EXAMPLE_CHARS = 160
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class _Row:
    """What the table shows of one template."""

    count: int = 0
    severity: Severity = Severity.UNSPECIFIED
    example: str = ""


@dataclass(slots=True)
class _Mined:
    """Per record: (first line number, template id, severity); per file: rows by template
    id."""

    records: list[tuple[int, int, Severity]] = field(default_factory=list)
    per_file: list[tuple[str, dict[int, _Row]]] = field(default_factory=list)


def run_templates_command(paths: Sequence[Path], as_json: bool, config: TemplatesConfig,
                          out: TextIO, *, per_file: bool = False,
                          stdin: BinaryIO | None = None) -> int:
    """Mine the records of ``paths`` and print them (see the module docstring).

    Returns 0, or 2 (message on stderr, nothing on ``out``) when an input cannot be read.
    """
    miner = TemplateMiner(config)
    mined = _Mined()
    offset = 0
    for path in paths:
        rows: dict[int, _Row] = {}
        mined.per_file.append(("<stdin>" if path == STDIN else str(path), rows))
        try:
            offset = _mine_input(path, stdin, miner, mined, rows=rows, offset=offset)
        except (OSError, EOFError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            print(f"canarywatch templates: {path}: {message}", file=sys.stderr)
            return 2
        except RefusedInputError as exc:
            print(f"canarywatch templates: {path}: refused: {exc.rejection.detail} "
                  f"({exc.rejection.reason.value})", file=sys.stderr)
            return 2
    if as_json:
        _write_json(miner, mined, out)
    elif per_file:
        for name, rows in mined.per_file:
            out.write(f"== {name}\n")
            _write_table(miner, rows, out)
    else:
        _write_table(miner, _merge(mined.per_file), out)
    return 0


def _mine_input(path: Path, stdin: BinaryIO | None, miner: TemplateMiner, mined: _Mined,
                *, rows: dict[int, _Row], offset: int) -> int:
    """Mine one input; returns the line count so far over all inputs."""
    prepare = miner.preprocessor.prepare
    lines_read = [0]
    with _Open(path, stdin) as stream:
        found_records: Iterator[tuple[int, str, Severity | None]] = (
            (number, text, None) for number, text in records(stream, lines_read))
        if path != STDIN:
            found = detect_format(path)
            if isinstance(found, Rejection):
                raise RefusedInputError(found)
            if found.kind is PayloadKind.OTLP_ANY:  # OTLP log records: their bodies
                found_records = _otlp_bodies(path, lines_read)
        for number, text, given in found_records:
            severity, body = record_body(text)
            if given is not None and given is not Severity.UNSPECIFIED:
                severity, body = given, text  # an OTLP record's own severity and body
            if severity is Severity.UNSPECIFIED:
                severity = prepare(body).severity
            match = miner.match(SERVICE, body)
            mined.records.append((offset + number, match.template_id, severity))
            row = rows.get(match.template_id)
            if row is None:
                row = rows[match.template_id] = _Row(example=text.partition("\n")[0])
            row.count += 1
            row.severity = max(row.severity, severity)
    return offset + lines_read[0]


def record_body(text: str) -> tuple[Severity, str]:
    """A text record's level and body, its leading timestamp and level cut as replay does."""
    _, rest_at = leading_time(text)
    severity, body = split_level(text[rest_at:])
    return severity, body or text.strip()


class _Open:
    """A binary stream for a path (gzip told by its magic bytes); ``-`` is ``stdin``."""

    def __init__(self, path: Path, stdin: BinaryIO | None) -> None:
        self._path = path
        self._stdin = stdin
        self._owned: list[BinaryIO] = []

    def __enter__(self) -> BinaryIO:
        if self._path == STDIN:
            raw = self._stdin if self._stdin is not None else sys.stdin.buffer
            reader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(
                cast(io.RawIOBase, raw))
            head = reader.peek(2)
            if head[:2] == _GZIP_MAGIC:
                return cast(BinaryIO, gzip.GzipFile(fileobj=reader, mode="rb"))
            if looks_binary(head, cut=True) or (head and not head.strip(b"\0")):
                # refused at once: an endless binary stream (/dev/zero) has no line to end
                raise RefusedInputError(Rejection("<stdin>", RejectReason.BINARY_CONTENT,
                                                  "binary data, not text log lines"))
            return cast(BinaryIO, reader)
        raw_file = self._path.open("rb")
        self._owned.append(raw_file)
        compression = compression_of(raw_file.read(8))
        raw_file.seek(0)
        if isinstance(compression, Compression) and compression is not Compression.NONE:
            stream = open_stream(raw_file, compression)
            self._owned.append(stream)
            return stream
        return raw_file

    def __exit__(self, *exc: object) -> None:
        for stream in reversed(self._owned):
            stream.close()


def records(stream: BinaryIO, lines_read: list[int] | None = None) -> Iterator[tuple[int, str]]:
    """(first line number, record text) with continuation lines joined, blank lines skipped;
    ``lines_read[0]`` (if given) follows the number of lines read."""
    seen = lines_read if lines_read is not None else [0]

    def numbered() -> Iterator[tuple[int, bytes]]:
        for n, raw in enumerate(stream, 1):
            seen[0] = n
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield n, line

    lines = numbered()
    for number, record in join_continuations(lines):
        yield number, record.decode("utf-8", errors="replace")


class RefusedInputError(Exception):
    """An input that is not log text or OTLP (binary, an archive, corrupt compression)."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(str(rejection))
        self.rejection = rejection


def _otlp_bodies(path: Path, lines_read: list[int],
                 ) -> Iterator[tuple[int, str, Severity | None]]:
    """(record line or byte offset, body, severity) of each OTLP log record of a collector file;
    spans and unreadable records are skipped (``replay`` counts them)."""
    decoder = OtlpDecoder(())
    for record in FileSource(path):
        where = record.origin.rpartition(":")[2] if ":" in record.origin else "0"
        number = int(where) if where.isdigit() else 0
        lines_read[0] = max(lines_read[0], number)
        try:
            events = decoder.decode(record)
        except DecodeError:
            continue
        for event in events:
            if isinstance(event, LogEvent):
                yield number, event.body, event.severity


def _merge(per_file: list[tuple[str, dict[int, _Row]]]) -> dict[int, _Row]:
    merged: dict[int, _Row] = {}
    for _, rows in per_file:
        for tid, row in rows.items():
            into = merged.get(tid)
            if into is None:
                merged[tid] = _Row(row.count, row.severity, row.example)
            else:
                into.count += row.count
                into.severity = max(into.severity, row.severity)
    return merged


def _final(miner: TemplateMiner, rows: dict[int, _Row]) -> dict[int, _Row]:
    """Rows keyed by the live id each template id stands for now (merges folded in)."""
    live: dict[int, _Row] = {}
    for tid, row in rows.items():
        key = miner.canonical_id(SERVICE, tid)
        key = tid if key is None else key
        into = live.get(key)
        if into is None:
            live[key] = _Row(row.count, row.severity, row.example)
        else:
            into.count += row.count
            into.severity = max(into.severity, row.severity)
    return live


def _write_table(miner: TemplateMiner, rows: dict[int, _Row], out: TextIO) -> None:
    live = sorted(_final(miner, rows).items(), key=lambda kv: (-kv[1].count, kv[0]))
    count_w = max([5, *(len(str(r.count)) for _, r in live)])
    id_w = max([2, *(len(str(t)) for t, _ in live)])
    out.write(f"{'COUNT':>{count_w}}  {'SEVERITY':<11}  {'ID':>{id_w}}  TEMPLATE\n")
    pad = " " * (count_w + 2 + 11 + 2 + id_w + 2)
    for tid, row in live:
        severity = "-" if row.severity is Severity.UNSPECIFIED else row.severity.name
        out.write(f"{row.count:>{count_w}}  {severity:<11}  {tid:>{id_w}}  "
                  f"{_template(miner, tid)}\n")
        example = row.example if len(row.example) <= EXAMPLE_CHARS \
            else row.example[:EXAMPLE_CHARS - 1] + "…"
        out.write(f"{pad}e.g. {example}\n")


def _template(miner: TemplateMiner, tid: int) -> str:
    try:
        return miner.template_text(SERVICE, tid)
    except KeyError:
        return "(evicted)"


def _write_json(miner: TemplateMiner, mined: _Mined, out: TextIO) -> None:
    texts: dict[int, tuple[int, str]] = {}
    for number, template_id, severity in mined.records:
        shown = texts.get(template_id)
        if shown is None:
            live = miner.canonical_id(SERVICE, template_id)
            shown = texts[template_id] = (template_id, "") if live is None \
                else (live, miner.template_text(SERVICE, live))
        record = {"line": number, "template_id": shown[0], "template": shown[1],
                  "severity": None if severity is Severity.UNSPECIFIED else severity.name}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
