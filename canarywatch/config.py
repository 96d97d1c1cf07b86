"""The one configuration model: validated at start, frozen, unknown keys refused.

A YAML file is read, environment overrides are applied (``CANARYWATCH_`` prefix, ``__``
between nested keys, for example ``CANARYWATCH_KAFKA__BOOTSTRAP_SERVERS=host:9092``), and
the result is validated. Any problem raises :class:`ConfigError` naming the dotted key.
Nothing falls back silently: a wrong setting in a rollback controller is worse than not
starting.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from canarywatch.errors import ConfigError

ENV_PREFIX = "CANARYWATCH_"

DEFAULT_VERSION_KEYS = (
    "service.version",
    "app.version",
    "version",
    "k8s.pod.label.app.kubernetes.io/version",
    "k8s.pod.labels.app.kubernetes.io/version",
    "k8s.pod.label.version",
    "k8s.pod.labels.version",
)

# Whole-segment patterns, first match wins (see canarywatch.decode.endpoints;
# analysis.endpoint_path_rules replaces them).
DEFAULT_PATH_RULES: dict[str, str] = {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}": "{id}",
    "-?[0-9]+(?:[.,][0-9]+)?": "{id}",
    "(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}": "{id}",
    "[^@\\s]+@[^@\\s]+\\.[^@\\s]+": "{email}",
    "(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_.~+=%-]{16,}": "{token}",
}


# Every numeric key: strict (a YAML `true` is not 1; a string is not a number; an int is a
# fine float) and, for floats, finite (`.inf` would silently switch a guard off).
Float = Annotated[float, Strict(), AllowInfNan(False)]
Int = Annotated[int, Strict()]


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode,
                          deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(  # problem only: a one-line message
                    None, None, f"duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                    "(give each key once)")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """``text`` as YAML (safe tags only), refusing duplicate keys.

    Raises yaml.YAMLError, or RecursionError when it is nested too deeply to build.
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe tags only


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceCohorts(_Model):
    """Explicit roles for one service's versions."""

    baseline: str
    canary: tuple[str, ...] = Field(min_length=1)

    @field_validator("canary", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class CohortConfig(_Model):
    version_keys: tuple[str, ...] = Field(default=DEFAULT_VERSION_KEYS, min_length=1)
    # Explicit baseline/canary per service; services not named here are decided automatically.
    services: dict[str, ServiceCohorts] = Field(default_factory=dict)
    # Automatic roles: a service needs this many versioned events before roles are assigned.
    auto_min_events: Int = Field(default=50, gt=0)
    # A non-baseline version is a canary once it carries at least this share of the traffic.
    auto_min_canary_share: Float = Field(default=0.002, gt=0, lt=0.5)


class LogFieldMapping(_Model):
    """Where a JSON log line keeps its fields (dotted paths into the object)."""

    message: str = "message"
    level: str = "level"
    service: str = "service"
    version: str = "version"
    time: str = "time"
    trace_id: str = "trace_id"


class LogInputConfig(_Model):
    """How JSON-lines and plain-text log files and topics are read."""

    fields: LogFieldMapping = Field(default_factory=LogFieldMapping)
    # Used for text lines and JSON lines without a service / version field.
    default_service: str = "unknown"
    default_version: str | None = None
    # Log bodies (and recorded exception messages) longer than this many characters are cut
    # to it, ending in " …[truncated]", before template mining.
    max_line_chars: Int = Field(default=4096, ge=64)


class MaskRule(_Model):
    pattern: str
    mask: str = "<*>"


class TemplatesConfig(_Model):
    # Drain similarity a line needs to join a template (masked parameters count as equal).
    sim_threshold: Float = Field(default=0.8, gt=0, le=1)
    # Drain tree depth: depth - 3 leading tokens pick the branch (5: the first two).
    depth: Int = Field(default=5, ge=3)
    max_children: Int = Field(default=100, gt=0)
    max_clusters: Int = Field(default=2000, gt=0)
    # Extra masking rules applied before the built-in ones.
    masking: tuple[MaskRule, ...] = ()
    examples_per_template: Int = Field(default=3, ge=0)
    # Clusters equal but at one position merge (that position becomes <*>) once this many
    # different values were seen there; 0 turns merging off.
    merge_min_variants: Int = Field(default=4, ge=0)
    # The same for positions of plain words (event types such as Started / Paused / Stopped
    # are few and recur; names are many): more values are needed before they merge.
    merge_min_word_variants: Int = Field(default=5, ge=0)
    # Fast path: masked token sequences remembered with the template they found; 0 = off.
    cache_size: Int = Field(default=100_000, ge=0)
    # Fields of a JSON or logfmt line that hold its message (the first present is mined)
    # and its level (which becomes the severity); other fields are attributes.
    message_fields: tuple[str, ...] = ("msg", "message", "log", "event", "error", "err", "text")
    level_fields: tuple[str, ...] = ("level", "severity", "lvl", "loglevel", "log.level",
                                     "levelname", "severity_text", "severityText")
    # Characters that split a delimited record into fields before masking ("" = none).
    delimiters: str = "|,;"


class AnalysisConfig(_Model):
    # Severities whose templates can fail a canary (WARN only when listed here).
    failing_severities: tuple[Literal["WARN", "ERROR", "FATAL"], ...] = ("ERROR", "FATAL")
    # Family-wise false-alarm budget per canary, spent across all looks and signals.
    alpha: Float = Field(default=0.01, gt=0, lt=0.5)
    # How often (event time) the judge looks at the data.
    evaluation_interval_s: Float = Field(default=5.0, gt=0)
    # Canary evidence older than this is not used for a change that began later.
    window_s: Float = Field(default=300.0, gt=0)
    # Every test also runs on this recent part of the window, so a fault that began late is
    # judged undiluted by the healthy minutes before it; so does its half (post-change
    # windows); 0 turns both off.
    recent_window_s: Float = Field(default=60.0, ge=0)
    # Minimum requests of each cohort on an endpoint (in the window) before its error-rate or
    # latency test may fail the canary.
    min_requests: Int = Field(default=30, gt=0)
    # ...except the latency test, which may fail with this many canary (and baseline)
    # requests: its normal approximation is conservative in the far tail at small samples.
    latency_min_requests: Int = Field(default=10, gt=0)
    # Minimum canary occurrences of a template before it can fail the canary.
    min_template_count: Int = Field(default=5, gt=0)
    # Latency effect-size gates: the shift must be above both to count.
    latency_min_ratio: Float = Field(default=1.2, ge=1.0)
    latency_min_delta_ms: Float = Field(default=10.0, ge=0)
    # Error-rate effect-size gate: the canary's rate must exceed the baseline's by this much.
    error_rate_min_delta: Float = Field(default=0.01, ge=0)
    # Consecutive failing looks needed before a rollback.
    persistence: Int = Field(default=2, ge=1)
    # ...unless one look's evidence is overwhelming: a p-value below the look's threshold
    # times this factor rolls back at once (costs at most this share of the alpha budget).
    immediate_factor: Float = Field(default=0.01, ge=0, le=1)
    # Share of `alpha` for the always-valid count tests (mSPRT on everything since the
    # canary's start: templates and endpoint error counts, no spending over looks, no
    # persistence); the rest is spent over looks by the windowed tests. 0 turns them off.
    always_valid_share: Float = Field(default=0.5, ge=0, le=1)
    # Event time with enough traffic and no failing signal before `promote`.
    promote_after_s: Float = Field(default=600.0, gt=0)
    # Event time over which `alpha` is spent: each look may spend
    # alpha * evaluation_interval_s / alpha_horizon_s, split over the tests that can reach it.
    alpha_horizon_s: Float = Field(default=600.0, gt=0)
    # Width of the time buckets the sliding window is made of.
    bucket_s: Float = Field(default=10.0, gt=0)
    # Error-rate gate: the canary's rate must also be this many times the baseline's.
    error_rate_min_ratio: Float = Field(default=1.5, ge=1.0)
    # Template gate: the canary's lines per unit of traffic, over the baseline's.
    template_min_ratio: Float = Field(default=2.0, ge=1.0)
    # Confidence level of the reported Hodges-Lehmann interval of the latency ratio.
    latency_confidence: Float = Field(default=0.95, gt=0, lt=1)
    # Also test all endpoints pooled (catches a small shift spread over every endpoint).
    pooled_endpoints: bool = True
    # Log lines wait this long (event time) for the span of their trace, which tells their
    # endpoint, so templates are also tested per endpoint.
    log_join_wait_s: Float = Field(default=30.0, gt=0)
    # Events are processed in event-time order: each waits until events this much newer have
    # been seen, for older ones still on their way. More tolerates later data; less holds
    # fewer events in memory (at high rates, lateness x event rate of them).
    lateness_s: Float = Field(default=5.0, ge=0)
    # Each input stream (a replayed file, a Kafka partition) has its own watermark and the
    # clock that releases events is the lowest of them, so a backlog read in chunks is
    # processed in time order. In replay a stream more than this far (event time) behind the
    # newest no longer holds the clock back; the daemon bounds a waiting partition by
    # kafka.partition_wait_s instead.
    partition_hold_s: Float = Field(default=60.0, ge=0)
    # At most this many reasons on a verdict (failing ones first).
    max_reasons: Int = Field(default=10, gt=0)
    # An event whose time is farther than this from its stream's watermark (either way) is
    # rejected (reason clock_skew): it never moves the event clock or starts a look.
    max_clock_skew_s: Float = Field(default=3600.0, gt=0)
    # At most this many endpoints per service; past it the least-trafficked fold into one
    # endpoint named `other` (counted in /metrics, logged once per service).
    max_endpoints_per_service: Int = Field(default=200, gt=0)
    # Endpoints without a route are path templates: each path segment that fully matches one
    # of these regular expressions (first match wins) becomes its placeholder (/users/{id}).
    endpoint_path_rules: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PATH_RULES))

    @field_validator("endpoint_path_rules")
    @classmethod
    def _rules_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, placeholder in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
            if not placeholder or "/" in placeholder:
                raise ValueError(f"placeholder for {pattern!r} must be non-empty without '/'")
        return value

    @field_validator("recent_window_s", "bucket_s")
    @classmethod
    def _inside_window(cls, value: float, info: ValidationInfo) -> float:
        window_s = info.data.get("window_s")
        if window_s is not None and value >= window_s and value > 0:
            raise ValueError(f"must be below window_s ({window_s})")
        return value

    @property
    def evaluation_interval_ns(self) -> int:
        """The judge's look interval in ns: looks happen at its multiples of event time."""
        return max(1, int(self.evaluation_interval_s * 1_000_000_000))


