"""What a simulated canary release looks like: the service, its traffic and the injected faults.

A :class:`Scenario` is a plain frozen value; :mod:`canarywatch.sim.generator` turns it into
OTLP telemetry made by the real OpenTelemetry SDK. Every fault hits the canary only, except
``shared_outage`` which hits both cohorts alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from canarywatch.errors import ConfigError

FaultKind = Literal[
    "new_error",  # new ERROR signature + 5xx with probability `magnitude`
    "new_error_200",  # new ERROR signature, response stays 200
    "known_error_more",  # the known ERROR line becomes more frequent (probability `magnitude`)
    "error_rate",  # more 5xx with the known upstream ERROR line (probability `magnitude`)
    "latency",  # durations x `magnitude` on one endpoint
    "latency_all",  # durations x `magnitude` on all endpoints
    "shared_outage",  # both cohorts: 5xx + ERROR line with probability `magnitude`
    "reword_info",  # the canary words one INFO message differently (not a fault)
    "faster",  # canary durations x `magnitude` (< 1; not a fault)
    "reword_error",  # the canary words the known gateway-timeout ERROR differently (not a fault)
    "rare_known_error",  # a burst of a rare known ERROR, probability `magnitude` (not a fault)
]

FAULT_KINDS: tuple[str, ...] = (
    "new_error", "new_error_200", "known_error_more", "error_rate", "latency", "latency_all",
    "shared_outage", "reword_info", "faster", "reword_error", "rare_known_error",
)
# How a cohort's instrumentation writes its entry spans (semantic-convention versions):
Instrumentation = Literal[
    "http",  # current HTTP semconv: span "GET /cart", http.request.method, http.route, url.path
    "http_no_route",  # current, no route: span "GET", http.request.method, url.path
    "http_legacy",  # before semconv 1.21: span "/cart", http.method, http.route, http.target
    "http_legacy_no_route",  # before 1.21, no route: span "HTTP GET", http.method, http.target
    "raw_path",  # auto-instrumentation with no route: span "GET /products/48213", http.method
    "messaging",  # current messaging semconv: CONSUMER "process orders", messaging.operation.type
    "messaging_legacy",  # older: CONSUMER "orders process", messaging.operation
]
INSTRUMENTATIONS: tuple[str, ...] = (
    "http", "http_no_route", "http_legacy", "http_legacy_no_route", "raw_path", "messaging",
    "messaging_legacy",
)
# Kinds whose `endpoint=None` means every endpoint rather than the first one.
ALL_ENDPOINT_KINDS: frozenset[str] = frozenset({"latency_all", "shared_outage", "faster",
                                                "reword_error", "rare_known_error"})
# Kinds a correct judge must NOT roll back for.
BENIGN_KINDS: frozenset[str] = frozenset({"reword_info", "faster", "shared_outage",
                                          "reword_error", "rare_known_error"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route of the simulated service and the dependency it calls."""

    method: str
    route: str
    weight: float
    latency_median_ms: float
    base_error_rate: float = 0.0
    # What the CLIENT child span calls: "postgresql", "redis", "http:<host>".
    dependency: str = "postgresql"

    @property
    def name(self) -> str:
        """``METHOD /route``, as faults and decoded endpoints name it."""
        return f"{self.method} {self.route}"


# A queue consumer for the messaging instrumentations: method = operation, route = destination.
MESSAGING_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("process", "orders", 0.5, 25.0, 0.001, "postgresql"),
    Endpoint("process", "payments", 0.3, 60.0, 0.002, "http:payments-gateway.example.com"),
    Endpoint("process", "shipments", 0.2, 15.0, 0.001, "redis"),
)

DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/cart", 0.35, 18.0, 0.001, "redis"),
    Endpoint("POST", "/cart/items", 0.25, 35.0, 0.001, "postgresql"),
    Endpoint("GET", "/products/{id}", 0.20, 12.0, 0.0005, "postgresql"),
    Endpoint("POST", "/checkout", 0.15, 140.0, 0.003, "http:inventory.shop.svc"),
    Endpoint("POST", "/payments", 0.05, 260.0, 0.004, "http:payments-gateway.example.com"),
)


