"""Tests for the configuration model: defaults, refusals naming the key, env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarywatch import config
from canarywatch.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_example_config_is_valid_and_equals_defaults() -> None:
    """config/canarywatch.yaml documents the defaults: loading it gives the default model."""
    loaded = config.load(REPO / "config" / "canarywatch.yaml", environ={})
    assert loaded == config.Config()


def test_unknown_key_is_refused_with_its_dotted_path() -> None:
    """A misspelt key stops the load and the error names it."""
    with pytest.raises(ConfigError) as info:
        config.validate({"analysis": {"alpah": 0.1}})
    assert info.value.key == "analysis.alpah"
    assert "unknown key" in str(info.value)


def test_bad_value_names_the_key() -> None:
    """An out-of-range value is refused, naming the key and the rule."""
    with pytest.raises(ConfigError) as info:
        config.validate({"analysis": {"min_requests": 0}})
    assert info.value.key == "analysis.min_requests"
    assert "greater than 0" in info.value.message


def test_env_overrides_nested_keys(tmp_path: Path) -> None:
    """CANARYWATCH_SECTION__KEY overrides the file; values are parsed as YAML scalars."""
    path = tmp_path / "c.yaml"
    path.write_text("kafka:\n  group_id: fromfile\n")
    env = {"CANARYWATCH_KAFKA__GROUP_ID": "fromenv", "CANARYWATCH_ANALYSIS__ALPHA": "0.02",
           "OTHER": "x"}
    loaded = config.load(path, environ=env)
    assert loaded.kafka.group_id == "fromenv"
    assert loaded.analysis.alpha == pytest.approx(0.02)


def test_bootstrap_servers_accepts_comma_list() -> None:
    """A comma-separated string of brokers becomes a tuple."""
    loaded = config.validate({"kafka": {"bootstrap_servers": "a:1, b:2"}})
    assert loaded.kafka.bootstrap_servers == ("a:1", "b:2")


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    """A file that is not YAML, or not a mapping, is a config error, not a crash."""
    path = tmp_path / "bad.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError):
        config.load(path, environ={})
    path.write_text("kafka: [unclosed\n")
    with pytest.raises(ConfigError):
        config.load(path, environ={})


def test_config_is_frozen() -> None:
    """Settings cannot change after validation."""
    cfg = config.Config()
    with pytest.raises(Exception, match="frozen"):
        cfg.state_dir = "x"  # type: ignore[misc]


def test_example_config_is_the_rendered_defaults() -> None:
    """config/canarywatch.yaml is exactly what `canarywatch default-config` prints."""
    from canarywatch.configdoc import render_defaults

    text = (REPO / "config" / "canarywatch.yaml").read_text(encoding="utf-8")
    assert text == render_defaults(), "run: canarywatch default-config > config/canarywatch.yaml"


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config exits 0 for a good file and 2 naming the key for a bad one."""
    from canarywatch.cli import main

    good = tmp_path / "good.yaml"
    good.write_text("analysis:\n  alpha: 0.05\n")
    assert main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("analysis:\n  alpha: 2\n")
    assert main(["check-config", str(bad)]) == 2
    assert "analysis.alpha" in capsys.readouterr().err


def test_bootstrap_servers_must_be_host_port() -> None:
    """A broker address without a port is refused before the daemon starts waiting on it."""
    with pytest.raises(ConfigError) as info:
        config.validate({"kafka": {"bootstrap_servers": "kafka"}})
    assert info.value.key == "kafka.bootstrap_servers"


@pytest.mark.parametrize(("key", "value"), [
    ("analysis.bucket_s", True),               # a bool is not 1 second
    ("analysis.min_requests", False),
    ("analysis.max_clock_skew_s", float("inf")),  # would switch the skew guard off
    ("analysis.alpha", float("nan")),
    ("kafka.commit_interval_s", "-inf"),
    ("models.history_window_s", float("inf")),
    ("analysis.min_requests", "30"),           # a string is not a number
])
def test_bools_strings_and_non_finite_numbers_are_refused(key: str, value: object) -> None:
    section, name = key.split(".")
    with pytest.raises(ConfigError) as info:
        config.validate({section: {name: value}})
    assert info.value.key == key


def test_ints_are_fine_floats() -> None:
    loaded = config.validate({"analysis": {"bucket_s": 5, "window_s": 300}})
    assert loaded.analysis.bucket_s == 5.0
    assert isinstance(loaded.analysis.bucket_s, float)


def test_every_float_key_refuses_infinity() -> None:
    """No float key documents inf as meaning 'off': each is refused, naming it."""
    for section, model in config.Config.model_fields.items():
        sub = model.annotation
        for name, field in getattr(sub, "model_fields", {}).items():
            if "float" not in str(field.annotation).lower():
                continue
            with pytest.raises(ConfigError) as info:
                config.validate({section: {name: float("inf")}})
            assert info.value.key == f"{section}.{name}"


def test_duplicate_yaml_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("analysis:\n  alpha: 0.01\n  bucket_s: 5\n  alpha: 0.2\n")
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    assert "duplicate key 'alpha' at line 4" in str(info.value)


def test_deeply_nested_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    assert "nested too deeply" in str(info.value)


def test_missing_secret_files_are_named(tmp_path: Path) -> None:
    token = tmp_path / "tok"
    token.write_text("x" * 32)
    assert config.missing_files(config.validate(
        {"server": {"bearer_token_file": str(token)}})) is None
    for data, key in [
        ({"server": {"bearer_token_file": "/nonexistent/tok"}}, "server.bearer_token_file"),
        ({"kafka": {"security": {"sasl_password_file": "/nonexistent/pw"}}},
         "kafka.security.sasl_password_file"),
        ({"kafka": {"security": {"ssl_cafile": "/nonexistent/ca.pem"}}},
         "kafka.security.ssl_cafile"),
        ({"actions": {"webhooks": [{"name": "w", "url": "http://127.0.0.1:1/h",
                                    "secret_file": "/nonexistent/s"}]}},
         "actions.webhooks.0.secret_file"),
    ]:
        missing = config.missing_files(config.validate(data))
        assert missing is not None
        assert missing.key == key
