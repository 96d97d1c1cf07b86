"""What a file or payload holds, told by content: a :class:`Format`, or a :class:`Rejection`.

:func:`detect_format` looks at the first :data:`HEAD_BYTES` (after decompression) and never
guesses text for binary content:

1. compression by magic bytes: gzip, zstd (whole file: ``zstd file.json``), bzip2, xz and lz4
   frames are opened; zip, snappy-framed and other archives are refused by name;
2. ``otlp_frames``: the collector file exporter's ``format: proto`` (and any exporter output
   with ``compression: zstd``): a 4-byte big-endian length (first byte 0-3, which no text file
   starts with) before each message, the message protobuf (0x0A), zstd, gzip or JSON;
3. bytes that are not text (NUL bytes, invalid UTF-8 that is not mostly printable ASCII,
   control characters) are refused as ``binary_content``;
4. JSON: ``[`` then ``{`` is a JSON array of objects, and a first line that is not a complete
   JSON value (``{`` alone, as pretty-printers write) starts a multi-line JSON document; both
   are ``json_document`` (OTLP when the head names ``resourceSpans``/``resourceLogs``, else
   JSON log objects). A first line that is complete JSON makes a line-oriented file:
   ``otlp_json_lines`` when an OTLP object is among the first lines, ``log_json_lines`` when
   most are JSON objects;
5. anything else that is text is ``log_text``.

Kafka payloads go through the same checks in the decoders (:func:`payload_compression`,
:func:`looks_binary`); :func:`decompress_payload` opens one compressed message.
"""

from __future__ import annotations

import bz2
import enum
import gzip
import io
import json
import lzma
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import lz4.frame
import zstandard

from canarywatch.rejects import Rejection, RejectReason
from canarywatch.sources.base import PayloadKind

HEAD_BYTES = 1 << 16
MAX_PAYLOAD_BYTES = 1 << 26  # a decompressed message larger than this is refused
SNIFF_LINES = 16


class Compression(str, enum.Enum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"
    BZIP2 = "bzip2"
    XZ = "xz"
    LZ4 = "lz4"


class Layout(str, enum.Enum):
    """How records are laid out in a file."""

    OTLP_FRAMES = "otlp_frames"  # 4-byte length before each message (file exporter proto/zstd)
    OTLP_JSON_LINES = "otlp_json_lines"  # one OTLP/JSON object per line (file exporter json)
    JSON_DOCUMENT = "json_document"  # pretty-printed object(s) or one JSON array of them
    LOG_JSON_LINES = "log_json_lines"  # one JSON log object per line
    LOG_TEXT = "log_text"  # one plain-text log line per line


@dataclass(frozen=True, slots=True)
class Format:
    """A detected format: layout, whole-file compression and the records' payload kind."""

    layout: Layout
    compression: Compression
    kind: PayloadKind

    def __str__(self) -> str:
        if self.compression is Compression.NONE:
            return self.layout.value
        return f"{self.layout.value}+{self.compression.value}"


_MAGIC: tuple[tuple[bytes, Compression], ...] = (
    (b"\x1f\x8b", Compression.GZIP),
    (b"\x28\xb5\x2f\xfd", Compression.ZSTD),
    (b"BZh", Compression.BZIP2),
    (b"\xfd7zXZ\x00", Compression.XZ),
    (b"\x04\x22\x4d\x18", Compression.LZ4),
)
_UNSUPPORTED: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive"),
    (b"\xff\x06\x00\x00sNaPpY", "a snappy-framed stream"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a rar archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "an executable"),
    (b"%PDF", "a PDF document"),
)
_FRAME_BODY_STARTS = frozenset(b"\x0a\x28\x1f{")  # proto field 1, zstd, gzip, JSON
_OTLP_KEYS = re.compile(rb'"(?:resourceSpans|resourceLogs|resource_spans|resource_logs)"')
_OTLP_JSON_LINE = re.compile(
    rb'\s*\{\s*"(?:resourceSpans|resourceLogs|resource_spans|resource_logs)"')
_WHITESPACE = b" \t\r\n\f\v"
# Control bytes text never holds (tab, newline, CR, form feed, backspace and ESC it may).
_CONTROL = bytes(c for c in range(32) if c not in (8, 9, 10, 12, 13, 27)) + b"\x7f"


