"""File sources: the collector's file exporter output, JSON-lines and plain-text logs.

The format is told by content, not by name: gzip by its magic bytes; otlp_proto frames (a
4-byte big-endian length before each message, as the file exporter's ``format: proto``
writes them) by a small length followed by the tag of field 1; anything else is read line by
line, where a line holding an OTLP/JSON ``resourceSpans`` / ``resourceLogs`` object is
``OTLP_ANY``, another JSON object ``LOG_JSON`` and the rest ``LOG_TEXT``.

A frame cut short by the end of the file is yielded with ``Record.error`` set, so the decode
stage counts it like any malformed record; nothing after it can be framed.
"""

from __future__ import annotations

import gzip
import logging
import re
import struct
from collections.abc import Iterator, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO, Literal, cast

from canarywatch.errors import InputError
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.multiline import join_continuations

log = logging.getLogger(__name__)

FileFormat = Literal["proto", "lines"]

_GZIP_MAGIC = b"\x1f\x8b"
_OTLP_JSON_LINE = re.compile(
    rb'\s*\{\s*"(?:resourceSpans|resourceLogs|resource_spans|resource_logs)"')
_PROTO_NAME = re.compile(r"\.(?:pb|binpb|proto)(?:\.gz)?$")
_LINE_KINDS = (PayloadKind.LOG_JSON, PayloadKind.LOG_TEXT)
_SNIFF_LINES = 16  # lines read to tell a line-oriented file's kind
_MAX_FRAME_BYTES = 1 << 26  # a length prefix whose first byte is below 4


def detect_format(head: bytes) -> FileFormat:
    """``proto`` when the first bytes look like a length-framed OTLP message, else ``lines``.

    A frame starts with a big-endian length under 64 MiB (first byte 0-3, which no text file
    starts with) and then the tag of field 1, length-delimited (0x0A).
    """
    if len(head) >= 5 and head[0] < 4 and head[4] == 0x0A:
        return "proto"
    if len(head) >= 4 and head[:4] == b"\0\0\0\0":  # an empty message first
        return "proto"
    return "lines"


def line_kind(line: bytes) -> PayloadKind:
    """What one line of a line-oriented file holds."""
    if _OTLP_JSON_LINE.match(line):
        return PayloadKind.OTLP_ANY
    if line.lstrip()[:1] == b"{":
        return PayloadKind.LOG_JSON
    return PayloadKind.LOG_TEXT


def file_kind(head: Sequence[bytes]) -> PayloadKind:
    """The kind of a line-oriented file from its first lines: OTLP/JSON if any of them is,
    JSON-lines logs if most are JSON objects, plain text otherwise."""
    kinds = [line_kind(line) for line in head]
    if PayloadKind.OTLP_ANY in kinds:
        return PayloadKind.OTLP_ANY
    if kinds and kinds.count(PayloadKind.LOG_JSON) * 2 >= len(kinds):
        return PayloadKind.LOG_JSON
    return PayloadKind.LOG_TEXT


class FileSource:
    """Records from one file (optionally gzip-compressed), format told by content."""

    def __init__(self, path: Path, kind_hint: PayloadKind | None = None) -> None:
        self.path = path
        self.kind_hint = kind_hint
        self.format: FileFormat | None = None
        self._stream: BinaryIO | None = None
        self._raw: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r})"

    def start(self) -> None:
        """Open the file and tell its format; InputError when it cannot be read."""
        if self._stream is not None:
            return
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise InputError(str(self.path), f"cannot open: {exc.strerror}") from None
        try:
            stream: BinaryIO = raw
            if raw.read(2) == _GZIP_MAGIC:
                raw.seek(0)
                stream = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
            else:
                raw.seek(0)
            head = stream.read(8)
            stream.seek(0)
        except (OSError, EOFError) as exc:
            raw.close()
            raise InputError(str(self.path), f"cannot read: {exc}") from None
        self.format = detect_format(head)
        if self.format == "lines" and head and _PROTO_NAME.search(self.path.name):
            self.format = "proto"  # content was not conclusive (a garbled first frame)
        self._stream = stream
        self._raw = raw

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def __iter__(self) -> Iterator[Record]:
        """Every record of the file; opens it first if needed and closes it at the end."""
        self.start()
        stream = self._stream
        assert stream is not None
        try:
            if self.format == "proto":
                yield from self._frames(stream)
            else:
                yield from self._lines(stream)
        except (OSError, EOFError) as exc:  # a corrupt gzip stream: the rest is unreadable
            yield Record(b"", self.kind_hint or PayloadKind.OTLP_ANY, f"{self.path}:end",
                         error=f"cannot read further: {exc}")
        finally:
            self.stop()

    def _frames(self, stream: BinaryIO) -> Iterator[Record]:
        kind = self.kind_hint if self.kind_hint not in (None, *_LINE_KINDS) else None
        kind = kind or PayloadKind.OTLP_ANY
        offset = 0
        while True:
            prefix = stream.read(4)
            if not prefix:
                return
            origin = f"{self.path}@{offset}"
            if len(prefix) < 4:
                yield Record(prefix, kind, origin, error="truncated frame length at end of file")
                return
            (size,) = struct.unpack(">I", prefix)
            if size > _MAX_FRAME_BYTES:
                yield Record(b"", kind, origin,
                             error=f"frame length {size} is not plausible; rest of file skipped")
                return
            payload = stream.read(size)
            if len(payload) < size:
                yield Record(payload, kind, origin,
                             error=f"truncated frame: {len(payload)} of {size} bytes")
                return
            yield Record(payload, kind, origin)
            offset += 4 + size

    def _lines(self, stream: BinaryIO) -> Iterator[Record]:
        """One record per line (a text log's continuation lines joined to the line they
        continue); the file's kind is told once, from its first lines.

        A file is one kind throughout: in a collector JSON file a line that is not OTLP/JSON
        is a malformed record (counted, skipped), never a text log line.
        """
        path = self.path
        numbered = ((n, raw.rstrip(b"\r\n")) for n, raw in enumerate(stream, 1))
        lines = ((n, line) for n, line in numbered if line.strip())
        head = list(islice(lines, _SNIFF_LINES))
        kind = self.kind_hint or file_kind([line for _, line in head])
        records: Iterator[tuple[int, bytes]] = chain(head, lines)
        if kind is PayloadKind.LOG_TEXT:  # a stack trace's lines are one record
            records = join_continuations(records)
        for number, line in records:
            yield Record(line, kind, f"{path}:{number}")


def open_sources(paths: Sequence[Path], kind_hint: PayloadKind | None = None) -> list[FileSource]:
    """One FileSource per file; a directory expands to its files (sorted, hidden ones skipped).

    Raises InputError for a path that does not exist or is neither a file nor a directory.
    """
    sources: list[FileSource] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not files:
                log.warning("%s: directory holds no files", path)
            sources.extend(FileSource(p, kind_hint) for p in files)
        elif path.is_file():
            sources.append(FileSource(path, kind_hint))
        elif not path.exists():
            raise InputError(str(path), "no such file or directory")
        else:
            raise InputError(str(path), "not a regular file or directory")
    return sources
