"""Read and write model files: ``<service>.model.json``, plain JSON checked field by field.

A model file may come from elsewhere, so reading one runs no code: the bytes are parsed by
``json`` (NaN and Infinity refused), every field is checked for its type and range, and
anything else raises :class:`ModelError` naming the file and the field. Files above
``MAX_BYTES`` are refused before they are read. Writing is atomic (temp file, rename).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from canarywatch.errors import CanarywatchError
from canarywatch.events import Severity
from canarywatch.history.model import (
    FORMAT,
    FORMAT_VERSION,
    EndpointStats,
    ServiceModel,
    TemplateStats,
    TextIndexState,
)

log = logging.getLogger(__name__)

SUFFIX = ".model.json"
MAX_BYTES = 512 * 1024 * 1024
T = TypeVar("T")


class ModelError(CanarywatchError):
    """A model file cannot be used. ``path`` is the file, ``key`` the dotted field."""

    def __init__(self, path: str, key: str, message: str) -> None:
        super().__init__(f"{path}: {key + ': ' if key else ''}{message}")
        self.path = path
        self.key = key
        self.message = message


def model_to_json(model: ServiceModel) -> dict[str, Any]:
    """The model as plain JSON data (the file's content)."""
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "service": model.service, "versions": list(model.versions),
        "window_s": model.window_s, "windows": model.windows, "requests": model.requests,
        "exposure": model.exposure, "start_unix_nano": model.start_unix_nano,
        "end_unix_nano": model.end_unix_nano,
        "templates": [{
            "text": t.text, "severity": t.severity.name, "count": t.count,
            "sum_sq_rate": t.sum_sq_rate, "windows_seen": t.windows_seen,
            "first_seen_unix_nano": t.first_seen_unix_nano,
            "last_seen_unix_nano": t.last_seen_unix_nano, "examples": list(t.examples),
            "endpoints": [[e, n] for e, n in t.endpoints],
            # Derived, for people reading the file (ignored when read back):
            "rate_per_1k": round(1000.0 * t.count / model.requests, 6) if model.requests else 0,
        } for t in model.templates],
        "endpoints": [{
            "name": e.name, "requests": e.requests, "errors": e.errors,
            "sum_sq_error_rate": e.sum_sq_error_rate, "windows": e.windows,
            "latency": [[b, n] for b, n in e.latency], "median_windows": e.median_windows,
            "log_median_sum": e.log_median_sum, "log_median_sq_sum": e.log_median_sq_sum,
        } for e in model.endpoints],
        "index": {"kind": "tfidf-word", "vocabulary": list(model.index.vocabulary),
                  "idf": list(model.index.idf)},
    }


def history_listing(models: list[ServiceModel]) -> dict[str, Any]:
    """``{"models": [...]}``: each model in brief, with where to get its file."""
    return {"models": [{
        "service": m.service, "versions": list(m.versions), "history": m.describe(),
        "window_s": m.window_s, "windows": m.windows, "requests": m.requests,
        "exposure": m.exposure, "start_unix_nano": m.start_unix_nano,
        "end_unix_nano": m.end_unix_nano, "templates": len(m.templates),
        "endpoints": len(m.endpoints), "path": f"/v1/models/{m.service}",
    } for m in models]}


def model_from_json(data: object, path: str = "<model>") -> ServiceModel:
    """Check and build a model from parsed JSON; raises ModelError naming the bad field."""
    r = _Reader(path)
    top = r.obj(data, "")
    if top.get("format") != FORMAT:
        raise ModelError(path, "format", f"not a canarywatch model (expected {FORMAT!r})")
    version = r.as_int(top.get("format_version"), "format_version")
    if version != FORMAT_VERSION:
        raise ModelError(path, "format_version",
                         f"version {version} is not supported (this canarywatch reads "
                         f"{FORMAT_VERSION}); relearn the model")
    templates = tuple(_template(r, t, f"templates.{i}")
                      for i, t in enumerate(r.list_(top, "templates")))
    endpoints = tuple(_endpoint(r, e, f"endpoints.{i}")
                      for i, e in enumerate(r.list_(top, "endpoints")))
    index = r.obj(top.get("index"), "index")
    vocabulary = tuple(r.str_list(index, "vocabulary", "index."))
    idf = tuple(r.float_(x, f"index.idf.{i}") for i, x in enumerate(r.list_(index, "idf",
                                                                               "index.")))
    if len(idf) != len(vocabulary):
        raise ModelError(path, "index.idf", "must have one weight per vocabulary term")
    exposure = r.str_(top, "exposure")
    if exposure not in ("requests", "log_lines"):
        raise ModelError(path, "exposure", "must be 'requests' or 'log_lines'")
    return ServiceModel(
        service=r.str_(top, "service"), versions=tuple(r.str_list(top, "versions")),
        window_s=r.positive(top, "window_s"), windows=r.count(top, "windows"),
        requests=r.count(top, "requests"), exposure=exposure,
        start_unix_nano=r.count(top, "start_unix_nano"),
        end_unix_nano=r.count(top, "end_unix_nano"),
        templates=templates, endpoints=endpoints,
        index=TextIndexState(vocabulary, idf))


