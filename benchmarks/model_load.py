"""Model files: how long a 10,000-template model takes to load and be ready to judge.

Builds one service model with ``--templates`` templates (default 10,000) and 40 endpoints
with latency histograms, writes it with :func:`canarywatch.history.save_model` (the file
``canarywatch learn`` writes), then times, ``--repeat`` times in this process:

- ``load_model``: read, parse and check every field (``json`` + the field checks);
- ready to judge: ``HistoryJudge`` over the loaded model (the similarity index rebuilt from
  the stored TF-IDF vocabulary and idf: one ``transform`` of every template text and a
  nearest-neighbour fit, no refitting), which is what ``models.dir`` costs at start;
- one similarity lookup of a reworded template, for scale.

Each step is shown in wall-clock seconds (``time.perf_counter``) and in this process's CPU
seconds (``time.process_time``): on a shared machine the wall time includes waiting for a
core, the CPU time is what the load costs.

Template texts are the loghub-2k data sets' ground-truth templates (``*_templates*.csv``),
each varied by one word from the sets' vocabulary until there are enough; without the data
sets, words from a fixed list. The issue's target: loaded in under a second for 10,000
templates. Prints one table, with the load average (the machine may be shared).

    python benchmarks/model_load.py [--templates N] [--repeat N] [--loghub DIR]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from canarywatch.config import load
from canarywatch.events import Severity
from canarywatch.history import HistoryJudge, load_model, save_model
from canarywatch.history.index import fit_index
from canarywatch.history.model import EndpointStats, ServiceModel, TemplateStats

_NS = 1_000_000_000
_FALLBACK_WORDS = ("connection", "timeout", "request", "block", "served", "replica", "user",
                   "session", "opened", "closed", "failed", "retry", "gateway", "payment",
                   "cache", "miss", "queue", "worker", "shard", "lease", "token", "expired")


def _real_templates(loghub: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted(loghub.glob("*/*_templates*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            texts.extend(row["EventTemplate"] for row in csv.DictReader(handle)
                         if row.get("EventTemplate"))
    return list(dict.fromkeys(texts))


def template_texts(n: int, loghub: Path, seed: int = 1) -> list[str]:
    """``n`` distinct template texts: the real ones, then each varied by one word."""
    rng = random.Random(seed)
    base = _real_templates(loghub) if loghub.is_dir() else []
    words = sorted({w for t in base for w in re.findall(r"[A-Za-z]{3,}", t)}) or list(
        _FALLBACK_WORDS)
    if not base:
        base = [" ".join(rng.choice(words) for _ in range(6)) + " <*>" for _ in range(200)]
    out = list(dict.fromkeys(base))[:n]
    seen = set(out)
    while len(out) < n:
        tokens = rng.choice(base).split()
        tokens[rng.randrange(len(tokens))] = rng.choice(words)
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(words))
        text = " ".join(tokens)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def build_model(texts: list[str], endpoints: int = 40, seed: int = 2) -> ServiceModel:
    rng = random.Random(seed)
    start = 1_795_000_000 * _NS
    end = start + 7 * 86_400 * _NS
    windows = 10_080
    templates = tuple(TemplateStats(
        text, rng.choice((Severity.INFO, Severity.INFO, Severity.WARN, Severity.ERROR)),
        count=(c := rng.randint(1, 50_000)), sum_sq_rate=c * c / 2e7, windows_seen=min(
            windows, c), first_seen_unix_nano=start, last_seen_unix_nano=end,
        examples=tuple(text.replace("<*>", str(rng.randint(0, 9999))) for _ in range(3)),
        endpoints=((f"GET /api/v1/r{rng.randrange(endpoints)}", c),)) for text in texts)
    eps = tuple(EndpointStats(
        f"GET /api/v1/r{i}", requests=2_000_000, errors=2_000, sum_sq_error_rate=2.1,
        windows=windows, latency=tuple((b, rng.randint(1, 5000)) for b in range(40, 200)),
        median_windows=windows, log_median_sum=windows * 3.5,
        log_median_sq_sum=windows * 12.3) for i in range(endpoints))
    return ServiceModel("checkout", ("1.4.0", "1.4.1", "1.4.2"), 60.0, windows,
                        endpoints * 2_000_000, "requests", start, end, templates, eps,
                        fit_index(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loghub", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "datasets"
                        / "loghub-2k")
    args = parser.parse_args()
    texts = template_texts(args.templates, args.loghub)
    config = load(None, environ={})
    with tempfile.TemporaryDirectory(prefix="cw-model-load-") as tmp:
        path = save_model(build_model(texts), Path(tmp))
        size = path.stat().st_size
        steps: list[list[tuple[float, float]]] = [[], [], []]  # (wall, CPU) per step
        for _ in range(args.repeat):
            marks = [(time.perf_counter(), time.process_time())]
            model = load_model(path)
            marks.append((time.perf_counter(), time.process_time()))
            judge = HistoryJudge({model.service: model}, config.analysis,
                                 config.models.similarity_threshold)
            marks.append((time.perf_counter(), time.process_time()))
            view = judge.view(model.service)
            assert view is not None and len(model.templates) == args.templates
            view.known(texts[123] + " reworded", model.templates[123].severity)
            marks.append((time.perf_counter(), time.process_time()))
            for i, (a, b) in enumerate(((0, 1), (0, 2), (2, 3))):
                steps[i].append((marks[b][0] - marks[a][0], marks[b][1] - marks[a][1]))
    with open("/proc/loadavg", encoding="ascii") as handle:
        loadavg = " ".join(handle.read().split()[:3])
    real = len(_real_templates(args.loghub)) if args.loghub.is_dir() else 0
    print(f"model: {args.templates} templates ({real} real loghub-2k templates, the rest "
          f"varied), 40 endpoints, {size / 1e6:.1f} MB JSON; {args.repeat} runs, "
          f"load average {loadavg}")
    print(f"{'step':44} {'wall s median':>13} {'max':>6} {'CPU s median':>13} {'max':>6}")
    for name, xs in zip(("load_model (read, parse, check)",
                         "load + HistoryJudge (index rebuilt): ready",
                         "one similarity lookup (reworded text)"), steps, strict=True):
        wall, cpu = [x[0] for x in xs], [x[1] for x in xs]
        print(f"{name:44} {statistics.median(wall):13.3f} {max(wall):6.3f} "
              f"{statistics.median(cpu):13.3f} {max(cpu):6.3f}")


if __name__ == "__main__":
    main()
