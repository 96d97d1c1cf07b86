"""`canarywatch templates`: the table, per-record JSON in input order, stdin, gzip, the shared
cases' groupings, stack traces as one record, exit code 2 on a missing file."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from canarywatch.config import TemplatesConfig
from canarywatch.templates import run_templates_command

CASES = Path(__file__).parent / "cases"


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


def test_table_is_most_frequent_first_with_count_severity_and_example(tmp_path: Path) -> None:
    """Without --json: one row per template, most frequent first, count, severity, example."""
    log = tmp_path / "app.log"
    log.write_text("2026-01-01T00:00:00Z ERROR disk sda1 failed\n"
                   "2026-01-01T00:00:01Z INFO took 35 ms\n"
                   "2026-01-01T00:00:02Z INFO took 40 ms\n", encoding="utf-8")
    out = io.StringIO()
    assert run_templates_command([log], False, TemplatesConfig(), out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["COUNT", "SEVERITY", "ID", "TEMPLATE"]
    assert lines[1].split() == ["2", "INFO", "2", "took", "<*>"]
    assert lines[2].strip() == "e.g. 2026-01-01T00:00:01Z INFO took 35 ms"
    assert lines[3].split() == ["1", "ERROR", "1", "disk", "<*>", "failed"]
    assert len(lines) == 5


def test_per_file_tables_share_ids(tmp_path: Path) -> None:
    """--per-file prints one table per file; a template keeps one id in all of them."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("took 35 ms\n", encoding="utf-8")
    second.write_text("took 40 ms\nbye\n", encoding="utf-8")
    out = io.StringIO()
    assert run_templates_command([first, second], False, TemplatesConfig(), out,
                                 per_file=True) == 0
    text = out.getvalue()
    assert text.count("== ") == 2 and text.count("COUNT") == 2
    assert [line.split()[:3] for line in text.splitlines() if "took" in line
            and "e.g." not in line] == [["1", "-", "1"], ["1", "-", "1"]]


def test_dash_reads_standard_input_gzip_too(tmp_path: Path) -> None:
    """`-` reads standard input, plain or gzip-compressed."""
    for payload in (b"took 35 ms\ntook 40 ms\n", gzip.compress(b"took 35 ms\ntook 40 ms\n")):
        out = io.StringIO()
        code = run_templates_command([Path("-")], True, TemplatesConfig(), out,
                                     stdin=io.BufferedReader(io.BytesIO(payload)))  # type: ignore[arg-type]
        assert code == 0
        assert [json.loads(x)["template"] for x in out.getvalue().splitlines()] == \
            ["took <*>", "took <*>"]


@pytest.mark.parametrize("case", ["compact-json-lines", "key-value-audit"])
def test_shared_cases_group_as_labelled(case: str) -> None:
    """The shared template cases group exactly as their expected.txt labels say."""
    folder = CASES / case
    labels = (folder / "expected.txt").read_text(encoding="utf-8").split()
    out = io.StringIO()
    assert run_templates_command([folder / "input.log"], True, TemplatesConfig(), out) == 0
    ids = [json.loads(line)["template_id"] for line in out.getvalue().splitlines()]
    assert len(ids) == len(labels)
    assert _partition(ids) == _partition(labels)


def test_stack_traces_are_one_record_grouped_by_exception(tmp_path: Path) -> None:
    """A Java log's stack trace is one record with its header; the ERRORs group by exception,
    whatever their frames; another exception type is another template."""
    out = io.StringIO()
    log = CASES / "multiline-java-app.log"
    assert run_templates_command([log], True, TemplatesConfig(), out) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    lines = log.read_text(encoding="utf-8").splitlines()
    errors = [r for r in records if " ERROR " in lines[r["line"] - 1]]
    assert len(errors) == sum(" ERROR " in line for line in lines) == 10
    assert len(records) == sum(not line.startswith((" ", "\t")) for line in lines)
    assert len({r["template_id"] for r in errors}) == 1
    assert "SocketTimeoutException: Read timed out" in errors[0]["template"]
    assert "NioSocketImpl" not in errors[0]["template"]
    # The same error with one more frame, and a new exception type.
    deeper = lines[:7]
    deeper.insert(3, "        at com.shop.cart.RetryingClient.call(RetryingClient.java:33)")
    other = [lines[0].replace("java.net.SocketTimeoutException: Read timed out",
                              "java.lang.IllegalStateException: cart 81 is locked"),
             *lines[1:7]]
    extra = tmp_path / "more.log"
    extra.write_text("\n".join([*deeper, *other]) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert run_templates_command([log, extra], True, TemplatesConfig(), out) == 0
    tail = [json.loads(line) for line in out.getvalue().splitlines()][-2:]
    assert tail[0]["template_id"] == errors[0]["template_id"] != tail[1]["template_id"]


def _partition(labels: list[object]) -> set[frozenset[int]]:
    groups: dict[object, set[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, set()).add(i)
    return {frozenset(g) for g in groups.values()}


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


def test_otlp_log_records_show_their_own_severity(tmp_path: Path) -> None:
    """A collector file's log records carry their severity (an ERROR stays ERROR, not `-`)."""
    from canarywatch.sim import Fault, Scenario, write_collector_files

    scenario = Scenario(seed=5, duration_s=120.0, rps=20.0, canary_share=0.2,
                        faults=(Fault("new_error", start_s=10.0, endpoint="GET /cart",
                                      magnitude=0.5),))
    logs = next(p for p in write_collector_files(scenario, tmp_path) if "logs" in p.name)
    out = io.StringIO()
    assert run_templates_command([logs], False, TemplatesConfig(), out) == 0
    rows = [line.split(None, 3) for line in out.getvalue().splitlines()[1:]
            if line.strip() and not line.strip().startswith("e.g.")]
    severities = {row[1] for row in rows}
    assert "-" not in severities and "INFO" in severities
    assert any(row[1] == "ERROR" and "NullPointerException" in row[3] for row in rows)
