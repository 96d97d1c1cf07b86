"""TemplateInfo state: example lines round-trip with a structured line's fields, and state
written before examples carried fields still loads."""

from __future__ import annotations

import json

from canarywatch.analysis.logs import TemplateInfo
from canarywatch.events import LogEvent, Severity


def test_examples_round_trip_with_attributes() -> None:
    info = TemplateInfo(Severity.ERROR, 1)
    info.observe(LogEvent("s", "1.5.0", 1, Severity.ERROR, "declined", "ab" * 16,
                          attributes=(("order", "8812"),)), "1.5.0", 3)
    info.observe(LogEvent("s", "1.5.0", 2, Severity.ERROR, "declined"), "1.5.0", 3)
    again = TemplateInfo.from_json(json.loads(json.dumps(info.to_json())))
    assert again.examples == {"1.5.0": [("declined", "ab" * 16, (("order", "8812"),)),
                                        ("declined", "", ())]}


def test_state_from_before_attributes_loads() -> None:
    old = {"severity": 17, "first_seen": 5, "versions": ["1.4.2"],
           "examples": {"1.4.2": [["timeout", "cd" * 16]]}}
    info = TemplateInfo.from_json(old)
    assert info.examples == {"1.4.2": [("timeout", "cd" * 16, ())]}
    assert info.severity is Severity.ERROR
