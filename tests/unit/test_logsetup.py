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


def test_kafka_slow_io_task_warning_shows_only_at_debug(
        capsys: pytest.CaptureFixture[str]) -> None:
    """kafka-python 3's network thread warns when a task step waited for the GIL behind the
    analysis; at INFO that is noise (the demo printed it), at DEBUG it is shown."""
    slow = ("Task <kafka.net.selector.Task object at 0x7f> ran for 0.124s (>0.100s "
            "threshold). It is blocking the event loop -- likely a tight sync loop inside a "
            "coroutine. Other pollers will time out.")
    selector = logging.getLogger("kafka.net.selector")
    try:
        logsetup.configure("INFO")
        selector.warning(slow)
        selector.warning("Task left RUNNING after step; demoting to UNSCHEDULED")
        quiet = capsys.readouterr().err
        logsetup.configure("DEBUG")
        selector.warning(slow)
        loud = capsys.readouterr().err
    finally:
        logsetup.configure("WARNING")
    assert "blocking the event loop" not in quiet
    assert "demoting to UNSCHEDULED" in quiet  # other warnings of that logger still show
    assert "blocking the event loop" in loud


def test_leave_group_failed_on_stop_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    """SIGTERM while the consumer is still joining: the failed LeaveGroup is not an ERROR."""
    logsetup.configure("INFO")
    try:
        logging.getLogger("kafka.coordinator").error("LeaveGroup request failed: %s",
                                                      KafkaConnectionError("timed out"))
        logging.getLogger("kafka.coordinator").error("Heartbeat failed: %s", "x")
        err = capsys.readouterr().err
    finally:
        logsetup.configure("WARNING")
    assert "WARNING kafka.coordinator: LeaveGroup request failed" in err
    assert "ERROR kafka.coordinator: Heartbeat failed" in err
