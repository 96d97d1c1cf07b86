"""Turn a log line into masked tokens: parameters become one mask, constants stay.

Masking works per whitespace token, because tokens repeat far more than lines do: every
distinct token is classified once by one combined regex and the answer is memoised, so a
common line costs a split and a few dictionary lookups. A few rules need the neighbours
(a unit after a number, a weekday or month name beside a time), and runs of parameters
collapse into one mask, so a parameter that spans a variable number of tokens
(``2034 bytes (1.98 KB)`` against ``785 bytes``) still gives one template.

Built-in rules, one configuration for all logs: UUIDs, URLs, IPv4 (with port) and IPv6,
paths, ``host:port``, host names, hex, values of ``key=value``, any word with a digit in it
(ids, numbers, versions, timestamps), empty brackets, numbers with units, weekday / month /
zone names beside a time, and quoted or bracketed tokens that hold only parameters. Quoted
phrases stay words: they are usually message text (an HTTP request line, a logfmt ``msg``).

User rules from ``templates.masking`` run first, on the whole line, in the order given; a
rule's ``<*>`` becomes the built-in mask, other mask texts stay as written.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from canarywatch.config import MaskRule
from canarywatch.errors import ConfigError

# The mask inside the miner; shown as ``<*>`` in template text. It differs from Drain's own
# wildcard so that two masked positions count as equal when lines are compared.
PARAM = "<#>"
WILDCARD = "<*>"
# A line keeps at most this many tokens (the rest becomes one parameter), so one huge record
# cannot make a huge template; lines longer than MEMO_MAX_BYTES are not memoised.
MAX_TOKENS = 256
# Field delimiters split inside a token (``a|b|c``); tabs split anyway, as whitespace.
DELIMITERS = "|,;"
MEMO_MAX_BYTES = 4096

_MONTH = "jan feb mar apr may jun jul aug sep oct nov dec"
_DAY = "mon tue wed thu fri sat sun"
_ZONE = "utc gmt est edt cst cdt mst mdt pst pdt cet cest am pm"
_DATE_WORDS = frozenset(f"{_MONTH} {_DAY} {_ZONE}".split())
_UNIT_WORDS = (
    "b kb mb gb tb pb kib mib gib tib k m g bytes byte bits kbps mbps gbps ms us ns sec secs "
    "second seconds min mins minute minutes hour hours hrs day days % cpu cpus"
)
_UNITS = frozenset(_UNIT_WORDS.split())
_STRIP = "()[]{},;:.'\"<>"

# One pass over a token finds every parameter inside it; earlier alternatives win.
_RULES: tuple[tuple[str, str], ...] = (
    ("uuid", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    ("url", r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]*"),
    ("ip", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])"),
    ("ipv6", r"(?<![\w:])[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){4,7}(?![\w:])"),
    ("path", r"(?<![\w./:-])(?:/[\w.@%+~$-]*){2,}|(?<![\w./:-])/[\w.@%+~$-]*\d[\w.@%+~$-]*"),
    ("hostport", r"(?<![\w.-])[\w.-]+:\d{1,5}(?![\w.])"),
    (
        "host",
        r"(?<![\w.-])(?:[A-Za-z0-9-]+\.)+(?:com|net|org|edu|gov|mil|io|info|biz|local|"
        r"internal|[a-z]{2}\.[a-z]{2})(?![\w.-])",
    ),
    ("hex", r"0[xX][0-9a-fA-F]+"),
    ("digits", r"(?<![A-Za-z0-9_.-])[\w.-]*\d[\w.-]*"),
)
# The commonest parameter shape, checked before the full rule set: an id or number
# (digits before any ``:`` or ``/``), perhaps in brackets or quotes.
_NUMBER_RX = re.compile(r"[(\[{<'\"#]*[\w.+-]*\d[\w.:/+-]*[)\]}>'\"#,;:.]*")
_TOKEN_RX = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _RULES))
# A run of masks joined only by punctuation is one parameter (``<#>##<#>``, ``<#>:<#>``).
_RUN_RX = re.compile(r"<#>(?:[^\w\s<>]*<#>)+")
_LETTER_RX = re.compile(r"[A-Za-z]")
_EMPTY = frozenset({"()", "[]", "{}", '""', "''", "(),", "[],", "():"})


class Kind(enum.IntEnum):
    """What a token is, as far as the token alone can tell."""

    CONST = 0
    PARAM = 1
    UNIT = 2  # a parameter when it follows one (``1.98 KB``)
    DATE = 3  # a parameter when next to one (``Sun Jul 24 02:38:22 2005``)


def classify(token: str) -> tuple[str, Kind]:
    """Mask one whitespace token; pure, so its answer can be memoised."""
    if token.isdigit() or token in _EMPTY:
        return PARAM, Kind.PARAM
    if "=" in token:
        pair = _PAIR_RX.fullmatch(token)
        if pair is not None:
            return _classify_pair(pair.group(1), pair.group(2), pair.group(3))
    bare = token.strip(_STRIP).lower()
    if bare in _UNITS and bare:
        return token, Kind.UNIT
    if bare in _DATE_WORDS:
        return token, Kind.DATE
    if _NUMBER_RX.fullmatch(token):
        return PARAM, Kind.PARAM
    masked = _TOKEN_RX.sub(PARAM, token)
    if masked == token:
        return token, Kind.CONST
    masked = _RUN_RX.sub(PARAM, masked)
    if _LETTER_RX.search(masked.replace(PARAM, "")) is None:
        return PARAM, Kind.PARAM
    return masked, Kind.CONST


# Units and date words travel through the joined line with a marker in front, so one regex
# can absorb them into the parameter they stand beside; markers are dropped afterwards.
_MARK = {Kind.UNIT: "\x01", Kind.DATE: "\x02"}
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_DROP_MARKS = str.maketrans("", "", "\x01\x02")
_CONTEXT_RX = re.compile(
    r"(?<!\S)(?:\x02\S* )*<#>(?: (?:<#>|[\x01\x02]\S*))*(?!\S)"
)


# ``key=value`` in one token, with any opening punctuation before the key.
_PAIR_RX = re.compile(r"([^\w\s]*[A-Za-z_][\w.-]*=)([\"']?)(.+)")
# Keys whose values name a who, where or which (users, hosts, ids, names): always masked.
# Other keys keep a value that is a plain word (an operation, a state, a result); when such a
# key's values keep changing, the miner's variant merging makes the position a parameter.
_VARIABLE_KEYS = frozenset((
    "user", "username", "usr", "ugi", "uid", "acct", "auid", "gid", "login", "account", "email",
    "owner", "principal", "host", "hostname", "ip", "addr", "address", "src", "dst", "source",
    "dest", "destination", "client", "remote", "peer", "server", "node", "pod", "container",
    "instance", "id", "session", "sid", "request", "req", "requestid", "trace", "traceid",
    "span", "spanid", "path", "file", "filename", "dir", "url", "uri", "query", "db",
    "database", "schema", "tbl", "table", "name", "key", "token", "target", "port", "pid",
    "tid", "thread", "time", "ts", "timestamp", "date", "duration", "elapsed", "latency",
    "took", "size", "bytes", "len", "length", "count", "offset", "partition", "topic", "group",
    "namespace", "ns", "job", "task", "attempt", "object", "bucket", "queue", "device", "disk",
    "volume", "image", "tag", "sha", "commit", "branch"
))
# Keys whose values are categories: what happened, not to whom (never made a parameter).
CATEGORY_KEYS = frozenset([
    "type", "reason", "kind", "event", "action", "op", "operation", "cmd", "command", "verb",
    "method", "status", "state", "result", "res", "outcome", "level", "severity", "phase",
    "category"
])
_VARIABLE_SUFFIXES = ("_id", "-id", ".id", "_ip", "_host", "_name", "_path", "_user", "_addr",
                      "_at", "_ms", "_s", "_ns", "_bytes", "_count", "_size", "_time")


def _variable_key(key: str) -> bool:
    key = key.lstrip(_STRIP)
    if key.endswith(("Id", "ID", "Name", "Path", "Host", "Addr")):  # camelCase: userId
        return True
    bare = key.lower()
    return bare.rpartition(".")[2] in _VARIABLE_KEYS or bare.endswith(_VARIABLE_SUFFIXES)


def _classify_pair(key: str, quote: str, value: str) -> tuple[str, Kind]:
    """``key=value``: the value masked when the key names a variable or the value is one."""
    if _variable_key(key[:-1]):
        return key + PARAM, Kind.CONST
    text, kind = classify(value)
    if kind is Kind.PARAM:
        return key + PARAM, Kind.CONST
    return key + quote + text, Kind.CONST


class Masker:
    """Line -> masked tokens, memoising whole lines and single tokens (both bounded).

    Both memos hold answers of pure functions, so they change speed, never results.
    """

    def __init__(self, rules: Sequence[MaskRule] = (), token_cache_size: int = 50_000,
                 line_cache_size: int = 20_000, delimiters: str = DELIMITERS) -> None:
        # A delimiter between two non-blank characters splits a token into fields.
        self._delimiters = (
            re.compile(rf"(?<=\S)([{re.escape(delimiters)}])(?=\S)") if delimiters else None
        )
        self._user: list[tuple[re.Pattern[str], str]] = []
        for i, rule in enumerate(rules):
            try:
                # A rule's <*> is our mask, so masked positions still count as alike.
                self._user.append((re.compile(rule.pattern), rule.mask.replace(WILDCARD, PARAM)))
            except re.error as exc:
                raise ConfigError(f"templates.masking.{i}.pattern", f"bad regex: {exc}") from None
        self._tokens: dict[str, str] = {}
        self._lines: dict[bytes, tuple[str, ...]] = {}
        self._token_cache_size = token_cache_size
        self._line_cache_size = line_cache_size

    def tokens(self, line: str) -> tuple[str, ...]:
        """The masked tokens of ``line``; runs of parameters become one ``PARAM``.

        After the user's rules, every digit is read as ``0``: no built-in rule tells one
        digit from another, so lines that differ only in their numbers share one shape and
        the memo of shapes answers most lines without masking them again.
        """
        for rx, mask in self._user:
            line = rx.sub(mask, line)
        # Bytes, because bytes.translate is an order of magnitude faster than str.translate.
        shape = line.encode("utf-8", "surrogatepass").translate(_ZERO_DIGITS)
        hit = self._lines.get(shape)
        if hit is not None:
            return hit
        result = self._mask(shape.decode("utf-8", "surrogatepass"))
        if self._line_cache_size and len(shape) <= MEMO_MAX_BYTES:
            if len(self._lines) >= self._line_cache_size:
                self._lines.clear()
            self._lines[shape] = result
        return result

    def _mask(self, shape: str) -> tuple[str, ...]:
        raw = shape.split()
        if len(raw) > MAX_TOKENS:
            raw = [*raw[: MAX_TOKENS - 1], PARAM]
        masked = list(map(self._tokens.get, raw))
        if None in masked:
            for i, value in enumerate(masked):
                if value is None:
                    masked[i] = self._classify(raw[i])
        joined = " ".join(masked)  # type: ignore[arg-type]  # no None is left
        marked = "\x01" in joined or "\x02" in joined
        if marked or "<#> <#>" in joined:
            joined = _CONTEXT_RX.sub(PARAM, joined)
            if marked:
                joined = joined.translate(_DROP_MARKS)
        return tuple(joined.split(" ")) if joined else ()

    def _classify(self, token: str) -> str:
        text, kind = classify(token)
        if kind is Kind.CONST and self._delimiters is not None \
                and self._delimiters.search(token):
            # A delimited record: each field masked on its own, delimiters kept as tokens.
            pieces = self._delimiters.split(token)
            text = " ".join(p if i % 2 else classify(p)[0] for i, p in enumerate(pieces) if p)
            text = _RUN_RX.sub(PARAM, text)
        value = _MARK.get(kind, "") + text
        if self._token_cache_size:
            if len(self._tokens) >= self._token_cache_size:
                self._tokens.clear()
            self._tokens[token] = value
        return value


def template_text(tokens: Sequence[str]) -> str:
    """Template tokens as users see them: every parameter shown as ``<*>``."""
    return " ".join(tokens).replace(PARAM, WILDCARD)
