"""Logging set-up: a clean stop of a Kafka client logs no ERROR."""

from __future__ import annotations

import logging

import pytest
from kafka.errors import Cancelled, KafkaConnectionError

from canarywatch import logsetup


def test_metadata_loop_cancelled_on_close_is_not_an_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    """kafka.cluster's `Metadata refresh loop error: Cancelled` (every close) is dropped; the
    same line with a real error, and kafka warnings, still reach stderr."""
    logsetup.configure("INFO")
    try:
        cluster = logging.getLogger("kafka.cluster")
        cluster.error("Metadata refresh loop error: %s", Cancelled())
        cluster.error("Metadata refresh loop error: %s", KafkaConnectionError("refused"))
        cluster.info("Updated metadata: ClusterMetadata(brokers: 1)")  # chatter, below WARNING
        logging.getLogger("kafka.conn").warning("broker unreachable")
        err = capsys.readouterr().err
    finally:
        logsetup.configure("WARNING")
    assert "Cancelled" not in err
    assert "ERROR kafka.cluster: Metadata refresh loop error: KafkaConnectionError" in err
    assert "Updated metadata" not in err
    assert "WARNING kafka.conn: broker unreachable" in err