class SecurityConfig(_Model):
    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool = True
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    # The password is never written in the config: name an env variable or a file.
    sasl_password_env: str | None = None
    sasl_password_file: str | None = None


class ExtraLogTopic(_Model):
    topic: str
    format: Literal["json", "text"] = "json"
    fields: LogFieldMapping = Field(default_factory=LogFieldMapping)
    service: str | None = None
    version: str | None = None


class KafkaConfig(_Model):
    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    group_id: str = "canarywatch"
    spans_topic: str | None = "otlp_spans"
    logs_topic: str | None = "otlp_logs"
    extra_log_topics: tuple[ExtraLogTopic, ...] = ()
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    session_timeout_ms: Int = Field(default=10000, gt=0)
    heartbeat_interval_ms: Int = Field(default=3000, gt=0)
    max_poll_interval_ms: Int = Field(default=300000, gt=0)
    max_poll_records: Int = Field(default=2000, gt=0)
    # How often topic metadata is refreshed: a topic created (or re-created by a broker that
    # came back empty) after the agent subscribed is picked up within this time.
    metadata_max_age_ms: Int = Field(default=30000, gt=0)
    # Offsets are committed after state is saved, at most this often.
    commit_interval_s: Float = Field(default=5.0, gt=0)
    # A partition with records on the broker holds the event clock back (so a backlog is
    # decided as replay decides it) until it has delivered nothing for this long (seconds).
    partition_wait_s: Float = Field(default=30.0, gt=0)
    # /healthz fails when the consume loop finished no step for this long, or folded nothing
    # for this long while records wait on its partitions.
    stall_timeout_s: Float = Field(default=120.0, gt=0)
    security: SecurityConfig = Field(default_factory=SecurityConfig)

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(s.strip() for s in value.split(",") if s.strip())
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one HOST:PORT")
        for server in value:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{server!r} is not HOST:PORT")
        return value


