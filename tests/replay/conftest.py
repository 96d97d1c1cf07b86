"""Golden incidents: telemetry written by the generator through the real OpenTelemetry SDK,
replayed through the `canarywatch replay` command line exactly as a user runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from canarywatch.cli import main
from canarywatch.sim import Scenario, write_collector_files


@dataclass(frozen=True)
class ReplayRun:
    exit_code: int
    lines: list[dict[str, object]]

    @property
    def verdicts(self) -> list[dict[str, object]]:
        return [line for line in self.lines if line["type"] == "verdict"]

    @property
    def summary(self) -> dict[str, object]:
        assert self.lines[-1]["type"] == "summary"
        return self.lines[-1]

    @property
    def final(self) -> dict[str, object]:
        verdicts = self.summary["verdicts"]
        assert isinstance(verdicts, list) and len(verdicts) == 1
        final = verdicts[0]
        assert isinstance(final, dict)
        return final


Replay = Callable[..., ReplayRun]


@pytest.fixture
def replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Replay:
    """Write a scenario's files, run `canarywatch replay --json` on them, parse the NDJSON."""

    def run(scenario: Scenario, *extra: str, fmt: str = "json", gzip: bool = False,
            mutate: Callable[[list[Path]], None] | None = None) -> ReplayRun:
        out = tmp_path / f"s{scenario.seed}-{fmt}-{gzip}"
        files = write_collector_files(scenario, out, fmt=fmt, gzip=gzip)  # type: ignore[arg-type]
        if mutate is not None:
            mutate(files)
        capsys.readouterr()
        code = main(["replay", "--json", *extra, *map(str, files)])
        stdout = capsys.readouterr().out
        return ReplayRun(code, [json.loads(line) for line in stdout.splitlines()])

    return run
