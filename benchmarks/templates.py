"""Template mining: canarywatch's miner against plain Drain3 on the loghub-2k data sets.

For each of the 14 sets with ``*_structured_corrected.csv`` ground truth, both miners read
the ``Content`` column in order, in the same process, and the table shows per miner:

- GA: grouping accuracy as the loghub papers define it (a line counts when the set of lines
  in its predicted group equals the set of lines with its true template);
- FN %: false novelty. All lines go through one miner (baseline and canary share one); the
  lines are then split at random (fixed seed) into halves A and B; a line of B is a false
  novelty when its template has no line in A although its true template does. Reported as
  a share of B;
- lines/s: best of ``--repeat`` timed runs, each with a fresh miner, ``time.perf_counter``.

Plain Drain3 runs with the masking list of its example ``drain3.ini`` and that file's
settings (sim_th 0.4, depth 4, max_children 100). canarywatch runs with its defaults.
Groups are final templates: for canarywatch, merged ids count as the id they merged into.

A second table does the same on the "real shapes" set (``benchmarks/realshapes.py``: JSON
lines, logfmt, syslog, Java stack traces, delimited records, key=value audit lines,
Kubernetes component logs, multi-word parameters, one-word event types; 400 records each,
ground truth by construction). Each set is written as a text log and read back the way
``canarywatch templates`` reads files: continuation lines joined, leading time and level
cut, then mined; Drain3 gets the same records' text.

    python benchmarks/templates.py [--datasets PATH] [--seed N] [--repeat N] [--no-real]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drain3 import TemplateMiner as Drain3Miner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from canarywatch.config import TemplatesConfig
from canarywatch.templates import TemplateMiner
from canarywatch.templates.command import record_body, records

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realshapes

SETS = ("Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac", "OpenSSH",
        "OpenStack", "Proxifier", "Spark", "Thunderbird", "Zookeeper")
DEFAULT_DATASETS = Path(__file__).resolve().parent.parent / ".." / "shared" / "datasets" / \
    "loghub-2k"

# The masking list of Drain3's example drain3.ini (its "examples" directory).
_B = r"((?<=[^A-Za-z0-9])|^)"
_E = r"((?=[^A-Za-z0-9])|$)"
DRAIN3_EXAMPLE_MASKING = (
    (_B + r"(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))" + _E, "ID"),
    (_B + r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})" + _E, "IP"),
    (_B + r"([0-9a-f]{6,} ?){3,}" + _E, "SEQ"),
    (_B + r"([0-9A-F]{4} ?){4,}" + _E, "SEQ"),
    (_B + r"(0x[a-f0-9A-F]+)" + _E, "HEX"),
    (_B + r"([\-\+]?\d+)" + _E, "NUM"),
    (r"(?<=executed cmd )(\".+?\")", "CMD"),
)

Mine = Callable[[Sequence[str]], list[int]]


def plain_drain3(lines: Sequence[str]) -> list[int]:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(p, m) for p, m in DRAIN3_EXAMPLE_MASKING]
    config.mask_prefix, config.mask_suffix = "<:", ":>"
    config.drain_sim_th, config.drain_depth, config.drain_max_children = 0.4, 4, 100
    config.profiling_enabled = False
    miner = Drain3Miner(config=config)
    return [miner.add_log_message(line)["cluster_id"] for line in lines]


def canarywatch_miner(lines: Sequence[str]) -> list[int]:
    miner = TemplateMiner(TemplatesConfig())
    ids = [miner.match("bench", line).template_id for line in lines]
    return [miner.canonical_id("bench", i) or -1 for i in ids]


def load_set(root: Path, name: str) -> tuple[list[str], list[str]]:
    path = root / name / f"{name}_2k.log_structured_corrected.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventTemplate"] for r in rows]


def grouping_accuracy(pred: Sequence[object], truth: Sequence[str]) -> float:
    pred_groups: dict[object, set[int]] = defaultdict(set)
    true_groups: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(pred, truth, strict=True)):
        pred_groups[p].add(i)
        true_groups[t].add(i)
    good = sum(1 for p, t in zip(pred, truth, strict=True) if pred_groups[p] == true_groups[t])
    return good / len(truth)


def false_novelty(pred: Sequence[object], truth: Sequence[str], seed: int) -> float:
    order = list(range(len(pred)))
    random.Random(seed).shuffle(order)
    half_a, half_b = order[: len(order) // 2], order[len(order) // 2:]
    seen_pred = {pred[i] for i in half_a}
    seen_true = {truth[i] for i in half_a}
    false = sum(1 for i in half_b if pred[i] not in seen_pred and truth[i] in seen_true)
    return false / len(half_b)


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    lines: int
    ga: tuple[float, float]
    fn: tuple[float, float]
    seconds: tuple[float, float]


def timed(mine: Mine, lines: Sequence[str], repeat: int) -> tuple[list[int], float]:
    best = float("inf")
    pred: list[int] = []
    for _ in range(repeat):
        start = time.perf_counter()
        pred = mine(lines)
        best = min(best, time.perf_counter() - start)
    return pred, best


def measure(root: Path, name: str, seed: int, repeat: int) -> Row:
    lines, truth = load_set(root, name)
    ours, ours_s = timed(canarywatch_miner, lines, repeat)
    theirs, theirs_s = timed(plain_drain3, lines, repeat)
    return Row(
        name, len(lines),
        (grouping_accuracy(ours, truth), grouping_accuracy(theirs, truth)),
        (false_novelty(ours, truth, seed), false_novelty(theirs, truth, seed)),
        (ours_s, theirs_s),
    )


def real_shape_records(name: str, seed: int) -> tuple[list[str], list[str]]:
    """One real-shapes set as the templates command reads it: (bodies, true labels)."""
    generated = realshapes.generate(name, seed)
    text = "".join(f"{record}\n" for _, record in generated).encode()
    bodies = [record_body(t)[1] for _, t in records(io.BytesIO(text))]
    if len(bodies) != len(generated):
        raise SystemExit(f"{name}: {len(bodies)} records read back, {len(generated)} written")
    return bodies, [label for label, _ in generated]


def measure_real(name: str, seed: int, repeat: int) -> Row:
    lines, truth = real_shape_records(name, seed)
    ours, ours_s = timed(canarywatch_miner, lines, repeat)
    theirs, theirs_s = timed(plain_drain3, lines, repeat)
    return Row(
        name, len(lines),
        (grouping_accuracy(ours, truth), grouping_accuracy(theirs, truth)),
        (false_novelty(ours, truth, seed), false_novelty(theirs, truth, seed)),
        (ours_s, theirs_s),
    )


def render(rows: Sequence[Row], seed: int,
           title: str = "template mining, loghub-2k") -> str:
    head = (f"{'data set':<12} {'GA ours':>8} {'GA drain3':>9} {'FN% ours':>9} "
            f"{'FN% drain3':>10} {'lines/s ours':>13} {'lines/s drain3':>14} {'speed-up':>8}")
    out = [f"{title}, false-novelty split seed {seed}", head, "-" * len(head)]
    for r in rows:
        out.append(f"{r.name:<12} {r.ga[0]:>8.3f} {r.ga[1]:>9.3f} {r.fn[0] * 100:>9.2f} "
                   f"{r.fn[1] * 100:>10.2f} {r.lines / r.seconds[0]:>13,.0f} "
                   f"{r.lines / r.seconds[1]:>14,.0f} {r.seconds[1] / r.seconds[0]:>7.2f}x")
    n = len(rows)
    total = sum(r.lines for r in rows)
    ours_s = sum(r.seconds[0] for r in rows)
    theirs_s = sum(r.seconds[1] for r in rows)
    out.append("-" * len(head))
    out.append(
        f"{'mean':<12} {sum(r.ga[0] for r in rows) / n:>8.3f} "
        f"{sum(r.ga[1] for r in rows) / n:>9.3f} "
        f"{sum(r.fn[0] for r in rows) / n * 100:>9.3f} "
        f"{sum(r.fn[1] for r in rows) / n * 100:>10.3f} {total / ours_s:>13,.0f} "
        f"{total / theirs_s:>14,.0f} {theirs_s / ours_s:>7.2f}x"
    )
    out.append(f"{'max FN%':<12} {'':>8} {'':>9} {max(r.fn[0] for r in rows) * 100:>9.2f} "
               f"{max(r.fn[1] for r in rows) * 100:>10.2f}")
    out.append(f"throughput ratio (all lines, canarywatch / drain3): {theirs_s / ours_s:.2f}x")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS,
                        help="loghub-2k directory (default: ../shared/datasets/loghub-2k)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the A/B split")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per miner and set")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--no-real", action="store_true", help="skip the real-shapes table")
    args = parser.parse_args(argv)
    root = args.datasets.resolve()
    names = [s for s in args.sets.split(",") if s]
    missing = [s for s in names
               if not (root / s / f"{s}_2k.log_structured_corrected.csv").is_file()]
    if missing:
        print(f"no ground truth for {', '.join(missing)} under {root}", file=sys.stderr)
        return 2
    rows = [measure(root, name, args.seed, max(1, args.repeat)) for name in names]
    print(render(rows, args.seed))
    if not args.no_real:
        real = [measure_real(name, args.seed, max(1, args.repeat)) for name in realshapes.SETS]
        print()
        print(render(real, args.seed, "template mining, real shapes (400 records each)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
