"""The HTML report and the daemon's GET / page, opened in a real headless Chromium."""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from headless_browser import not_blank, open_page

from canarywatch.cli import main
from canarywatch.sim import Fault, Scenario, write_collector_files

pytestmark = pytest.mark.integration

SCENARIO = Scenario(duration_s=300.0, rps=30.0, canary_share=0.2, seed=3, faults=(
    Fault("new_error", start_s=90.0, endpoint="GET /cart", magnitude=0.4),))


def test_detector_sees_console_errors_and_blank_pages(tmp_path: Path) -> None:
    """The browser check itself fails a page that logs an error and an empty page."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); nope();</script></body></html>")
    load = open_page(bad.as_uri(), tmp_path / "bad.png", height=400)
    assert any("boom" in m for m in load.console)
    assert any("nope" in m for m in load.console)
    assert not not_blank(load.screenshot)


def test_replay_report_renders_without_console_errors(tmp_path: Path) -> None:
    """replay --html's page loads from a file with no console message and is not blank."""
    files = [str(p) for p in write_collector_files(SCENARIO, tmp_path / "in")]
    page = tmp_path / "report.html"
    assert main(["replay", "--html", str(page), *files]) == 3
    load = open_page(page.as_uri(), tmp_path / "report.png")
    assert load.console == []
    assert not_blank(load.screenshot)
    # The decision marker is drawn: the rollback red (#c62828) is on the screenshot.
    red = np.array([0xC6, 0x28, 0x28]) / 255
    assert (np.abs(load.screenshot[..., :3] - red).max(axis=-1) < 0.08).sum() > 200


def test_daemon_serves_the_page_for_its_current_canaries(
        kafka_kit: Any, incident: Any, harness: Any, tmp_path: Path) -> None:
    """`canarywatch run` serves GET / with the rolled-back canary; Chromium shows it cleanly."""
    kafka_kit.create()
    kafka_kit.produce(kafka_kit.spans_topic, incident.spans)
    kafka_kit.produce(kafka_kit.logs_topic, incident.logs)
    agent = harness.agent(kafka_kit.write_config(kafka_kit.config_data(tmp_path / "state")))
    harness.until(lambda: agent.verdict_actions().get(("checkout", "1.5.0")) == "rollback",
                  90, "a rollback verdict for checkout 1.5.0")
    pages: list[str] = []

    def page_shows_the_rollback() -> bool:
        with urllib.request.urlopen(agent.url("/"), timeout=30) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/html")
            pages.append(resp.read().decode("utf-8"))
        return "checkout: canary 1.5.0 vs baseline 1.4.2" in pages[-1] and "ROLLBACK" in pages[-1]

    # The page is drawn in the background: the first answers may be the "being drawn" page.
    harness.until(page_shows_the_rollback, 60, "GET / showing the rollback", interval_s=1.0)
    body = pages[-1]
    assert 'id="decision-marker-' in body
    load = open_page(agent.url("/"), tmp_path / "daemon.png")
    assert load.console == []
    assert not_blank(load.screenshot)
    agent.signal(signal.SIGTERM)
    assert agent.wait(20) == 0