def _template(r: _Reader, data: object, key: str) -> TemplateStats:
    t = r.obj(data, key)
    level = r.str_(t, "severity", key + ".")
    if level not in Severity.__members__:
        raise ModelError(r.path, f"{key}.severity", f"unknown severity {level!r}")
    return TemplateStats(
        text=r.str_(t, "text", key + "."), severity=Severity[level],
        count=r.count(t, "count", key + "."),
        sum_sq_rate=r.nonneg(t, "sum_sq_rate", key + "."),
        windows_seen=r.count(t, "windows_seen", key + "."),
        first_seen_unix_nano=r.count(t, "first_seen_unix_nano", key + "."),
        last_seen_unix_nano=r.count(t, "last_seen_unix_nano", key + "."),
        examples=tuple(r.str_list(t, "examples", key + ".")),
        endpoints=tuple(r.pairs(t, "endpoints", key + ".", r.as_str)))


def _endpoint(r: _Reader, data: object, key: str) -> EndpointStats:
    e = r.obj(data, key)
    p = key + "."
    return EndpointStats(
        name=r.str_(e, "name", p), requests=r.count(e, "requests", p),
        errors=r.count(e, "errors", p), sum_sq_error_rate=r.nonneg(e, "sum_sq_error_rate", p),
        windows=r.count(e, "windows", p), latency=tuple(r.pairs(e, "latency", p, r.as_int)),
        median_windows=r.count(e, "median_windows", p),
        log_median_sum=r.float_(e.get("log_median_sum"), p + "log_median_sum"),
        log_median_sq_sum=r.nonneg(e, "log_median_sq_sum", p))


class _Reader:
    """Typed accessors that raise ModelError with the field's dotted key."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ModelError:
        return ModelError(self.path, key, message)

    def obj(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "must be an object")
        return value

    def list_(self, d: dict[str, Any], name: str, prefix: str = "") -> list[Any]:
        value = d.get(name)
        if not isinstance(value, list):
            raise self.fail(prefix + name, "must be a list")
        return value

    def as_str(self, value: object, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, "must be a string")
        return value

    def as_int(self, value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        return value

    def str_(self, d: dict[str, Any], name: str, prefix: str = "") -> str:
        return self.as_str(d.get(name), prefix + name)

    def str_list(self, d: dict[str, Any], name: str, prefix: str = "") -> list[str]:
        return [self.as_str(v, f"{prefix}{name}.{i}")
                for i, v in enumerate(self.list_(d, name, prefix))]

    def count(self, d: dict[str, Any], name: str, prefix: str = "") -> int:
        value = self.as_int(d.get(name), prefix + name)
        if value < 0:
            raise self.fail(prefix + name, "must be >= 0")
        return value

    def float_(self, value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, "must be a number")
        if not math.isfinite(value):
            raise self.fail(key, "must be finite")
        return float(value)

    def nonneg(self, d: dict[str, Any], name: str, prefix: str = "") -> float:
        value = self.float_(d.get(name), prefix + name)
        if value < 0:
            raise self.fail(prefix + name, "must be >= 0")
        return value

    def positive(self, d: dict[str, Any], name: str, prefix: str = "") -> float:
        value = self.float_(d.get(name), prefix + name)
        if value <= 0:
            raise self.fail(prefix + name, "must be > 0")
        return value

    def pairs(self, d: dict[str, Any], name: str, prefix: str,
              first: Callable[[object, str], T]) -> list[tuple[T, int]]:
        out: list[tuple[T, int]] = []
        for i, item in enumerate(self.list_(d, name, prefix)):
            key = f"{prefix}{name}.{i}"
            if not isinstance(item, list) or len(item) != 2:
                raise self.fail(key, "must be a [key, count] pair")
            out.append((first(item[0], key), self.as_int(item[1], key)))
        return out


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not allowed in a model file")


def load_model(path: Path) -> ServiceModel:
    """Read one model file; raises ModelError when it is missing, too big or malformed."""
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ModelError(where, "", f"{size} bytes is above the {MAX_BYTES} byte limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(where, "", f"cannot read: {exc.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(where, "", f"not a JSON model file: {exc}") from None
    return model_from_json(data, where)


def model_path(directory: Path, service: str) -> Path:
    """``DIR/<service>.model.json`` with the service name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", service).lstrip(".") or "_"
    return directory / f"{safe}{SUFFIX}"


def save_model(model: ServiceModel, directory: Path) -> Path:
    """Write the model atomically into ``directory``; returns the file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = model_path(directory, model.service)
    text = json.dumps(model_to_json(model), ensure_ascii=False, allow_nan=False, indent=1)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.chmod(tmp, 0o644)  # a model is data to share, not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_models(directory: Path) -> dict[str, ServiceModel]:
    """Every ``*.model.json`` in ``directory`` by service; ModelError for a bad one."""
    if not directory.is_dir():
        raise ModelError(str(directory), "", "is not a directory")
    out: dict[str, ServiceModel] = {}
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        model = load_model(path)
        if model.service in out:
            raise ModelError(str(path), "service", f"a second model for {model.service!r}")
        out[model.service] = model
    log.info("loaded %d model(s) from %s", len(out), directory)
    return out
