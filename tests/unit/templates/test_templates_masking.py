"""Masking: which parts of a line are parameters, and that memoising never changes answers."""

from __future__ import annotations

import random

import pytest

from canarywatch.config import MaskRule
from canarywatch.errors import ConfigError
from canarywatch.templates.masking import PARAM, Masker, template_text

P = PARAM


def masked(line: str) -> list[str]:
    return list(Masker().tokens(line))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Received block blk_-1608999687919862906 of size 91178",
         ["Received", "block", P, "of", "size", P]),
        ("instance 3f2b6c1e-9a4d-4c1b-8f7e-0123456789ab spawned",
         ["instance", P, "spawned"]),
        ("connection from 10.0.0.12:5432 refused", ["connection", "from", P, "refused"]),
        ("peer fe80::1ff:fe23:4567:890a gone", ["peer", P, "gone"]),
        ("fault at 0xdeadbeef in kernel", ["fault", "at", P, "in", "kernel"]),
        ("GET https://shop.example.com/cart?id=7 done", ["GET", P, "done"]),
        ("opened /var/log/app/current.log for writing", ["opened", P, "for", "writing"]),
        ("resolved db.internal.example.com quickly", ["resolved", P, "quickly"]),
        ("retry user=alice attempt=3", ["retry", "user=" + P, "attempt=" + P]),
        ("took 1.98 KB in 35 ms total", ["took", P, "in", P, "total"]),
        ("sent 2034 bytes (1.98 KB) ok", ["sent", P, "ok"]),
        ("at Sun Jul 24 02:38:22 2005 login", ["at", P, "login"]),
        ("started 2026-11-20T10:05:12.123Z on node-17", ["started", P, "on", P]),
        ("values 1 2 3 4 end", ["values", P, "end"]),
        ("steps=1514038560000##7102##548579 end", ["steps=" + P, "end"]),
        ("onExtend:1514038673000 ok", ["onExtend:" + P, "ok"]),
        ("connect from host () now", ["connect", "from", "host", P, "now"]),
        ("lookup of 'user-1234' failed", ["lookup", "of", P, "failed"]),
        ('span "12 34" done', ["span", P, "done"]),
        ("logged at 2026-11-20 10:05:12,123 ok", ["logged", "at", P, "ok"]),
    ],
)
def test_builtin_rules_mask_parameters(line: str, expected: list[str]) -> None:
    """Ids, UUIDs, IPs with ports, hex, URLs, paths, hosts, key=value, sizes and times mask."""
    assert masked(line) == expected


def test_constant_words_stay() -> None:
    """Words without digits are kept, so different messages keep different tokens."""
    assert masked("Location icon should now be in state 'Active'") == [
        "Location", "icon", "should", "now", "be", "in", "state", "'Active'"]


def test_units_and_date_words_alone_are_words() -> None:
    """A unit or month name with no number beside it is an ordinary word."""
    assert masked("May the bytes be with you") == ["May", "the", "bytes", "be", "with", "you"]


def test_user_rules_run_first() -> None:
    """A configured rule rewrites the line before the built-in rules see it."""
    masker = Masker([MaskRule(pattern=r"tenant [a-z]+", mask="tenant <T>")])
    assert masker.tokens("request for tenant acme failed") == (
        "request", "for", "tenant", "<T>", "failed")


def test_user_rule_wildcard_counts_as_a_mask() -> None:
    """A rule masking with <*> produces the same mask the built-in rules use."""
    masker = Masker([MaskRule(pattern=r"tenant [a-z]+")])
    assert masker.tokens("request for tenant acme failed") == (
        "request", "for", P, "failed")


def test_huge_lines_are_cut_to_a_bounded_template() -> None:
    """A line with thousands of tokens keeps MAX_TOKENS, the rest being one parameter."""
    tokens = Masker().tokens(" ".join(f"w{chr(97 + i % 26)}x" for i in range(5000)))
    assert len(tokens) == 256 and tokens[-1] == P


def test_bad_user_regex_names_the_key() -> None:
    """An invalid configured regex is a ConfigError naming templates.masking.N.pattern."""
    with pytest.raises(ConfigError) as info:
        Masker([MaskRule(pattern="ok"), MaskRule(pattern="(unclosed")])
    assert info.value.key == "templates.masking.1.pattern"


def test_template_text_shows_masks_as_wildcards() -> None:
    """Users see every parameter as <*>."""
    assert template_text(("took", P, "ms", "<*>", "id=" + P)) == "took <*> ms <*> id=<*>"


def test_memos_never_change_answers() -> None:
    """Token and line memos (also when they fill up and clear) give the unmemoised answer."""
    rnd = random.Random(7)
    words = ["alpha", "beta", "KB", "Jul", "Mon", "id=", "(x)", "/tmp/a/b", "0x1f", "()"]
    lines = [
        " ".join(rnd.choice(words) if rnd.random() < 0.6 else str(rnd.randint(0, 10**6))
                 for _ in range(rnd.randint(0, 9)))
        for _ in range(3000)
    ]
    plain = Masker(token_cache_size=0, line_cache_size=0)
    memo = Masker(token_cache_size=17, line_cache_size=23)
    assert [memo.tokens(line) for line in lines] == [plain.tokens(line) for line in lines]


def test_empty_line_has_no_tokens() -> None:
    """Blank lines mask to no tokens instead of failing."""
    assert Masker().tokens("   ") == ()


@pytest.mark.parametrize(("line", "expected"), [
    ("ugi=alice cmd=get_table tbl=orders", ["ugi=<#>", "cmd=get_table", "tbl=<#>"]),
    ("reason=ContainerDied pod=web-1 userId=abc", ["reason=ContainerDied", "pod=<#>",
                                                   "userId=<#>"]),
    ("status=ok attempt=3 took=15ms", ["status=ok", "attempt=<#>", "took=<#>"]),
    ('op="login" acct="bob"', ['op="login"', "acct=<#>"]),
])
def test_key_value_values_masked_only_when_variable(line: str, expected: list[str]) -> None:
    """A key that names a who/where/which, or a variable-looking value, is masked; a value
    naming the operation stays."""
    assert list(Masker().tokens(line)) == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("2026-01-01|alice|LOGIN|OK|10.0.0.1", ["<#>", "|", "alice", "|", "LOGIN", "|", "OK", "|",
                                            "<#>"]),
    ("upload,web-3,bob,42", ["upload", ",", "<#>", ",", "bob", ",", "<#>"]),
    ("queued;mailer;carol", ["queued", ";", "mailer", ";", "carol"]),
    ("ids [1,2,3] done", ["ids", "<#>", "done"]),
    ("failed, retrying", ["failed,", "retrying"]),
])
def test_delimited_records_split_into_fields(line: str, expected: list[str]) -> None:
    """| , ; between fields split a record, so each field is masked on its own; a number
    list stays one parameter and prose commas stay."""
    assert list(Masker().tokens(line)) == expected


def test_delimiters_are_configurable() -> None:
    """An empty delimiter set leaves delimited records whole."""
    assert Masker(delimiters="").tokens("alice|LOGIN|OK") == ("alice|LOGIN|OK",)
