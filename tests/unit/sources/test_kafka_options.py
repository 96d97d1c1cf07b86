"""Kafka source settings: security options, topic kinds (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarywatch.config import ExtraLogTopic, KafkaConfig, SecurityConfig
from canarywatch.errors import ConfigError
from canarywatch.sources.base import PayloadKind
from canarywatch.sources.kafka import security_options, topic_kinds


def test_plaintext_passes_only_the_protocol() -> None:
    """The default security config asks kafka-python for a plaintext connection, nothing more."""
    assert security_options(SecurityConfig(), environ={}) == {"security_protocol": "PLAINTEXT"}


def test_tls_files_are_passed_through(tmp_path: Path) -> None:
    """SSL passes the CA, client certificate and key paths and the hostname check."""
    paths = {}
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
        paths[name] = str(tmp_path / name)
    sec = SecurityConfig(protocol="SSL", ssl_cafile=paths["ca.pem"],
                         ssl_certfile=paths["cert.pem"], ssl_keyfile=paths["key.pem"],
                         ssl_check_hostname=False)
    assert security_options(sec, environ={}) == {
        "security_protocol": "SSL", "ssl_cafile": paths["ca.pem"],
        "ssl_certfile": paths["cert.pem"], "ssl_keyfile": paths["key.pem"],
        "ssl_check_hostname": False,
    }


def test_missing_tls_file_names_the_key(tmp_path: Path) -> None:
    """A CA file that does not exist is a ConfigError naming kafka.security.ssl_cafile."""
    sec = SecurityConfig(protocol="SSL", ssl_cafile=str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError) as err:
        security_options(sec, environ={})
    assert err.value.key == "kafka.security.ssl_cafile"


def test_sasl_password_comes_from_the_named_environment_variable() -> None:
    """SASL SCRAM reads its password from the environment variable the config names."""
    sec = SecurityConfig(protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                         sasl_username="agent", sasl_password_env="KAFKA_PW")
    opts = security_options(sec, environ={"KAFKA_PW": "s3cret"})
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512"
    assert opts["sasl_plain_username"] == "agent"
    assert opts["sasl_plain_password"] == "s3cret"


def test_sasl_password_file_is_read_without_its_newline(tmp_path: Path) -> None:
    """A password file's trailing newline is not part of the password."""
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    sec = SecurityConfig(protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u",
                         sasl_password_file=str(pw))
    assert security_options(sec, environ={})["sasl_plain_password"] == "from-file"


def test_unset_password_variable_is_named_but_never_echoed() -> None:
    """A missing password variable is a ConfigError naming the variable, with no secret in it."""
    sec = SecurityConfig(protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u",
                         sasl_password_env="KAFKA_PW")
    with pytest.raises(ConfigError) as err:
        security_options(sec, environ={"OTHER": "s3cret"})
    assert err.value.key == "kafka.security.sasl_password_env"
    assert "KAFKA_PW" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_sasl_without_mechanism_is_refused() -> None:
    """SASL without a mechanism is a ConfigError naming kafka.security.sasl_mechanism."""
    with pytest.raises(ConfigError) as err:
        security_options(SecurityConfig(protocol="SASL_PLAINTEXT", sasl_username="u"), environ={})
    assert err.value.key == "kafka.security.sasl_mechanism"


def test_topics_map_to_payload_kinds() -> None:
    """Spans and logs topics read OTLP; extra topics read JSON or text lines with their labels."""
    cfg = KafkaConfig(spans_topic="s", logs_topic="l", extra_log_topics=(
        ExtraLogTopic(topic="j", format="json"),
        ExtraLogTopic(topic="t", format="text", service="nginx", version="1.2")))
    kinds = topic_kinds(cfg)
    assert {t: k for t, (k, _) in kinds.items()} == {
        "s": PayloadKind.OTLP_SPANS, "l": PayloadKind.OTLP_LOGS,
        "j": PayloadKind.LOG_JSON, "t": PayloadKind.LOG_TEXT}
    extra = kinds["t"][1]
    assert extra is not None and (extra.service, extra.version) == ("nginx", "1.2")


def test_a_topic_read_twice_is_refused() -> None:
    """An extra topic with the logs topic's name is a ConfigError naming its entry."""
    cfg = KafkaConfig(extra_log_topics=(ExtraLogTopic(topic="otlp_logs"),))
    with pytest.raises(ConfigError) as err:
        topic_kinds(cfg)
    assert err.value.key == "kafka.extra_log_topics.0.topic"


def test_no_topic_at_all_is_refused() -> None:
    """Turning off both OTLP topics with no extra topic leaves nothing to read: ConfigError."""
    with pytest.raises(ConfigError):
        topic_kinds(KafkaConfig(spans_topic=None, logs_topic=None))
