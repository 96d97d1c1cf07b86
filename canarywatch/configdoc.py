"""Render the default configuration as commented YAML (`canarywatch default-config`).

The comments are the ones written above each field in :mod:`canarywatch.config`, so the
example file and the model cannot drift apart: a test compares config/canarywatch.yaml with
this rendering.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from canarywatch import config as config_mod

_HEADER = """\
# canarywatch configuration. Every value below is the default: delete what you do not change.
# Environment overrides: CANARYWATCH_<SECTION>__<KEY>, e.g. CANARYWATCH_KAFKA__GROUP_ID=cw.
# Unknown keys and bad values stop canarywatch with exit code 2, naming the key.
# Validate a file with: canarywatch check-config FILE
"""


def _field_comments() -> dict[tuple[str, str], list[str]]:
    source = Path(config_mod.__file__).read_text(encoding="utf-8")
    lines = source.splitlines()
    out: dict[tuple[str, str], list[str]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                block: list[str] = []
                i = stmt.lineno - 2
                while i >= 0 and lines[i].strip().startswith("#"):
                    block.insert(0, lines[i].strip()[1:].strip())
                    i -= 1
                out[(node.name, stmt.target.id)] = block
    return out


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False).strip()
    return text.removesuffix("...").strip()


def _emit(model: type[BaseModel], data: dict[str, Any], indent: int,
          comments: dict[tuple[str, str], list[str]], out: list[str]) -> None:
    pad = "  " * indent
    for name, field in model.model_fields.items():
        out.extend(f"{pad}# {line}".rstrip() for line in comments.get((model.__name__, name), []))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.append(f"{pad}{name}:")
            _emit(annotation, data[name], indent + 1, comments, out)
        else:
            out.append(f"{pad}{name}: {_scalar(data[name])}")


def render_defaults() -> str:
    out: list[str] = []
    data = json.loads(config_mod.Config().model_dump_json())
    _emit(config_mod.Config, data, 0, _field_comments(), out)
    return _HEADER + "\n".join(out) + "\n"
