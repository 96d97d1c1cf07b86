"""The consume loop's garbage-collector settings (checked in a child interpreter, so the test
process keeps its own)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import gc, json
from canarywatch.daemon import GC_YOUNG_THRESHOLD, tune_gc_for_streaming
before = gc.get_threshold()
tune_gc_for_streaming()
after = gc.get_threshold()
garbage = [[] for _ in range(3)]
garbage[0].append(garbage)  # a cycle made after tuning is still collected
del garbage
print(json.dumps({"before": before, "after": after, "young": GC_YOUNG_THRESHOLD,
                  "frozen": gc.get_freeze_count(), "collected": gc.collect()}))
"""


def test_tuning_freezes_startup_objects_and_keeps_collecting_new_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], check=True, capture_output=True,
                         text=True)
    seen = json.loads(out.stdout)
    assert seen["after"] == [seen["young"], *seen["before"][1:]]
    assert seen["young"] > seen["before"][0]
    assert seen["frozen"] > 1000  # modules, config: out of every later collection
    assert seen["collected"] >= 4
