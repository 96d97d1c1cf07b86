"""``canarywatch templates [--json] FILE...``: show how log lines group into templates."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from canarywatch.config import TemplatesConfig
from canarywatch.templates.miner import TemplateMiner

SERVICE = "templates"


def run_templates_command(paths: Sequence[Path], as_json: bool, config: TemplatesConfig,
                          out: TextIO) -> int:
    """Mine the lines of plain-text log files, then print each line's final template.

    All files share one miner. Text output is ``<id>\\t<template>`` per input line; JSON
    output is one object per input line, ``{"line": N, "template_id": ..., "template": ...}``,
    N counting from 1 over all files in order. Returns 2 (message on stderr) when a file
    cannot be read, before anything is printed.
    """
    texts: list[str] = []
    for path in paths:
        try:
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        except OSError as exc:
            print(f"canarywatch templates: {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    miner = TemplateMiner(config)
    ids: list[int] = []
    for text in texts:
        for line in text.splitlines():
            ids.append(miner.match(SERVICE, line).template_id)
    for number, template_id in enumerate(ids, start=1):
        live = miner.canonical_id(SERVICE, template_id)
        shown = template_id if live is None else live
        template = "" if live is None else miner.template_text(SERVICE, live)
        if as_json:
            record = {"line": number, "template_id": shown, "template": template}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            out.write(f"{shown}\t{template}\n")
    return 0
