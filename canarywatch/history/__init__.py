"""Learned baselines: a model of each service's healthy behaviour, judged against.

``learn`` builds models from recorded telemetry, ``store`` reads and writes the plain JSON
model files (``models/README.md`` documents the format), ``judge`` is the analyzer's hook
that uses them.
"""

from __future__ import annotations

from pathlib import Path

from canarywatch.config import Config
from canarywatch.history.judge import HistoryJudge
from canarywatch.history.learn import Learner
from canarywatch.history.model import ServiceModel
from canarywatch.history.store import ModelError, load_model, load_models, save_model

__all__ = ["HistoryJudge", "Learner", "ModelError", "ServiceModel", "history_from_config",
           "load_model", "load_models", "save_model"]


def history_from_config(config: Config, models_dir: Path | None = None) -> HistoryJudge | None:
    """The judge's history from ``models_dir`` (else ``models.dir``); None when neither is set.

    Raises ModelError for a missing directory or a bad model file.
    """
    directory = models_dir if models_dir is not None else (
        Path(config.models.dir) if config.models.dir else None)
    if directory is None:
        return None
    return HistoryJudge(load_models(directory), config.analysis,
                        config.models.similarity_threshold)
