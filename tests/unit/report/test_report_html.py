"""`replay --html`: one self-contained page whose plots all mark the decision."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from canarywatch.cli import main
from canarywatch.sim import Fault, Scenario, write_collector_files

SCENARIO = Scenario(duration_s=240.0, rps=30.0, canary_share=0.3, seed=7, faults=(
    Fault("new_error", start_s=60.0, endpoint="GET /cart", magnitude=0.4),))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict], list[dict]]:
    """The page, and replay's NDJSON with and without --html, for one faulty release."""
    out = tmp_path_factory.mktemp("html")
    files = [str(p) for p in write_collector_files(SCENARIO, out / "in")]
    page = out / "report.html"
    runs = []
    for extra in (["--html", str(page)], []):
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        with redirect_stdout(buf):
            assert main(["replay", "--json", *extra, *files]) == 3
        runs.append([json.loads(line) for line in buf.getvalue().splitlines()])
    return page.read_text(encoding="utf-8"), runs[0], runs[1]


def test_page_references_nothing_outside_itself(replayed: tuple) -> None:
    """No scripts, stylesheets, images, fonts or fetches: the page works offline."""
    page = replayed[0]
    assert page.startswith("<!DOCTYPE html>")
    # url(#id) and href="#id" are references inside the page (SVG clip paths).
    for pattern in (r"<script", r"<link", r"<img", r"<iframe", r"\bsrc\s*=", r"@import",
                    r"url\((?!#)", r"@font-face", r"href\s*=\s*[\"'](?!#)"):
        assert not re.search(pattern, page, re.IGNORECASE), pattern


def test_every_plot_marks_the_decision(replayed: tuple) -> None:
    """Each inline SVG plot carries at least one decision-marker line."""
    page = replayed[0]
    plots = re.findall(r"<svg.*?</svg>", page, re.DOTALL)
    assert len(plots) >= 3  # timeline, an endpoint, templates
    for svg in plots:
        assert 'id="decision-marker-' in svg


def test_page_shows_the_decision_reasons_with_examples_and_trace_ids(replayed: tuple) -> None:
    """The rollback, its time, its reasons' example lines and trace ids are on the page."""
    page, lines, _ = replayed
    rollback = next(v for v in lines if v.get("action") == "rollback")
    assert "ROLLBACK" in page and rollback["at"] in page
    traces = [ex["trace_id"] for r in rollback["reasons"] if r["failed"]
              for ex in r.get("examples", []) if ex.get("trace_id")]
    assert traces and all(t in page for t in traces[:3])
    assert "GET /cart" in page


def test_html_changes_nothing_in_the_ndjson(replayed: tuple) -> None:
    """replay --json prints the same verdicts and summary with and without --html."""
    _, with_html, without = replayed
    assert with_html == without


def test_unwritable_report_path_is_an_input_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A report path in a missing directory exits 2 naming the path."""
    files = [str(p) for p in write_collector_files(
        Scenario(duration_s=30.0, rps=10.0, seed=1), tmp_path / "in")]
    target = tmp_path / "missing" / "r.html"
    assert main(["replay", "--html", str(target), *files]) == 2
    assert str(target) in capsys.readouterr().err


def test_an_example_shows_a_structured_lines_fields_after_its_body() -> None:
    from canarywatch.report.text import example_body

    assert example_body({"body": "payment declined", "attributes": {"order": "8812",
                                                                   "port": "5432"}}) == \
        "payment declined  {order=8812 port=5432}"
    assert example_body({"body": "plain line"}) == "plain line"