def compression_of(head: bytes) -> Compression | Rejection:
    """The compression a file or payload starts with (NONE if it starts with none); a known
    but unsupported container (zip, snappy framing ...) is a Rejection."""
    for magic, compression in _MAGIC:
        if head.startswith(magic):
            return compression
    for magic, what in _UNSUPPORTED:
        if head.startswith(magic):
            return Rejection("", RejectReason.BINARY_CONTENT,
                             f"content is {what}, which canarywatch does not read")
    return Compression.NONE


def payload_compression(payload: bytes) -> Compression:
    """gzip / zstd / lz4 message compression by magic (NONE otherwise): cheap, per message."""
    first = payload[:1]
    if first == b"\x28" and payload[:4] == b"\x28\xb5\x2f\xfd":
        return Compression.ZSTD
    if first == b"\x1f" and payload[:2] == b"\x1f\x8b":
        return Compression.GZIP
    if first == b"\x04" and payload[:4] == b"\x04\x22\x4d\x18":
        return Compression.LZ4
    return Compression.NONE


def decompress_payload(payload: bytes, compression: Compression) -> bytes:
    """One compressed message, decompressed (at most :data:`MAX_PAYLOAD_BYTES`).

    Raises ValueError with the reason in words when it is corrupt or too large.
    """
    try:
        if compression is Compression.ZSTD:
            out = zstandard.ZstdDecompressor().stream_reader(
                io.BytesIO(payload), read_across_frames=True).read(MAX_PAYLOAD_BYTES + 1)
        elif compression is Compression.GZIP:
            out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
                payload, MAX_PAYLOAD_BYTES + 1)
        elif compression is Compression.LZ4:
            out = lz4.frame.LZ4FrameDecompressor().decompress(payload, MAX_PAYLOAD_BYTES + 1)
        else:
            return payload
    except (zstandard.ZstdError, zlib.error, RuntimeError, OSError, EOFError) as exc:
        raise ValueError(f"{compression.value} data is corrupt: {exc}") from None
    if len(out) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{compression.value} message decompresses to more than "
                         f"{MAX_PAYLOAD_BYTES} bytes")
    return bytes(out)


def open_stream(raw: BinaryIO, compression: Compression) -> BinaryIO:
    """A readable stream of the decompressed content of ``raw`` (positioned at its start)."""
    if compression is Compression.GZIP:
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if compression is Compression.ZSTD:
        # buffered: the zstd reader has no readline, which line iteration needs
        return cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, zstandard.ZstdDecompressor(
            ).stream_reader(raw, read_across_frames=True, closefd=False)), HEAD_BYTES))
    if compression is Compression.BZIP2:
        return cast(BinaryIO, bz2.BZ2File(raw))
    if compression is Compression.XZ:
        return cast(BinaryIO, lzma.LZMAFile(raw))
    if compression is Compression.LZ4:
        return cast(BinaryIO, lz4.frame.LZ4FrameFile(raw))
    return raw


def looks_binary(data: bytes, cut: bool = False) -> bool:
    """True when ``data`` is not UTF-8-ish text: it holds NUL or other control bytes, or is
    not UTF-8 and a quarter or more of it is non-ASCII (a Latin-1 log line reads as text).
    ``cut``: ``data`` may end inside a multi-byte character (a head read from a stream)."""
    if not data:
        return False
    if b"\0" in data:
        return True
    controls = len(data) - len(data.translate(None, _CONTROL))
    if controls * 100 > len(data):
        return True
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return False
    # not UTF-8: text in a legacy encoding (Latin-1 ...) is still mostly ASCII; random
    # bytes are printable ASCII only 37% of the time
    high = sum(1 for b in data if b >= 0x80)
    return high * 4 > len(data)


def _mostly_binary(head: bytes, complete: bool) -> bool:
    """True when most of the first lines of ``head`` are binary (one garbage line in a text
    file is that line's problem, counted when it is read, not the file's)."""
    lines = head.splitlines(keepends=True)[:SNIFF_LINES]
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of a head may be cut
    binary = sum(1 for line in lines if looks_binary(line, cut=not complete))
    return binary * 2 > len(lines)


def _first_line(head: bytes) -> bytes | None:
    """The first non-blank line of ``head``, or None when it does not end within ``head``."""
    for line in head.splitlines(keepends=True):
        if line.strip():
            return line if line.endswith((b"\n", b"\r")) else None
    return None


