"""`canarywatch templates`: per-line output in input order, exit code 2 on a missing file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from canarywatch.config import TemplatesConfig
from canarywatch.templates import run_templates_command


def test_json_output_one_object_per_line_in_order(tmp_path: Path) -> None:
    """--json prints {"line", "template_id", "template"} per input line, final templates."""
    first = tmp_path / "a.log"
    second = tmp_path / "b.log"
    first.write_text("disk sda1 is 91% full\nuser bob logged in\n", encoding="utf-8")
    second.write_text("disk sdb2 is 97% full\n", encoding="utf-8")
    out = io.StringIO()
    assert run_templates_command([first, second], True, TemplatesConfig(), out) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[0]["template_id"] == records[2]["template_id"] != records[1]["template_id"]
    assert records[0]["template"] == "disk <*> is <*> full"
    assert records[1]["template"] == "user bob logged in"


def test_text_output_is_id_tab_template(tmp_path: Path) -> None:
    """Without --json each line prints as `<id>\\t<template>`."""
    log = tmp_path / "app.log"
    log.write_text("took 35 ms\ntook 40 ms\n", encoding="utf-8")
    out = io.StringIO()
    assert run_templates_command([log], False, TemplatesConfig(), out) == 0
    assert out.getvalue() == "1\ttook <*>\n1\ttook <*>\n"


def test_missing_file_exits_2_with_message(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A file that cannot be read gives exit code 2, a message on stderr, and no output."""
    out = io.StringIO()
    missing = tmp_path / "nope.log"
    assert run_templates_command([missing], False, TemplatesConfig(), out) == 2
    assert out.getvalue() == ""
    assert "nope.log" in capsys.readouterr().err


def test_undecodable_bytes_do_not_crash(tmp_path: Path) -> None:
    """Invalid UTF-8 is replaced, not fatal."""
    log = tmp_path / "bin.log"
    log.write_bytes(b"bad \xff\xfe byte 12\n")
    out = io.StringIO()
    assert run_templates_command([log], True, TemplatesConfig(), out) == 0
    assert json.loads(out.getvalue())["template"] == "bad \ufffd\ufffd byte <*>"
