"""Batch size must not change decisions: records holding one second or thirty seconds of
events give the same verdicts, within one evaluation interval."""

from __future__ import annotations

import json
from pathlib import Path

from canarywatch.config import Config
from canarywatch.pipeline import Pipeline
from canarywatch.replay import replay_paths
from canarywatch.sim import Fault, Scenario, generate_messages
from canarywatch.sim.otlpjson import to_otlp_json
from canarywatch.sources.base import PayloadKind

SCENARIO = Scenario(seed=41, duration_s=300.0, rps=40.0, canary_share=0.10,
                    faults=(Fault("new_error", start_s=90.0, endpoint="GET /cart",
                                  magnitude=0.3),))


def _write(out: Path, batch_spans: int, max_batch_age_s: float) -> list[Path]:
    out.mkdir(parents=True)
    paths = [out / "traces.jsonl", out / "logs.jsonl"]
    with paths[0].open("w") as traces, paths[1].open("w") as logs:
        for kind, message in generate_messages(SCENARIO, batch_spans=batch_spans,
                                               max_batch_age_s=max_batch_age_s):
            handle = traces if kind is PayloadKind.OTLP_SPANS else logs
            handle.write(json.dumps(to_otlp_json(message)) + "\n")
    return paths


def test_thirty_second_batches_decide_like_one_second_batches(tmp_path: Path) -> None:
    """The rollback comes at the same time (within one evaluation interval) whether each
    collector batch holds 1 s or 30 s of spans and logs."""
    config = Config()
    small = replay_paths(_write(tmp_path / "small", 200, 1.0), Pipeline(config)).result
    large = replay_paths(_write(tmp_path / "large", 100_000, 30.0), Pipeline(config)).result
    assert small.rollback and large.rollback
    interval = config.analysis.evaluation_interval_ns
    assert [v.action for v in large.changes] == [v.action for v in small.changes]
    for a, b in zip(small.changes, large.changes, strict=True):
        assert abs(a.at_unix_nano - b.at_unix_nano) <= interval
