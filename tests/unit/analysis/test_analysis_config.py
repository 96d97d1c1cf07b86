"""Tests of the analysis settings' validation: bad values stop with the dotted key."""

from __future__ import annotations

import pytest

from canarywatch.config import validate
from canarywatch.errors import ConfigError


@pytest.mark.parametrize(("setting", "key"), [
    ({"recent_window_s": 400}, "analysis.recent_window_s"),
    ({"bucket_s": 300}, "analysis.bucket_s"),
    ({"alpha": 0}, "analysis.alpha"),
    ({"persistence": 0}, "analysis.persistence"),
    ({"failing_severities": ["INFO"]}, "analysis.failing_severities.0"),
    ({"no_such_threshold": 1}, "analysis.no_such_threshold"),
])
def test_bad_analysis_setting_names_its_key(setting: dict[str, object], key: str) -> None:
    """A wrong or unknown analysis setting raises ConfigError naming the dotted key."""
    with pytest.raises(ConfigError) as caught:
        validate({"analysis": setting})
    assert caught.value.key == key


def test_recent_window_can_be_turned_off() -> None:
    """recent_window_s: 0 is valid and means a single window."""
    assert validate({"analysis": {"recent_window_s": 0}}).analysis.recent_window_s == 0
