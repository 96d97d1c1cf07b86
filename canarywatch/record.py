"""``canarywatch record``: save a Kafka time range as collector file-exporter files.

Each partition becomes files in ``DIR`` named after it, so an incident can be kept past the
topic's retention, shared, and replayed with ``canarywatch replay DIR``:

- ``<topic>-<partition>.binpb``: otlp_proto messages as the file exporter's ``format: proto``
  writes them (a 4-byte big-endian length before each message), bytes unchanged;
- ``<topic>-<partition>.jsonl``: OTLP/JSON messages as ``format: json`` writes them, one per
  line (a message pretty-printed over several lines is re-serialised compactly);
- ``<topic>-<partition>.log``: records of extra log topics, one per line.

Which wire format a message is in is told by its first byte (``{`` is JSON), as the decoders
tell it. Empty records (tombstones) and JSON that does not parse are counted and skipped. With
``gzip`` every file is gzip-compressed and ends in ``.gz``.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import json
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from canarywatch.errors import InputError
from canarywatch.sources.base import PayloadKind
from canarywatch.sources.kafka_range import KafkaRange

log = logging.getLogger(__name__)

_LINE_KINDS = (PayloadKind.LOG_JSON, PayloadKind.LOG_TEXT)


@dataclass(slots=True)
class RecordResult:
    files: list[Path] = field(default_factory=list)
    records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records


def _suffix(kind: PayloadKind, payload: bytes) -> str:
    if kind in _LINE_KINDS:
        return ".log"
    return ".jsonl" if payload.lstrip()[:1] == b"{" else ".binpb"


def record_range(kafka: KafkaRange, out_dir: Path, gzip: bool = False) -> RecordResult:
    """Write every record of the range to ``out_dir``; InputError if it cannot be written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(str(out_dir), f"cannot create: {exc.strerror}") from None
    result = RecordResult()
    with contextlib.ExitStack() as stack:
        stack.callback(kafka.close)
        handles: dict[Path, BinaryIO] = {}
        for part in kafka.partitions():
            stem = f"{part.tp.topic}-{part.tp.partition}"
            for record in part:
                payload = record.payload
                if not payload.strip():
                    _skip(result, "empty record")
                    continue
                suffix = _suffix(record.kind, payload)
                line = payload
                if suffix == ".jsonl" and (b"\n" in payload or b"\r" in payload):
                    try:
                        line = json.dumps(json.loads(payload), separators=(",", ":"),
                                          ensure_ascii=False).encode("utf-8")
                    except (ValueError, UnicodeDecodeError):
                        _skip(result, "JSON that does not parse")
                        log.warning("%s: skipped, not JSON", record.origin)
                        continue
                elif suffix == ".log":
                    line = payload.replace(b"\r\n", b"\n").replace(b"\n", b" ")
                path = out_dir / (stem + suffix + (".gz" if gzip else ""))
                handle = handles.get(path)
                if handle is None:
                    handle = handles[path] = stack.enter_context(_open(path, gzip))
                    result.files.append(path)
                if suffix == ".binpb":
                    handle.write(struct.pack(">I", len(payload)))
                    handle.write(payload)
                else:
                    handle.write(line)
                    handle.write(b"\n")
                result.records += 1
    return result


def _skip(result: RecordResult, reason: str) -> None:
    result.skipped[reason] = result.skipped.get(reason, 0) + 1


def _open(path: Path, compress: bool) -> BinaryIO:
    try:
        if compress:
            return cast(BinaryIO, gzip_module.open(path, "wb", compresslevel=6))
        return path.open("wb")
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {exc.strerror}") from None


def describe(result: RecordResult) -> Sequence[str]:
    """Lines for the terminal: the files written and what was skipped."""
    lines = [str(p) for p in result.files]
    lines.append(f"{result.records} records written")
    lines.extend(f"{n} skipped: {reason}" for reason, n in sorted(result.skipped.items()))
    return lines
