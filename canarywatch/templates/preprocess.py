"""What of a log body is mined: the message of a structured line, the identity of a stack trace.

A body is one of:

- a multi-line record with a stack trace (Java/Kotlin ``at ...`` frames and ``Caused by:``
  chains, Python tracebacks): its signature is the first line, the first and the last
  exception (``type: message``) of the chain (the outermost and the innermost cause, in either
  language's order); frames, ``... N more`` and suppressed exceptions are evidence only, so a
  deeper or shallower stack, other line numbers or other framework frames keep the signature;
- a JSON object or a logfmt line, whole or after a short text header (syslog, container
  runtimes): the message field is mined (plus an error field, whose cause is part of the
  identity); the level field gives the severity; the other fields are attributes;
- anything else: the body itself (the masker then splits delimited fields).

Plain one-line bodies, the common case, cost three substring checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from canarywatch.decode.lines import level_of
from canarywatch.decode.structured import (
    ERROR_FIELDS,
    LEVEL_FIELDS,
    MESSAGE_FIELDS,
    TIME_FIELDS,
    first_field,
    parse_json_object,
    parse_logfmt,
)
from canarywatch.events import Severity

# A line of a chain that names an exception: ``Caused by: a.b.FooException: message``.
_EXCEPTION = re.compile(
    r"(?:Caused by:\s*)?((?:[A-Za-z_$][\w$]*\.)*[A-Z][\w$]*"
    r"(?:Exception|Error|Throwable|Failure|Fault|Exit|Interrupt|Warning|Timeout))"
    r"(?::\s*(.*))?"
)
_FRAME_PREFIXES = ("at ", "...", 'File "', "Suppressed:", "Traceback (most recent")
# Java frames of the runtime and common frameworks; the rest are the application's.
_LIBRARY_FRAME = re.compile(
    r"at (?:[\w.-]+/)?(?:java|javax|jdk|sun|com\.sun|kotlin|kotlinx|scala|groovy|"
    r"org\.springframework|org\.apache|org\.eclipse|org\.hibernate|org\.glassfish|io\.netty|"
    r"io\.grpc|io\.micrometer|reactor|okhttp3|okio|com\.google|com\.fasterxml|ch\.qos|"
    r"org\.slf4j|io\.undertow|org\.jboss|feign|retrofit2|com\.zaxxer|net\.bytebuddy)[.$]"
)
# A klog header (Kubernetes components): ``E0312 10:01:02.123456    1 file.go:42] ...``.
_KLOG = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\]")
_KLOG_LEVELS = {"I": Severity.INFO, "W": Severity.WARN, "E": Severity.ERROR,
                "F": Severity.FATAL}
# A syslog priority (RFC 3164 ``<34>``, RFC 5424 ``<165>1 ``) before the header.
_SYSLOG_PRI = re.compile(r"<\d{1,3}>(?:1 )?")
MAX_HEADER_CHARS = 120  # text before a JSON object that may still be a header
MAX_FRAMES = 3


@dataclass(frozen=True, slots=True)
class Prepared:
    """One body, prepared for mining.

    ``text`` is what the masker and miner see; ``severity`` is the level the body itself
    names (UNSPECIFIED when it names none); ``attributes`` are the structured fields other
    than message and level, as text.
    """

    text: str
    severity: Severity
    attributes: tuple[tuple[str, str], ...] = ()


class Preprocessor:
    """Body -> text to mine (and the severity and attributes a structured body carries)."""

    def __init__(self, message_fields: Sequence[str] = MESSAGE_FIELDS,
                 level_fields: Sequence[str] = LEVEL_FIELDS) -> None:
        self.message_fields = tuple(message_fields)
        self.level_fields = tuple(level_fields)

    def text(self, body: str) -> str:
        """What to mine of ``body``; a plain one-line body is returned as it is."""
        if "\n" not in body and "{" not in body and "=" not in body:
            return body if body[:1] != "<" else _SYSLOG_PRI.sub("", body, 1)
        return self.prepare(body).text

    def prepare(self, body: str) -> Prepared:
        """Text, severity and attributes of ``body``."""
        if "\n" in body.strip():
            head, _, rest = body.strip().partition("\n")
            first = self.prepare(head)
            return Prepared(stack_signature(first.text, rest), first.severity, first.attributes)
        stripped = body.strip()
        if stripped[:1] == "<":
            stripped = _SYSLOG_PRI.sub("", stripped, 1)
        start = stripped.find("{")
        if start >= 0 and start <= MAX_HEADER_CHARS:
            obj = parse_json_object(stripped[start:])
            if obj is not None:
                return self._structured(stripped[:start], obj)
        if "=" in stripped:
            pairs = parse_logfmt(stripped)
            # A logfmt logger writes a time or a level beside the message (auditd's
            # ``type=... msg=audit(...)`` lines are key=value text, not logfmt).
            if pairs is not None and first_field(pairs, self.message_fields) and \
                    first_field(pairs, (*self.level_fields, *TIME_FIELDS)):
                return self._structured("", dict(pairs))
        klog = _KLOG.match(stripped)
        if klog:
            return Prepared(stripped, _KLOG_LEVELS[klog.group(1)])
        return Prepared(body, Severity.UNSPECIFIED)

    def _structured(self, header: str, obj: dict[str, object]) -> Prepared:
        message = first_field(obj, self.message_fields, text_only=True)
        level = first_field(obj, self.level_fields)
        used = {found[0] for found in (message, level) if found is not None}
        if message is None:
            # No message field: the statement is known by its keys (values are attributes).
            text = "{" + " ".join(sorted(k for k in obj if k not in used)) + "}"
        else:
            text = _as_text(message[1])
            if "\n" in text.strip():
                head, _, rest = text.strip().partition("\n")
                text = stack_signature(head, rest)
            error = first_field({k: v for k, v in obj.items() if k not in used}, ERROR_FIELDS)
            if error is not None:
                used.add(error[0])
                cause = _as_text(error[1]).strip()
                head, _, rest = cause.partition("\n")
                text = f"{text} {error[0]}: {stack_signature(head, rest) if rest else head}"
        severity = level_of(level[1]) if level is not None else Severity.UNSPECIFIED
        attributes = tuple((k, _as_text(v)) for k, v in obj.items() if k not in used)
        return Prepared(f"{header}{text}" if header else text, severity, attributes)


def stack_signature(head: str, rest: str) -> str:
    """The identity of a record whose first line is ``head`` and whose other lines are ``rest``.

    The first line, then the first and the last exception named by the other lines (type and
    message), each once; frames and everything else are left out.
    """
    found: list[str] = []
    for line in rest.split("\n"):
        s = line.strip()
        # Indented lines are frames, code or suppressed chains: evidence, not identity.
        if not s or line[:1] in " \t" or s.startswith(_FRAME_PREFIXES):
            continue
        m = _EXCEPTION.fullmatch(s)
        if m:
            found.append(f"{m.group(1)}: {m.group(2)}" if m.group(2) else m.group(1))
    parts = [head.strip()]
    for exc in (found[:1] + found[-1:]) if found else ():
        if exc not in parts and exc not in head:
            parts.append(exc)
    return " | ".join(parts)


def application_frames(body: str, limit: int = MAX_FRAMES) -> list[str]:
    """The first ``limit`` stack frames of ``body`` that are not the runtime's or a framework's."""
    frames: list[str] = []
    for line in body.split("\n")[1:]:
        s = line.strip()
        if (s.startswith("at ") and not _LIBRARY_FRAME.match(s)) or (
                s.startswith('File "') and "site-packages" not in s and "/lib/python" not in s):
            frames.append(s)
        if len(frames) >= limit:
            break
    return frames


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return str(value)
