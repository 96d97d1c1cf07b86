"""Timestamps as log lines write them, to Unix nanoseconds (UTC when no zone is given)."""

from __future__ import annotations

import calendar
import re

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s?(Z|z|[+-]\d{2}:?\d{2})?")
_APACHE = re.compile(  # [Sun Dec 04 04:47:44 2005]
    r"\[(?:[A-Z][a-z]{2} )?([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r" (\d{4})\]")
_EPOCH = re.compile(r"(\d{10}(?:\.\d{1,9})?|\d{13}|\d{16}|\d{19})(?=[\s\]|,;:]|$)")
_DECIMAL = re.compile(r"\d+\.\d+")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_NS = 1_000_000_000


def _to_ns(civil: tuple[int, int, int, int, int, int], fraction: str | None,
           zone: str | None) -> int | None:
    """(year, month, day, hour, minute, second), a decimal fraction and a zone, in Unix ns."""
    year, month, day, hour, minute, second = civil
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59
            and second <= 60):
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    frac_ns = int((fraction or "0")[:9].ljust(9, "0"))
    offset_s = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_s = sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)
    return (seconds - offset_s) * _NS + frac_ns


def epoch_to_ns(number: float) -> int:
    """Epoch seconds, milliseconds, microseconds or nanoseconds, told by magnitude."""
    magnitude = abs(number)
    if magnitude < 1e11:
        return round(number * _NS)
    if magnitude < 1e14:
        return round(number * 1_000_000)
    if magnitude < 1e17:
        return round(number * 1_000)
    return int(number)


def parse_time(value: object) -> int | None:
    """A JSON time field (RFC 3339 string, epoch number or numeric string) in Unix ns."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return epoch_to_ns(value) if abs(value) < 1e17 else value
    if isinstance(value, float):
        return epoch_to_ns(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        number = int(text)
        return epoch_to_ns(number) if number < 1e17 else number
    if _DECIMAL.fullmatch(text):
        return epoch_to_ns(float(text))
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    y, mo, d, h, mi, s, frac, zone = match.groups()
    return _to_ns((int(y), int(mo), int(d), int(h), int(mi), int(s)), frac, zone)


def leading_time(line: str) -> tuple[int | None, int]:
    """A timestamp at the start of a text line: (Unix ns or None, where the rest begins).

    Understands RFC 3339 / ISO 8601 (optionally bracketed, ``,`` or ``.`` fractions),
    Apache's ``[Sun Dec 04 04:47:44 2005]`` and epoch numbers.
    """
    start = 1 if line.startswith("[") and line[1:2].isdigit() else 0
    match = _RFC3339.match(line, start)
    if match:
        y, mo, d, h, mi, s, frac, zone = match.groups()
        end = match.end()
        if start and line[end:end + 1] == "]":
            end += 1
        return _to_ns((int(y), int(mo), int(d), int(h), int(mi), int(s)), frac, zone), end
    match = _APACHE.match(line)
    if match:
        mon, d, h, mi, s, frac, y = match.groups()
        civil = (int(y), _MONTHS.get(mon, 0), int(d), int(h), int(mi), int(s))
        return _to_ns(civil, frac, None), match.end()
    match = _EPOCH.match(line)
    if match:
        return epoch_to_ns(float(match.group(1)) if "." in match.group(1)
                           else int(match.group(1))), match.end()
    return None, 0
