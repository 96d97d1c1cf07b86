"""What of a log body is mined: stack-trace signatures, structured messages, levels."""

from __future__ import annotations

import pytest

from canarywatch.config import TemplatesConfig
from canarywatch.events import Severity
from canarywatch.templates import TemplateMiner
from canarywatch.templates.preprocess import Preprocessor, application_frames

TRACE = """Request processing failed
java.lang.IllegalStateException: cart 81 is locked
\tat com.shop.cart.CartService.lock(CartService.java:88)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)
\tat com.shop.cart.CartController.get(CartController.java:41)
Caused by: java.sql.SQLTransientConnectionException: pool exhausted after 30000 ms
\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)
\t... 42 more"""

PYTHON = """Unhandled error in worker
Traceback (most recent call last):
  File "/srv/app/worker.py", line 41, in run
    job.execute()
  File "/usr/lib/python3.12/site-packages/rq/job.py", line 10, in execute
    raise KeyError(name)
KeyError: 'cart-81'"""


def test_stack_signature_is_header_exception_and_innermost_cause() -> None:
    """A Java trace's text is its first line, its exception and its innermost cause."""
    text = Preprocessor().text(TRACE)
    assert text == ("Request processing failed | java.lang.IllegalStateException: cart 81 is "
                    "locked | java.sql.SQLTransientConnectionException: pool exhausted after "
                    "30000 ms")


def test_frames_line_numbers_and_depth_do_not_change_the_template() -> None:
    """Other frames, line numbers or depth give the same template; another type does not."""
    miner = TemplateMiner(TemplatesConfig())
    lines = TRACE.split("\n")
    shallower = "\n".join(lines[:3] + lines[5:])
    renumbered = TRACE.replace("88", "91").replace("41", "43")
    other = TRACE.replace("IllegalStateException", "UnsupportedOperationException")
    ids = [miner.match("svc", body).template_id
           for body in (TRACE, shallower, renumbered, other)]
    assert ids[0] == ids[1] == ids[2] != ids[3]


def test_python_traceback_signature() -> None:
    """A Python traceback is known by its first line and its exception line."""
    assert Preprocessor().text(PYTHON) == "Unhandled error in worker | KeyError: 'cart-81'"


def test_application_frames_skip_runtime_and_framework_frames() -> None:
    """Evidence: the first frames that are the application's own, in order."""
    assert application_frames(TRACE) == [
        "at com.shop.cart.CartService.lock(CartService.java:88)",
        "at com.shop.cart.CartController.get(CartController.java:41)",
    ]
    assert application_frames(PYTHON) == ['File "/srv/app/worker.py", line 41, in run']


@pytest.mark.parametrize(("body", "text", "severity"), [
    ('{"level":"error","msg":"db down","host":"db-1"}', "db down", Severity.ERROR),
    ('{"severity":"WARNING","message":"slow","took":3}', "slow", Severity.WARN),
    ('{"level":30,"msg":"pino line"}', "pino line", Severity.INFO),
    ('{"log":{"level":"info"},"event":"started"}', "started", Severity.INFO),
    ('time=2026-01-01T00:00:00Z level=warn msg="cache cold" keys=12', "cache cold",
     Severity.WARN),
    ('<13>Oct 11 22:14:15 web-1 app[7]: {"level":"error","msg":"boom"}',
     "Oct 11 22:14:15 web-1 app[7]: boom", Severity.ERROR),
    ("E1118 10:01:02.123456       1 prober.go:107] probe failed", None, Severity.ERROR),
    ("plain line with no structure", "plain line with no structure", Severity.UNSPECIFIED),
])
def test_structured_lines(body: str, text: str | None, severity: Severity) -> None:
    """JSON and logfmt lines mine their message; their level is the severity."""
    prepared = Preprocessor().prepare(body)
    assert prepared.severity is severity
    assert prepared.text == (body if text is None else text)


def test_error_field_is_part_of_the_identity_other_fields_are_attributes() -> None:
    """A JSON error field joins the mined text; other fields only become attributes."""
    prepared = Preprocessor().prepare('{"msg":"call failed","error":"dial tcp: refused",'
                                      '"host":"db-2","level":"error"}')
    assert prepared.text == "call failed error: dial tcp: refused"
    assert prepared.attributes == (("host", "db-2"),)


def test_message_fields_are_configurable() -> None:
    """templates.message_fields picks the field that is mined."""
    pre = Preprocessor(message_fields=("note",))
    assert pre.text('{"msg":"a","note":"b"}') == "b"


@pytest.mark.parametrize("body", ["{not json", "{}", '{"a": [1, 2', "key=value",
                                  "a=1 b=2", "{" * 5000 + "}" * 5000, "\n\n\n", ""])
def test_odd_bodies_never_raise(body: str) -> None:
    """Broken JSON, bare pairs, deep nesting and empty bodies are mined as text."""
    miner = TemplateMiner(TemplatesConfig())
    assert miner.match("svc", body).template_id > 0


def test_auditd_lines_are_not_logfmt() -> None:
    """key=value text without a time or level (auditd) is mined whole, not by its msg."""
    line = ("type=USER_LOGIN msg=audit(1700000000.1:5): pid=7 uid=0 msg='op=login "
            "acct=\"bob\" res=success'")
    assert Preprocessor().text(line) == line