@dataclass(frozen=True, slots=True)
class Fault:
    """A change the canary brings (or, for ``shared_outage``, the whole fleet suffers)."""

    kind: FaultKind
    start_s: float = 0.0  # seconds after scenario start when the fault begins
    endpoint: str | None = None  # "METHOD /route"; None = first endpoint (or all, see above)
    magnitude: float = 0.0  # probability for error kinds, latency multiplier for latency kinds
    end_s: float | None = None  # seconds after scenario start when it ends; None = never

    def active(self, t_s: float) -> bool:
        return t_s >= self.start_s and (self.end_s is None or t_s < self.end_s)

    @property
    def is_canary_fault(self) -> bool:
        """True when a correct judge should roll the canary back for this fault."""
        return self.kind not in BENIGN_KINDS and (
            self.magnitude > (1.0 if self.kind in ("latency", "latency_all") else 0.0))


@dataclass(frozen=True, slots=True)
class Scenario:
    """A canary release: traffic, cohorts, latency shape and injected faults."""

    service: str = "checkout"
    baseline_version: str = "1.4.2"
    canary_version: str = "1.5.0"
    duration_s: float = 600.0
    rps: float = 40.0
    canary_share: float = 0.10
    seed: int = 0
    start_unix_nano: int = 1_795_000_000_000_000_000
    endpoints: tuple[Endpoint, ...] = DEFAULT_ENDPOINTS
    latency_tail: Literal["lognormal", "heavy"] = "lognormal"
    faults: tuple[Fault, ...] = ()
    log_corpus: tuple[str, ...] = ()  # extra real log lines used as INFO/WARN/ERROR bodies
    # Share of requests that also log one line from `log_corpus` (both cohorts alike).
    corpus_rate: float = 0.3
    # The semantic-convention version each cohort's instrumentation writes.
    baseline_instrumentation: Instrumentation = "http"
    canary_instrumentation: Instrumentation = "http"
    # Share of requests that log the known "payment gateway timeout" ERROR (both cohorts).
    known_error_rate: float = 0.002

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ConfigError("scenario.duration_s", "must be > 0")
        if self.rps <= 0:
            raise ConfigError("scenario.rps", "must be > 0")
        if not 0.0 <= self.canary_share <= 1.0:
            raise ConfigError("scenario.canary_share", "must be between 0 and 1")
        if not self.endpoints:
            raise ConfigError("scenario.endpoints", "needs at least one endpoint")
        if any(e.weight < 0 for e in self.endpoints) or sum(e.weight for e in self.endpoints) <= 0:
            raise ConfigError("scenario.endpoints", "weights must be >= 0 with a positive sum")
        if self.baseline_version == self.canary_version:
            raise ConfigError("scenario.canary_version", "must differ from baseline_version")
        for key in ("baseline_instrumentation", "canary_instrumentation"):
            if getattr(self, key) not in INSTRUMENTATIONS:
                raise ConfigError(f"scenario.{key}", f"unknown instrumentation "
                                  f"{getattr(self, key)!r}; valid: {', '.join(INSTRUMENTATIONS)}")
        names = [e.name for e in self.endpoints]
        for i, fault in enumerate(self.faults):
            if fault.kind not in FAULT_KINDS:
                raise ConfigError(f"scenario.faults.{i}.kind",
                                  f"unknown fault {fault.kind!r}; valid: {', '.join(FAULT_KINDS)}")
            if fault.endpoint is not None and fault.endpoint not in names:
                raise ConfigError(f"scenario.faults.{i}.endpoint",
                                  f"unknown endpoint {fault.endpoint!r}; valid: {', '.join(names)}")
            if fault.magnitude < 0:
                raise ConfigError(f"scenario.faults.{i}.magnitude", "must be >= 0")

    def fault_endpoints(self, fault: Fault) -> frozenset[int]:
        """Indexes of the endpoints a fault touches."""
        if fault.endpoint is not None:
            return frozenset(i for i, e in enumerate(self.endpoints) if e.name == fault.endpoint)
        if fault.kind in ALL_ENDPOINT_KINDS:
            return frozenset(range(len(self.endpoints)))
        return frozenset({0})

    @property
    def has_canary_fault(self) -> bool:
        """True when the canary should be rolled back (ground truth for benchmarks)."""
        return any(f.is_canary_fault for f in self.faults)
