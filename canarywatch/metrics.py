"""Prometheus metrics, all registered on a registry the caller passes in (never the global one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True, slots=True)
class Metrics:
    records_consumed: Counter  # labels: topic, cohort
    bytes_consumed: Counter  # labels: topic
    events_decoded: Counter  # labels: type (span|log), cohort (baseline|canary|unknown|unversioned)
    decode_errors: Counter  # labels: source (topic or file kind)
    kafka_records: Counter  # labels: topic, outcome (events|rejected|empty|poison)
    poison_records: Counter  # labels: topic, reason (too_deep|too_large|malformed|exception)
    future_events: Counter  # events dropped for ending far after the wall clock
    fold_errors: Counter  # labels: error (exception class): events whose folding raised
    lines_truncated: Counter  # log bodies cut to logs.max_line_chars
    rejected: Counter  # labels: reason (a RejectReason value): records and events refused
    consumer_lag: Gauge  # labels: topic, partition
    processing_seconds: Histogram  # time to fold one poll batch into state
    templates: Gauge  # labels: service
    templates_evicted: Counter  # templates the miner evicted that the analysis forgot
    endpoints: Gauge  # labels: service -> endpoints kept under their own name
    endpoint_folds: Counter  # labels: service -> requests folded into the `other` endpoint
    verdicts: Counter  # labels: action
    current_verdicts: Gauge  # labels: action -> number of canaries currently at that action
    webhook_attempts: Counter  # labels: webhook
    webhook_successes: Counter  # labels: webhook
    webhook_failures: Counter  # labels: webhook, reason
    outbox_depth: Gauge  # decisions not yet delivered, all webhooks
    state_saves: Counter
    broker_connected: Gauge


def create_metrics(registry: CollectorRegistry) -> Metrics:
    """Register canarywatch's metrics on ``registry``."""
    r = registry
    return Metrics(
        records_consumed=Counter("canarywatch_records_consumed", "Kafka records consumed",
                                 ["topic", "cohort"], registry=r),
        bytes_consumed=Counter("canarywatch_bytes_consumed", "Bytes consumed", ["topic"],
                               registry=r),
        events_decoded=Counter("canarywatch_events_decoded", "Events decoded",
                               ["type", "cohort"], registry=r),
        decode_errors=Counter("canarywatch_decode_errors", "Records that could not be decoded",
                              ["source"], registry=r),
        kafka_records=Counter("canarywatch_kafka_records", "Kafka records read, each once, by "
                              "outcome: events, rejected, empty (no telemetry in it) or poison",
                              ["topic", "outcome"], registry=r),
        poison_records=Counter("canarywatch_poison_records", "Records whose decoding or "
                               "folding raised, skipped", ["topic", "reason"], registry=r),
        future_events=Counter("canarywatch_future_events", "Events dropped "
                              "for ending more than a day after the wall clock (a producer "
                              "clock years ahead): counted as clock_skew rejects", registry=r),
        fold_errors=Counter("canarywatch_fold_errors", "Events skipped because folding them "
                            "into the analysis raised", ["error"], registry=r),
        lines_truncated=Counter("canarywatch_lines_truncated", "Log bodies cut to "
                                "logs.max_line_chars", registry=r),
        rejected=Counter("canarywatch_rejected", "Records and events refused, by reason "
                         "(canarywatch.rejects.RejectReason)", ["reason"], registry=r),
        consumer_lag=Gauge("canarywatch_consumer_lag", "Consumer lag in records",
                           ["topic", "partition"], registry=r),
        processing_seconds=Histogram("canarywatch_processing_seconds",
                                     "Seconds to fold one batch into state", registry=r),
        templates=Gauge("canarywatch_templates", "Log templates per service", ["service"],
                        registry=r),
        templates_evicted=Counter("canarywatch_templates_evicted",
                                  "Templates evicted from the miner (least recently seen past "
                                  "templates.max_clusters) and forgotten by the analysis",
                                  registry=r),
        endpoints=Gauge("canarywatch_endpoints", "Endpoints kept under their own name per service",
                        ["service"], registry=r),
        endpoint_folds=Counter("canarywatch_endpoint_folds",
                               "Requests counted under the `other` endpoint "
                               "(past analysis.max_endpoints_per_service)",
                               ["service"], registry=r),
        verdicts=Counter("canarywatch_verdicts", "Verdict changes", ["action"], registry=r),
        current_verdicts=Gauge("canarywatch_current_verdicts",
                               "Canaries currently at each action", ["action"], registry=r),
        webhook_attempts=Counter("canarywatch_webhook_attempts", "Webhook delivery attempts",
                                 ["webhook"], registry=r),
        webhook_successes=Counter("canarywatch_webhook_successes", "Webhook deliveries",
                                  ["webhook"], registry=r),
        webhook_failures=Counter("canarywatch_webhook_failures", "Failed webhook attempts",
                                 ["webhook", "reason"], registry=r),
        outbox_depth=Gauge("canarywatch_outbox_depth", "Decisions waiting for delivery",
                           registry=r),
        state_saves=Counter("canarywatch_state_saves", "State snapshots written", registry=r),
        broker_connected=Gauge("canarywatch_broker_connected", "1 when the broker is reachable",
                               registry=r),
    )
