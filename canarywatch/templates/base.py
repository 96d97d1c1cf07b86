"""Template miner interface used by the pipeline and the `templates` command."""

from __future__ import annotations

from typing import Any, Protocol

from canarywatch.events import TemplateMatch


class Templater(Protocol):
    """One miner per service, used from one thread; a template id means the same in all cohorts."""

    def match(self, service: str, line: str) -> TemplateMatch:
        """Add ``line`` to ``service``'s miner and say which template it belongs to."""
        ...

    def template_count(self, service: str) -> int: ...

    def template_text(self, service: str, template_id: int) -> str:
        """Current text of a template (templates generalise); KeyError once it is evicted."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Plain-JSON state owned by canarywatch (never jsonpickle)."""
        ...

    def restore(self, snapshot: dict[str, Any]) -> None: ...