class RetryConfig(_Model):
    max_attempts: Int = Field(default=12, gt=0)
    base_delay_s: Float = Field(default=1.0, gt=0)
    max_delay_s: Float = Field(default=300.0, gt=0)


class WebhookConfig(_Model):
    name: str
    # The receiver's URL; one of url, url_env (an environment variable holding it) or
    # url_file (a file holding it). A URL that is itself a credential (a Slack, Discord, Teams
    # or Google Chat webhook, a query parameter like ?token=) is never stored or logged: put
    # it in url_env or url_file to keep it out of the config file too.
    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None
    preset: str = "generic"
    method: Literal["POST", "PUT", "PATCH"] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: Float = Field(default=5.0, gt=0)
    on: tuple[Literal["rollback", "promote", "continue", "change"], ...] = ("rollback",)
    body_template: str | None = None
    secret_env: str | None = None
    secret_file: str | None = None
    bearer_token_file: str | None = None
    bearer_token_env: str | None = None
    # Secret headers by reference (header -> env variable / file name), read at start and
    # added at send time: never written to the outbox. Plain `headers` may not look secret.
    secret_headers_env: dict[str, str] = Field(default_factory=dict)
    secret_headers_file: dict[str, str] = Field(default_factory=dict)
    ca_file: str | None = None
    # Preset parameters (Rollout name, Ingress name, namespace, chat channel ...).
    params: dict[str, str] = Field(default_factory=dict)
    # For a receiver that latches a rollback (flagger-loadtester's gate): release it when the
    # service's next release starts (a new canary version or Flagger revision). null: on for
    # presets that latch; true on a preset that does not latch is an error.
    release_latch: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: object) -> object:
        # YAML 1.1 reads a bare `on:` key as the boolean true: take it back as "on".
        if isinstance(data, dict) and True in data and "on" not in data:
            return {("on" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        given = [k for k in ("url", "url_env", "url_file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of url, url_env, url_file"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


class ActionsConfig(_Model):
    webhooks: tuple[WebhookConfig, ...] = ()
    retry: RetryConfig = Field(default_factory=RetryConfig)


class ServerConfig(_Model):
    listen: str = "127.0.0.1:9464"
    # When set, the Flagger and verdict endpoints require `Authorization: Bearer <token>`
    # (Flagger: metadata.token). Required when listen is not a loopback address (or pass
    # `run --insecure-no-auth`); at least 16 characters, e.g. `openssl rand -hex 32`.
    bearer_token_file: str | None = None
    bearer_token_env: str | None = None
    # Per-service /metrics series (templates, endpoints, endpoint folds): the busiest this
    # many services by events keep their own; the rest are summed under service="other".
    max_service_series: Int = Field(default=100, gt=0)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT")
        return value


class ModelsConfig(_Model):
    # Directory of learned service models (`canarywatch learn` writes them); unset: judge
    # against live baselines only. With a model, a version with no live baseline is judged
    # against its service's history, and templates the history knows are judged by their
    # historical rate.
    dir: str | None = None
    # Cosine similarity (TF-IDF of template words) from which a template of the same severity
    # counts as a rewording of a known one.
    similarity_threshold: Float = Field(default=0.7, gt=0, le=1)
    # The daemon keeps a rolling history of each service's baseline cohort (and of canaries
    # once promoted) in its state, served as a model file at GET /v1/models/<service> and
    # written by `canarywatch learn --from-state`: this many windows per service (7 days of
    # 60-s windows by default; dropped an hour of windows at a time); 0 keeps none.
    history_windows: Int = Field(default=10_080, ge=0)
    # Window length of that history: a multiple of analysis.bucket_s, at most
    # analysis.window_s (the windows are read back from the analysis buckets). Unset: 60 s,
    # or the longest whole number of buckets inside a shorter analysis window.
    history_window_s: Float | None = Field(default=None, gt=0)


class Config(_Model):
    cohorts: CohortConfig = Field(default_factory=CohortConfig)
    logs: LogInputConfig = Field(default_factory=LogInputConfig)
    templates: TemplatesConfig = Field(default_factory=TemplatesConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    state_dir: str = "./canarywatch-state"


def _key_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The valid key names beside the one at ``loc`` (empty when the place is not a model)."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        model = next((a for a in (annotation, *getattr(annotation, "__args__", ()))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def validate(data: Mapping[str, Any]) -> Config:
    """Validate a plain mapping into a Config, raising ConfigError naming the first bad key.

    An unknown key's message suggests the nearest valid key at its place, if one is close.
    """
    try:
        config = Config.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"]
        loc = tuple(first["loc"])
        if first["type"] == "extra_forbidden":
            message = "unknown key"
            close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc), n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {_key_of((*loc[:-1], close[0]))}?)"
        raise ConfigError(_key_of(loc), message) from None
    _check_history_window(config)
    return config


def _check_history_window(config: Config) -> None:
    """``models.history_window_s`` is cut from the analysis buckets: whole buckets, inside
    the analysis window."""
    window_s, bucket_s = config.models.history_window_s, config.analysis.bucket_s
    if window_s is None:
        return
    buckets = window_s / bucket_s
    if abs(buckets - round(buckets)) > 1e-9 or window_s > config.analysis.window_s:
        raise ConfigError("models.history_window_s",
                          f"must be a multiple of analysis.bucket_s ({bucket_s:g}) and at most "
                          f"analysis.window_s ({config.analysis.window_s:g})")


def env_names(environ: Mapping[str, str]) -> dict[str, str]:
    """Dotted config key -> the ``CANARYWATCH_*`` variable that sets it."""
    out: dict[str, str] = {}
    for name in environ:
        if name.startswith(ENV_PREFIX):
            path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
            if path:
                out[".".join(path)] = name
    return out


def _blame_environment(exc: ConfigError, environ: Mapping[str, str]) -> ConfigError:
    """``exc`` naming the environment variable that caused it, if one did."""
    for key, name in env_names(environ).items():
        if exc.key == key or exc.key.startswith(key + "."):
            return ConfigError(exc.key, f"{exc.message} (from environment variable {name})")
    return exc


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested overrides from ``CANARYWATCH_SECTION__KEY=value`` variables (values as YAML)."""
    out: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not path:
            continue
        node = out
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(".".join(path), f"conflicting environment override {name}")
            node = child
        try:
            node[path[-1]] = parse_yaml(raw) if raw else raw
        except (yaml.YAMLError, RecursionError):
            node[path[-1]] = raw
    return out


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into ``base`` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> Config:
    """Read ``path`` (YAML; None for defaults), apply env then explicit overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("", f"cannot read config {path}: {exc.strerror}") from None
        try:
            loaded = parse_yaml(text)
        except yaml.YAMLError as exc:
            raise ConfigError("", f"{path} is not valid YAML: {exc}") from None
        except RecursionError:
            raise ConfigError("", f"{path} is not a usable config: nested too deeply") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError("", f"{path}: the top level must be a mapping")
        data = loaded
    env = os.environ if environ is None else environ
    try:
        data = merge(data, env_overrides(env))
        if overrides:
            data = merge(data, overrides)
        return validate(data)
    except RecursionError:
        raise ConfigError("", "the config is nested too deeply") from None
    except ConfigError as exc:
        raise _blame_environment(exc, env) from None


_FILE_KEYS = ("_file", "_cafile", "_certfile", "_keyfile")  # kafka.security.ssl_* too


def missing_files(config: Config) -> ConfigError | None:
    """The first ``*_file`` key (a secret or certificate path) naming no readable file, or None.

    ``check-config`` reports it (exit 2); the daemon reads these files when it uses them.
    """
    def files(model: BaseModel, prefix: str) -> Any:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                yield from files(value, key + ".")
            elif isinstance(value, tuple):
                for i, item in enumerate(value):
                    if isinstance(item, BaseModel):
                        yield from files(item, f"{key}.{i}.")
            elif name.endswith(_FILE_KEYS) and isinstance(value, str):
                yield key, value
            elif name.endswith("_file") and isinstance(value, dict):
                for header, file in value.items():
                    yield f"{key}.{header}", file

    for key, file in files(config, ""):
        if not os.path.isfile(file):
            return ConfigError(key, f"no such file: {file}")
        if not os.access(file, os.R_OK):
            return ConfigError(key, f"cannot read {file}")
    return None
