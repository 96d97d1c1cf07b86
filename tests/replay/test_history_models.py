"""`canarywatch learn` then `replay --models`: releases judged against a service's history.

History and incidents are written by the generator through the real OpenTelemetry SDK as
collector files; both commands run as a user runs them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from canarywatch.cli import main
from canarywatch.history import load_model
from canarywatch.sim import Fault, Scenario, write_collector_files

KNOWN_ERROR_RATE = 0.05
_HISTORY = Scenario(baseline_version="1.4.1", canary_version="1.4.2", canary_share=1.0,
                    duration_s=480.0, seed=501, known_error_rate=KNOWN_ERROR_RATE,
                    start_unix_nano=1_794_990_000_000_000_000)
_RELEASE = Scenario(duration_s=300.0, known_error_rate=KNOWN_ERROR_RATE)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.4.2's healthy history learned into a models directory with `canarywatch learn`."""
    root = tmp_path_factory.mktemp("history")
    write_collector_files(_HISTORY, root / "telemetry")
    out = root / "models"
    assert main(["learn", str(root / "telemetry"), "--version", "1.4.2",
                 "--out", str(out)]) == 0
    return out


def _replay(tmp_path: Path, scenario: Scenario, capsys: pytest.CaptureFixture[str],
            *flags: str) -> tuple[int, list[dict[str, object]]]:
    data = tmp_path / "release"
    write_collector_files(scenario, data)
    capsys.readouterr()
    code = main(["replay", "--json", str(data), *flags])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return code, lines


def test_learn_writes_one_model_of_the_named_version(models: Path) -> None:
    """One model file per service, learned from 1.4.2 only, with its known ERROR templates."""
    (path,) = models.glob("*.model.json")
    model = load_model(path)
    assert (model.service, model.versions) == ("checkout", ("1.4.2",))
    assert any("payment gateway timeout" in t.text for t in model.templates)
    assert {e.name for e in model.endpoints} >= {"GET /cart", "POST /checkout"}


def test_blue_green_new_error_rolls_back_against_history(
        models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The new version alone, with a new ERROR: rollback, its reasons naming the history."""
    release = replace(_RELEASE, canary_share=1.0,
                      faults=(Fault("new_error", 60.0, "GET /cart", 0.10),))
    code, lines = _replay(tmp_path, release, capsys, "--models", str(models))
    assert code == 3
    final = lines[-1]["verdicts"][0]  # type: ignore[index]
    assert final["action"] == "rollback"
    assert final["canary_version"] == "1.5.0" and final["baseline_version"] == "1.4.2 (history)"
    failed = [r for r in final["reasons"] if r["failed"]]
    assert any("NullPointerException" in r["summary"] for r in failed)
    assert all("1.4.2's history" in r["summary"] for r in failed)


def test_blue_green_same_code_is_not_rolled_back(
        models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The new version alone, healthy: no rollback (without models it is not judged at all)."""
    release = replace(_RELEASE, canary_share=1.0, seed=7)
    code, lines = _replay(tmp_path, release, capsys, "--models", str(models))
    assert code == 0
    assert [v["action"] for v in lines[-1]["verdicts"]] != []  # type: ignore[union-attr]
    assert all(v["action"] != "rollback" for v in lines[-1]["verdicts"])  # type: ignore[union-attr]
    code, lines = _replay(tmp_path / "plain", release, capsys)
    assert code == 0 and lines[-1]["verdicts"] == []


def test_reworded_known_error_is_known_with_models_and_new_without(
        models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A canary rewording its usual ERROR: new against the live baseline alone (rollback),
    a known rewording against history (no rollback)."""
    release = replace(_RELEASE, seed=11, faults=(Fault("reword_error", 0.0),))
    code, _ = _replay(tmp_path / "plain", release, capsys)
    assert code == 3
    code, lines = _replay(tmp_path / "models", release, capsys, "--models", str(models))
    assert code == 0
    assert lines[-1]["verdicts"][0]["action"] != "rollback"  # type: ignore[index]


def test_a_bad_models_directory_exits_2(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A models path that is not a directory of good model files is a usage error."""
    data = tmp_path / "x.log"
    data.write_text("hello\n")
    assert main(["replay", str(data), "--models", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
