"""File sources: the collector's file exporter output, JSON-lines and plain-text logs.

The format is told by content, not by name (see :mod:`canarywatch.sources.detect`): whole-file
compression by magic bytes; otlp_proto frames (a 4-byte big-endian length before each message,
as the file exporter's ``format: proto`` and ``compression: zstd`` write them; zstd or gzip
messages are opened by the decoder); pretty-printed OTLP/JSON documents and JSON arrays of
them, one record per object; anything else line by line, where the file's first lines tell
``OTLP_ANY`` (OTLP/JSON), ``LOG_JSON`` or ``LOG_TEXT``. Binary content is refused: one record
carrying the reason, counted by the decode stage like any malformed record.

A frame cut short by the end of the file is yielded with ``Record.error`` set, so the decode
stage counts it like any malformed record; nothing after it can be framed.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Iterator, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

import zstandard

from canarywatch.errors import InputError
from canarywatch.rejects import Rejection, RejectReason
from canarywatch.sources.base import PayloadKind, Record
from canarywatch.sources.detect import (
    SNIFF_LINES,
    Compression,
    Format,
    Layout,
    detect_stream,
    file_kind,
    line_kind,
    open_stream,
)
from canarywatch.sources.multiline import join_continuations

__all__ = ["FileSource", "file_kind", "line_kind", "open_sources"]

log = logging.getLogger(__name__)

_PROTO_NAME = re.compile(r"\.(?:pb|binpb|proto)(?:\.(?:gz|zst|zstd))?$")
_NONSPACE = re.compile(r"\S")
_LINE_KINDS = (PayloadKind.LOG_JSON, PayloadKind.LOG_TEXT)
_MAX_FRAME_BYTES = 1 << 26  # a length prefix whose first byte is below 4
_READ_ERRORS = (OSError, EOFError, zstandard.ZstdError, RuntimeError)


class FileSource:
    """Records from one file (optionally compressed), format told by content."""

    def __init__(self, path: Path, kind_hint: PayloadKind | None = None) -> None:
        self.path = path
        self.kind_hint = kind_hint
        self.format: Format | None = None
        self.rejection: Rejection | None = None  # why the file cannot be read, if it cannot
        self._stream: BinaryIO | None = None
        self._raw: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r})"

    def start(self) -> None:
        """Open the file and tell its format; InputError when it cannot be opened.

        Content that cannot be read (binary, corrupt compression) is not an error here: the
        source then yields one record carrying the reason (see :attr:`rejection`).
        """
        if self._stream is not None or self.rejection is not None:
            return
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise InputError(str(self.path), f"cannot open: {exc.strerror}") from None
        try:
            found = detect_stream(raw, str(self.path))
            if isinstance(found, Rejection) and found.reason is RejectReason.BINARY_CONTENT \
                    and _PROTO_NAME.search(self.path.name) and raw.read(1)[:1] < b"\x04":
                # content was not conclusive (a garbled first frame): the name decides
                found = Format(Layout.OTLP_FRAMES, Compression.NONE, PayloadKind.OTLP_ANY)
            raw.seek(0)
            if isinstance(found, Rejection):
                raw.close()
                self.rejection = found
                return
            stream = open_stream(raw, found.compression)
        except _READ_ERRORS as exc:
            raw.close()
            raise InputError(str(self.path), f"cannot read: {exc}") from None
        self.format = found
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
        rejection, self.rejection = self.rejection, None
        if rejection is not None:
            yield Record(b"", self.kind_hint or PayloadKind.OTLP_ANY, f"{self.path}:1",
                         error=f"file {rejection.detail}", reason=rejection.reason)
            return
        stream = self._stream
        assert stream is not None and self.format is not None
        try:
            if self.format.layout is Layout.OTLP_FRAMES:
                yield from self._frames(stream)
            elif self.format.layout is Layout.JSON_DOCUMENT:
                yield from self._documents(stream, self.format.kind)
            else:
                yield from self._lines(stream)
        except _READ_ERRORS as exc:  # a corrupt compressed stream: the rest is unreadable
            yield Record(b"", self.kind_hint or PayloadKind.OTLP_ANY, f"{self.path}:end",
                         error=f"cannot read further: {exc}",
                         reason=RejectReason.CORRUPT_COMPRESSION)
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
                yield Record(prefix, kind, origin, error="truncated frame length at end of file",
                             reason=RejectReason.TRUNCATED_FRAME)
                return
            (size,) = struct.unpack(">I", prefix)
            if size > _MAX_FRAME_BYTES:
                yield Record(b"", kind, origin,
                             error=f"frame length {size} is not plausible; rest of file skipped",
                             reason=RejectReason.BAD_FRAME_LENGTH)
                return
            payload = stream.read(size)
            if len(payload) < size:
                yield Record(payload, kind, origin,
                             error=f"truncated frame: {len(payload)} of {size} bytes",
                             reason=RejectReason.TRUNCATED_FRAME)
                return
            yield Record(payload, kind, origin)
            offset += 4 + size

    def _documents(self, stream: BinaryIO, kind: PayloadKind) -> Iterator[Record]:
        """One record per JSON object of a multi-line document (pretty-printed objects one
        after another, or a JSON array of them), with the line the object starts on."""
        kind = self.kind_hint or kind
        raw = stream.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield Record(b"", kind, f"{self.path}:1", error=f"JSON document is not UTF-8: {exc}",
                         reason=RejectReason.BINARY_CONTENT)
            return
        decoder = json.JSONDecoder()
        at, line = 0, 1
        while True:
            found = _NONSPACE.search(text, at)
            if found is None:
                return
            line += text.count("\n", at, found.start())
            at = found.start()
            try:
                value, after = decoder.raw_decode(text, at)
            except json.JSONDecodeError as exc:
                yield Record(text[at:at + 64].encode(), kind, f"{self.path}:{exc.lineno}",
                             error=f"JSON document malformed at line {exc.lineno} column "
                                   f"{exc.colno}: {exc.msg}; rest of file skipped",
                             reason=RejectReason.INVALID_JSON)
                return
            for item in value if isinstance(value, list) else (value,):
                yield Record(json.dumps(item, separators=(",", ":")).encode(), kind,
                             f"{self.path}:{line}")
            line += text.count("\n", at, after)
            at = after

    def _lines(self, stream: BinaryIO) -> Iterator[Record]:
        """One record per line (a text log's continuation lines joined to the line they
        continue); the file's kind is told once, from its first lines.

        A file is one kind throughout: in a collector JSON file a line that is not OTLP/JSON
        is a malformed record (counted, skipped), never a text log line.
        """
        path = self.path
        numbered = ((n, raw.rstrip(b"\r\n")) for n, raw in enumerate(stream, 1))
        lines = ((n, line) for n, line in numbered if line.strip())
        head = list(islice(lines, SNIFF_LINES))
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
