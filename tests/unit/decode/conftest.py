"""Fixtures for decoder tests: SDK pipelines per service version."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from otel_sdk_helpers import Sdk


@pytest.fixture
def sdk() -> Iterator[Callable[..., Sdk]]:
    """Makes SDK pipelines for resources given as attribute dicts; shuts them down after."""
    made: list[Sdk] = []

    def make(attributes: Mapping[str, Any] | None = None) -> Sdk:
        made.append(Sdk(attributes if attributes is not None else
                        {"service.name": "checkout", "service.version": "1.4.2"}))
        return made[-1]

    yield make
    for s in made:
        s.tracer_provider.shutdown()
        s.logger_provider.shutdown()
