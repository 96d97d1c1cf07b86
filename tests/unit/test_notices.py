"""Notices: a version whose records were mostly rejected, and a service without versions."""

from __future__ import annotations

import io
import json

from canarywatch.config import Config
from canarywatch.pipeline import Pipeline
from canarywatch.replay import ReplayRun
from canarywatch.report.text import write_report
from canarywatch.sources.base import PayloadKind, Record

T0 = 1_795_000_000_000_000_000


def _logs(version: str | None, n: int, time: object) -> bytes:
    resource = [{"key": "service.name", "value": {"stringValue": "checkout"}}]
    if version is not None:
        resource.append({"key": "service.version", "value": {"stringValue": version}})
    records = [{"timeUnixNano": time if not isinstance(time, int) else str(time + i),
                "body": {"stringValue": f"line {i}"}} for i in range(n)]
    return json.dumps({"resourceLogs": [{"resource": {"attributes": resource},
                                         "scopeLogs": [{"logRecords": records}]}]}).encode()


def test_report_says_when_all_of_a_versions_records_were_rejected() -> None:
    """All records of 1.5.0 carry a JS Long time: the report says so with the reason instead
    of only 'no canary found'."""
    pipeline = Pipeline(Config())
    pipeline.feed(Record(_logs("1.4.2", 60, T0), PayloadKind.OTLP_LOGS, "f:1"))
    pipeline.feed(Record(_logs("1.5.0", 24, {"low": 1, "high": 2, "unsigned": False}),
                         PayloadKind.OTLP_LOGS, "f:2"))
    result = pipeline.finish()
    assert result.counts.rejected_by_reason == {"time_not_an_integer": 24}
    out = io.StringIO()
    write_report(ReplayRun(result, inputs=()), out)
    text = out.getvalue()
    assert "checkout 1.5.0: all 24 records were rejected" in text
    assert "JS Long object" in text


def test_a_service_without_versions_is_named_once() -> None:
    """A service none of whose events has a version gets one notice naming the keys tried
    and cohorts.version_keys."""
    pipeline = Pipeline(Config())
    for i in range(3):
        pipeline.feed(Record(_logs(None, 30, T0 + i * 10**9), PayloadKind.OTLP_LOGS, f"f:{i}"))
    result = pipeline.finish()
    [notice] = result.notices
    assert notice.startswith("checkout: no event carries a version")
    assert "k8s.pod.label.app.kubernetes.io/version" in notice
    assert "cohorts.version_keys" in notice
    assert result.summary_json()["notices"] == [notice]