def _complete_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _lines_after_are_json(head: bytes, complete: bool) -> bool:
    """Whether most of the lines after the first in ``head`` are each a whole JSON value: a
    JSON-lines file whose first line is broken (cut, a raw control character), not one
    document over many lines (whose inner lines are never whole values). Without this, one
    bad first line made the whole file one malformed document."""
    lines = [line for line in head.splitlines()[1:SNIFF_LINES + 1] if line.strip()]
    if not complete and lines:
        lines = lines[:-1]  # the last line of a head may be cut
    whole = sum(1 for line in lines if line.lstrip()[:1] in (b"{", b"[")
                and _complete_json(line))
    return bool(lines) and whole * 2 > len(lines)


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


def classify(head: bytes, compression: Compression = Compression.NONE, *,
             complete: bool = True, origin: str = "") -> Format | Rejection:
    """The format of content starting with ``head`` (already decompressed); ``complete``:
    ``head`` is the whole content, not a prefix of it."""
    if not head.strip(_WHITESPACE):
        return Rejection(origin, RejectReason.EMPTY_PAYLOAD, "holds no data (empty or blank)")
    if head[0] < 4 and (len(head) < 5 or head[4] in _FRAME_BODY_STARTS
                        or head[:4] == b"\0\0\0\0"):
        return Format(Layout.OTLP_FRAMES, compression, PayloadKind.OTLP_ANY)
    if _mostly_binary(head, complete):
        return Rejection(origin, RejectReason.BINARY_CONTENT,
                         "is binary: not UTF-8 text, not a length-framed OTLP file and not a "
                         "compression canarywatch knows (gzip, zstd, bzip2, xz, lz4)")
    stripped = head.lstrip(_WHITESPACE)
    otlp = _OTLP_KEYS.search(head) is not None
    document_kind = PayloadKind.OTLP_ANY if otlp else PayloadKind.LOG_JSON
    if stripped[:1] == b"[" and stripped[1:].lstrip(_WHITESPACE)[:1] in (b"{", b"]"):
        first = _first_line(stripped)
        if first is None or not _complete_json(first) or otlp:
            return Format(Layout.JSON_DOCUMENT, compression, document_kind)
    if stripped[:1] == b"{":
        first = _first_line(stripped)
        if first is None and complete:
            first = stripped
        if first is not None and not _complete_json(first) \
                and not _lines_after_are_json(stripped, complete):
            return Format(Layout.JSON_DOCUMENT, compression, document_kind)
    lines = [line for line in stripped.splitlines()[:SNIFF_LINES] if line.strip()]
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of a head may be cut
    kind = file_kind(lines)
    layout = {PayloadKind.OTLP_ANY: Layout.OTLP_JSON_LINES,
              PayloadKind.LOG_JSON: Layout.LOG_JSON_LINES}.get(kind, Layout.LOG_TEXT)
    return Format(layout, compression, kind)


def detect_format(source: Path | bytes, origin: str | None = None) -> Format | Rejection:
    """The format of a file (by path) or of in-memory content, or why it cannot be read.

    Reads at most :data:`HEAD_BYTES` of decompressed content. A file that cannot be opened
    is an OSError (the caller names it); everything else is a Format or a Rejection whose
    origin is ``origin`` (default: the path).
    """
    if isinstance(source, Path):
        where = str(source) if origin is None else origin
        with source.open("rb") as raw:
            return detect_stream(raw, where)
    return detect_stream(io.BytesIO(source), origin or "<bytes>")


def detect_stream(raw: BinaryIO, origin: str) -> Format | Rejection:
    """Like :func:`detect_format` for an open binary stream (read from its current start)."""
    start = raw.tell()
    magic = raw.read(8)
    raw.seek(start)
    compression = compression_of(magic)
    if isinstance(compression, Rejection):
        return Rejection(origin, compression.reason, compression.detail)
    try:
        stream = open_stream(raw, compression)
        head = stream.read(HEAD_BYTES)
        complete = len(head) < HEAD_BYTES or not stream.read(1)
    except (OSError, EOFError, zstandard.ZstdError, lzma.LZMAError, RuntimeError) as exc:
        return Rejection(origin, RejectReason.CORRUPT_COMPRESSION,
                         f"starts like {compression.value} but cannot be decompressed: {exc}")
    finally:
        raw.seek(start)
    if head and not head.strip(b"\0"):  # /dev/zero, a zeroed disk block: zero-length frames
        return Rejection(origin, RejectReason.BINARY_CONTENT,
                         f"only NUL bytes in its first {len(head)} bytes, no telemetry")
    return classify(head, compression, complete=complete, origin=origin)
