"""The template miner the rest of canarywatch uses: one Drain3-based miner per service.

Configured only from ``TemplatesConfig`` (never a ``drain3.ini``), typed results, bounded
clusters, and snapshots that are plain JSON. Not thread-safe: use it from one thread.
"""

from __future__ import annotations

from typing import Any

from canarywatch.config import TemplatesConfig
from canarywatch.errors import StateError
from canarywatch.events import TemplateMatch
from canarywatch.templates.masking import Masker, template_text
from canarywatch.templates.preprocess import Preprocessor
from canarywatch.templates.service import MinerSettings, ServiceMiner
from canarywatch.templates.snapshot import FORMAT, dump_service, load_service


class TemplateMiner:
    """Implements :class:`canarywatch.templates.base.Templater` for many services.

    Template ids are per service, stable (a template keeps its id as it generalises) and
    never reused after eviction. When clusters merge, the older id survives and
    :meth:`canonical_id` maps the merged ones to it.
    """

    def __init__(self, config: TemplatesConfig, track_evictions: bool = False) -> None:
        """``track_evictions``: remember evicted ids for :meth:`take_evicted` (the pipeline's
        analysis forgets them); off, nothing about an evicted template is kept."""
        self._config = config
        self._track_evictions = track_evictions
        self._settings = MinerSettings(
            sim_threshold=config.sim_threshold,
            depth=config.depth,
            max_children=config.max_children,
            max_clusters=config.max_clusters,
            merge_min_variants=config.merge_min_variants or 1 << 30,
            merge_min_word_variants=(config.merge_min_word_variants or 1 << 30)
            if config.merge_min_variants else 1 << 30,
            cache_size=config.cache_size,
        )
        # One masker (and token memo) for all services: masking does not depend on them.
        self._masker = Masker(config.masking, delimiters=config.delimiters)
        self.preprocessor = Preprocessor(config.message_fields, config.level_fields)
        self._text = self.preprocessor.text
        self._services: dict[str, ServiceMiner] = {}

    def _service(self, service: str) -> ServiceMiner:
        miner = self._services.get(service)
        if miner is None:
            miner = ServiceMiner(self._settings, self._masker, self._track_evictions)
            self._services[service] = miner
        return miner

    def match(self, service: str, line: str) -> TemplateMatch:
        """Add ``line`` to ``service``'s miner and say which template it belongs to.

        ``line`` is a log body as decoded: a structured line's message and a stack trace's
        signature are what is mined (see :mod:`canarywatch.templates.preprocess`).
        """
        miner = self._services.get(service)
        if miner is None:
            miner = self._service(service)
        return miner.match(self._text(line))

    def template_count(self, service: str) -> int:
        miner = self._services.get(service)
        return 0 if miner is None else len(miner.lru)

    def template_text(self, service: str, template_id: int) -> str:
        """Current text of a template (templates generalise over time); KeyError if unknown."""
        miner = self._services.get(service)
        tokens = None if miner is None else miner.template_tokens(template_id)
        if tokens is None:
            raise KeyError(f"no template {template_id} for service {service!r}")
        return template_text(tokens)

    def canonical_id(self, service: str, template_id: int) -> int | None:
        """The live id a template id stands for now (after merges); None if evicted."""
        miner = self._services.get(service)
        return None if miner is None else miner.resolve(template_id)

    def take_evicted(self) -> dict[str, list[tuple[int, int]]]:
        """Per service, the (template id, lines it matched) of every template evicted since
        the last call (least recently seen past ``templates.max_clusters``), ids merged into
        them with 0 lines; the miner forgets them."""
        out: dict[str, list[tuple[int, int]]] = {}
        for name, miner in self._services.items():
            if miner.evicted:
                out[name], miner.evicted = miner.evicted, []
        return out

    def services(self) -> list[str]:
        return sorted(self._services)

    def snapshot(self) -> dict[str, Any]:
        """Plain-JSON state owned by canarywatch (never jsonpickle)."""
        return {
            "format": FORMAT,
            "services": {name: dump_service(m) for name, m in sorted(self._services.items())},
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Replace all state with ``snapshot``; StateError (and no change) if it is bad."""
        if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
            raise StateError(f"template snapshot: format must be {FORMAT!r}")
        services = snapshot.get("services")
        if not isinstance(services, dict):
            raise StateError("template snapshot: services must be an object")
        restored: dict[str, ServiceMiner] = {}
        for name, data in services.items():
            miner = ServiceMiner(self._settings, self._masker, self._track_evictions)
            load_service(miner, data, f"services.{name}")
            restored[str(name)] = miner
        self._services = restored
