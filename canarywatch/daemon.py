"""``canarywatch run``: consume Kafka, fold events into state, serve and push verdicts.

The loop is poll -> decode and fold into the pipeline -> (every ``kafka.commit_interval_s``)
save the pipeline snapshot with the offsets it covers -> commit those offsets to Kafka.
Saved state decides where reading resumes (see :mod:`canarywatch.state`), so a crash replays
only what the state does not hold yet and nothing is counted twice. SIGTERM/SIGINT finish the
current batch, save, commit and exit 0.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType

from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from canarywatch.config import Config
from canarywatch.decode.batch import EMPTY_BATCH, DecodedBatch, batch_of
from canarywatch.decode.lines import JsonLineDecoder
from canarywatch.errors import ConfigError, DecodeError, StateError
from canarywatch.metrics import Metrics, create_metrics
from canarywatch.pipeline import LookObserver, Pipeline, VerdictSink
from canarywatch.rejects import RejectReason
from canarywatch.sources.base import Record
from canarywatch.sources.kafka import KafkaSource, TopicPartitionKey
from canarywatch.state import StateStore

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 500
# Save and commit after this many records even when commit_interval_s has not passed.
CHECKPOINT_RECORDS = 50_000
# A checkpoint waits until at least this many times its last duration has passed since the
# last one, so saving state (whose pending events grow with the event rate) takes at most
# about a tenth of the agent's time; a crash then replays a longer uncommitted tail.
CHECKPOINT_COST_FACTOR = 10.0
# Young-generation collections after this many net container allocations instead of 700:
# the hot loop allocates and frees a few short-lived objects per event (none in cycles), so
# Python's default collected every few hundred spans for nothing (~5% of the loop's time).
GC_YOUNG_THRESHOLD = 20_000
START_RETRY_MAX_S = 30.0
# Time buckets of each judged version kept for the HTML page at GET /.
PAGE_BUCKETS = 360
# Log every poison record up to this many, then every 1000th.
LOGGED_POISON = 20
# After SIGTERM/SIGINT, the process exits within this many seconds even if saving state or
# leaving the group hangs (a second signal exits at once).
STOP_GRACE_S = 10.0
# While no partition is assigned, say why at most this often (s).
UNASSIGNED_LOG_S = 30.0


_REJECT_REASONS = {"too_deep": RejectReason.TOO_DEEP, "too_large": RejectReason.TOO_LARGE}


def poison_reason(exc: BaseException) -> str:
    """The ``reason`` label of a poison record: what kind of failure its decoding raised."""
    if isinstance(exc, RecursionError):
        return "too_deep"
    if isinstance(exc, MemoryError):
        return "too_large"
    if isinstance(exc, (UnicodeError, ValueError, TypeError, KeyError, IndexError,
                        OverflowError, AttributeError)):
        return "malformed"
    return "exception"


class Daemon:
    """One agent: a KafkaSource, a Pipeline and a StateStore, driven from one thread.

    Rebalance callbacks run on kafka-python's IO thread while this thread waits in ``poll``;
    the lock keeps a state save from ever seeing a half-folded batch.
    """

    def __init__(self, config: Config, metrics: Metrics, sinks: Sequence[VerdictSink] = (),
                 restored: Callable[[Pipeline], None] | None = None,
                 observer: LookObserver | None = None) -> None:
        self.config = config
        self.metrics = metrics
        from canarywatch.history import history_from_config  # noqa: PLC0415 (sklearn: lazy)
        from canarywatch.history.rolling import rolling_from_config  # noqa: PLC0415

        self.pipeline = Pipeline(config, sinks, metrics, observer=observer,
                                 history=history_from_config(config),
                                 rolling=rolling_from_config(config))
        self.source = KafkaSource(config.kafka, metrics)
        self.store = StateStore(Path(config.state_dir))
        self._restored_hook = restored
        # Extra JSON topics carry their own field mapping; the pipeline's decoder knows only
        # the global one (logs.fields).
        self._line_decoders = {
            extra.topic: JsonLineDecoder(
                extra.fields, extra.service or config.logs.default_service,
                extra.version or config.logs.default_version)
            for extra in config.kafka.extra_log_topics if extra.format == "json"}
        self._offsets: dict[TopicPartitionKey, int] = {}
        # The offsets Kafka last accepted: a refused commit (a rebalance in progress, a
        # broker away) is retried at the next checkpoint even with no new records.
        self._committed: dict[TopicPartitionKey, int] = {}
        self._topic_ids: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.stopped = threading.Event()  # set once run() has closed everything
        self._ready = threading.Event()
        self._dirty = False
        self._dirty_since_drain = False
        self._heard_at: dict[str, float] = {}  # partition -> when it last delivered records
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self._checkpoint_seconds = 0.0  # how long the last state save took
        self._poison_count = 0
        self._unassigned_since: float | None = None  # monotonic s; see _report_unassigned
        self._unassigned_logged = 0.0
        # When the consume loop last finished a step (monotonic s): /healthz reads it.
        self._progress_at = time.monotonic()
        self._step_at = self._progress_at  # when the loop last finished a step
        self.source.on_assigned = self._on_assigned
        self.source.on_revoked = self._on_revoked

    # -- lifecycle ----------------------------------------------------------------------------

    def ready(self) -> bool:
        """True once state is restored and partitions were assigned (stays true in outages)."""
        return self._ready.is_set()

    def request_stop(self) -> None:
        self._stop.set()

    def live(self) -> bool:
        """What ``/healthz`` tells: False when the consume loop has finished no step for
        ``kafka.stall_timeout_s`` (it hangs), or has folded nothing for that long while the
        broker reports records waiting on its partitions (it spins without progress)."""
        now = time.monotonic()
        stall_s = self.config.kafka.stall_timeout_s
        if now - self._step_at > stall_s:
            return False
        return not (now - self._progress_at > stall_s and self.source.waiting() > 0)

    @property
    def lock(self) -> threading.RLock:
        """Held while the pipeline changes; hold it to read or finish the pipeline."""
        return self._lock

    @property
    def offsets(self) -> dict[TopicPartitionKey, int]:
        """Next offset to read per partition: everything before it is in the pipeline."""
        with self._lock:
            return dict(self._offsets)

    def history_json(self, service: str | None) -> bytes | None:
        """``GET /v1/models``: every service's rolling history in brief; with ``service``,
        its history as a model file (None when it has none)."""
        from canarywatch.history.store import history_listing, model_to_json  # noqa: PLC0415

        rolling = self.pipeline.rolling
        if rolling is None:
            return None
        with self._lock:
            names = rolling.services() if service is None else [service]
            models = [m for m in (rolling.model(s, self.pipeline) for s in names) if m]
        if service is None:
            return json.dumps(history_listing(models)).encode("utf-8")
        if not models:
            return None
        return json.dumps(model_to_json(models[0]), ensure_ascii=False).encode("utf-8")

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def restore(self) -> None:
        """Load the saved snapshot into the pipeline and tell the source where to resume."""
        saved = self.store.load()
        if saved.snapshot is not None:
            try:
                self.pipeline.restore(saved.snapshot)
            except (KeyError, TypeError, ValueError) as exc:
                raise StateError(f"{self.store.path} holds state this canarywatch cannot "
                                 f"restore ({exc!r}); move it aside to start afresh") from None
            log.info("state restored from %s: %d partitions, %d verdicts", self.store.path,
                     len(saved.offsets), len(self.pipeline.verdicts()))
        else:
            log.info("no saved state in %s: starting afresh", self.store.path)
        with self._lock:
            self._offsets = dict(saved.offsets)
            self._topic_ids = dict(saved.topic_ids)
        if self._restored_hook is not None:
            self._restored_hook(self.pipeline)

    def connect(self) -> bool:
        """Start the consumer, retrying with backoff until it works or a stop is requested."""
        delay_s = 0.5
        logged = False
        while not self.stopping:
            try:
                self.source.start()
                return True
            except KafkaError as exc:
                self._step_at = time.monotonic()
                self.metrics.broker_connected.set(0)
                if not logged:
                    log.warning("cannot reach Kafka at %s (%s); retrying",
                                ",".join(self.config.kafka.bootstrap_servers), exc)
                    logged = True
                self._stop.wait(delay_s)
                delay_s = min(START_RETRY_MAX_S, delay_s * 2)
        return False

    def run(self) -> None:
        """Consume until ``request_stop``; then save, commit and close."""
        try:
            while not self.stopping:
                self.step(POLL_TIMEOUT_MS)
        finally:
            self.close()

    def close(self) -> None:
        try:
            self.checkpoint(final=True)
        finally:
            try:
                self.source.stop()
                self.store.close()
            finally:
                self.stopped.set()

    # -- one iteration ------------------------------------------------------------------------

    def step(self, timeout_ms: int) -> int:
        """Poll once, fold what came in, checkpoint when due; returns the records folded."""
        records = self.source.poll_batch(timeout_ms)
        if records:
            self.fold(records)
        elif not self._ready.is_set():
            self._report_unassigned()
        # An empty poll drains the lateness buffer only once no partition holds the clock
        # (one amid a backlog is a fetch in flight: draining then released one partition's
        # events ahead of another's, deciding a look before replay does).
        elif self._dirty_since_drain and not self._lagging(()):
            with self._lock:
                self.pipeline.drain()
                self._dirty = True
            self._dirty_since_drain = False
        elapsed = time.monotonic() - self._last_checkpoint
        due = ((elapsed >= self.config.kafka.commit_interval_s
                or self._since_checkpoint >= CHECKPOINT_RECORDS)
               and elapsed >= CHECKPOINT_COST_FACTOR * self._checkpoint_seconds)
        if due and (self._dirty or self._uncommitted()):
            self.checkpoint()
        self._step_at = time.monotonic()
        return len(records)

    def _lagging(self, delivering: Iterable[str]) -> set[str]:
        """Partitions (``topic:partition``) with records on the broker that hold the event
        clock: all of them, but one that delivered nothing for ``kafka.partition_wait_s``."""
        now = time.monotonic()
        heard = self._heard_at
        for stream in delivering:
            heard[stream] = now
        wait_s = self.config.kafka.partition_wait_s
        out = set()
        for topic, partition in self.source.waiting_partitions():
            stream = f"{topic}:{partition}"
            since = heard.setdefault(stream, now)  # first seen waiting: its wait starts
            if now - since < wait_s:
                out.add(stream)
        return out

    def fold(self, records: Sequence[Record]) -> None:
        """Decode and fold ``records`` into the pipeline and remember their next offsets.

        Every record is accounted for once in ``canarywatch_kafka_records`` (``outcome``:
        ``events``, ``rejected``, ``empty`` or ``poison``). A record whose decoding or folding
        raises anything is poison: counted (``canarywatch_poison_records``, by reason), logged
        with its ``topic:partition:offset``, skipped and committed past. A stop request ends
        the batch at a record boundary; the records not folded are read again next time.
        """
        started = time.perf_counter()
        outcomes: dict[tuple[str, str], int] = {}
        pipeline = self.pipeline
        counts = pipeline.counts
        stop = self._stop
        with self._lock:
            records = self._drop_recreated(records)
            # Partitions with records waiting hold the release clock back: those the broker
            # still holds records of, and those with records later in this batch (a poll
            # returns several partitions' records: one partition's last records of the
            # backlog must not let another's, fed first, run ahead of them).
            last_in_batch: dict[str, int] = {}
            for index, record in enumerate(records):
                at = record.position
                if at is not None:
                    last_in_batch[f"{at.topic}:{at.partition}"] = index
            lagging = self._lagging(last_in_batch)
            waiting = lagging | set(last_in_batch)
            pipeline.set_waiting(waiting, bounded=False)
            offsets = self._offsets
            folded = 0
            for index, record in enumerate(records):
                if stop.is_set():
                    break
                position = record.position
                stream: str | None = None
                if position is not None:
                    stream = f"{position.topic}:{position.partition}"
                    if last_in_batch[stream] == index and stream not in lagging:
                        waiting.discard(stream)  # fed below: nothing of it waits after it
                        pipeline.set_waiting(waiting, bounded=False)
                topic = position.topic if position is not None else record.origin
                rejected_before = counts.rejected
                try:
                    batch = self._decode(record, topic)  # future times dropped there
                    if batch.entries:
                        pipeline.feed_batch(batch, stream)
                        pipeline.count_consumed(topic, batch.origins)
                        outcome = "events"
                    elif pipeline.counts.rejected > rejected_before:
                        outcome = "rejected"
                    else:
                        outcome = "empty"
                except Exception as exc:  # poison: one record must never stop the agent
                    self._poisoned(record, topic, exc)
                    outcome = "poison"
                okey = (topic, outcome)
                outcomes[okey] = outcomes.get(okey, 0) + 1
                folded += 1
                if position is not None:
                    offsets[(position.topic, position.partition)] = position.offset + 1
                    if position.topic not in self._topic_ids:
                        self._remember_topic_id(position.topic)
            self._dirty = True
            self._dirty_since_drain = True
            self._since_checkpoint += folded
        for (topic, outcome), n in outcomes.items():
            self.metrics.kafka_records.labels(topic, outcome).inc(n)
        self._progress_at = time.monotonic()
        self.metrics.processing_seconds.observe(time.perf_counter() - started)

    def _report_unassigned(self) -> None:
        """Say so, every ``UNASSIGNED_LOG_S``, while the group has given this agent no
        partition: /readyz answers 503 meanwhile, and an operator must not guess why."""
        now = time.monotonic()
        if self._unassigned_since is None:
            self._unassigned_since = self._unassigned_logged = now
            return
        if now - self._unassigned_logged < UNASSIGNED_LOG_S:
            return
        self._unassigned_logged = now
        kafka = self.config.kafka
        log.warning(
            "no partition assigned after %.0f s in group %s (not ready): the group may still "
            "be rebalancing, a member that stopped without leaving holds the partitions until "
            "its session times out (session_timeout_ms %d), or every partition is taken by "
            "other members; topics %s", now - self._unassigned_since, kafka.group_id,
            kafka.session_timeout_ms, ",".join(self.source.topics))

    def _poisoned(self, record: Record, topic: str, exc: Exception) -> None:
        """Count, log and skip a record whose decoding or folding raised ``exc``."""
        reason = poison_reason(exc)
        self.metrics.poison_records.labels(topic, reason).inc()
        self._poison_count += 1
        n = self._poison_count
        if n <= LOGGED_POISON or n % 1000 == 0:
            log.error("skipped poison record %s (%d bytes): %s: %.200s (%d poison records so "
                      "far)", record.origin, len(record.payload), type(exc).__name__, exc, n,
                      exc_info=n <= 3 and reason == "exception")
        try:
            self.pipeline.reject(record.origin, f"{type(exc).__name__} while decoding",
                                 record.kind.value, _REJECT_REASONS.get(
                                     reason, RejectReason.MALFORMED_RECORD))
        except Exception:  # counting must not turn poison into a crash either
            log.exception("counting poison record %s", record.origin)

    def _drop_recreated(self, records: Sequence[Record]) -> Sequence[Record]:
        """Records fetched at old offsets from a topic the broker has since recreated are
        not read: the partition starts again from ``auto_offset_reset`` in the new log."""
        topics = {r.position.topic for r in records if r.position is not None}
        gone = {t for t in topics if self._recreated(t)}
        if not gone:
            return records
        for key in sorted(k for k in self.source.assignment if k[0] in gone):
            self.source.seek_to_reset(key)
        return [r for r in records if r.position is None or r.position.topic not in gone]

    def _decode(self, record: Record, topic: str) -> DecodedBatch:
        decoder = self._line_decoders.get(topic)
        if decoder is None:
            return self.pipeline.decode_batch(record)
        try:
            return batch_of(decoder.decode(record))
        except DecodeError as exc:
            self.pipeline.reject(exc.origin, exc.message, record.kind.value, exc.reason)
            return EMPTY_BATCH

    def checkpoint(self, final: bool = False) -> None:
        """Save the snapshot with the offsets it covers, then commit them to Kafka.

        Offsets Kafka refused (a commit during a rebalance fails with an unknown member id)
        stay pending and are committed again at the next checkpoint, new records or not.
        """
        with self._lock:
            if not self._dirty and not final and not self._uncommitted():
                return
            if self._dirty:
                started = time.monotonic()
                snapshot = self.pipeline.snapshot()
                offsets = dict(self._offsets)
                size = self.store.save(snapshot, offsets, self._topic_ids)
                self._checkpoint_seconds = time.monotonic() - started
                self.metrics.state_saves.inc()
                log.debug("checkpoint: %d bytes of state in %.3fs, offsets %s", size,
                          self._checkpoint_seconds, offsets)
            offsets = dict(self._offsets)
            self._dirty = False
            self._since_checkpoint = 0
            self._last_checkpoint = time.monotonic()
        if offsets and self.source.commit(offsets, timeout_ms=3000 if final else 5000):
            with self._lock:
                assigned = self.source.assignment
                self._committed.update(
                    (key, offset) for key, offset in offsets.items() if key in assigned)

    def _uncommitted(self) -> bool:
        """True when an assigned partition's read offset is not yet committed to Kafka."""
        committed, assigned = self._committed, self.source.assignment
        return any(committed.get(key) != offset for key, offset in self._offsets.items()
                   if key in assigned)

    # -- rebalance callbacks (kafka-python's IO thread) ---------------------------------------

    def _on_assigned(self, partitions: set[TopicPartitionKey]) -> None:
        """Resume each partition where this agent's state says, wherever Kafka's commit is."""
        with self._lock:
            for key in sorted(partitions):
                self._committed.pop(key, None)  # commit it afresh under this generation
                offset = self._offsets.get(key)
                if offset is None:
                    log.info("partition %s:%d assigned; not in state, reading from the group's "
                             "committed offset or %s", *key, self.config.kafka.auto_offset_reset)
                elif self._recreated(key[0]):
                    continue
                else:
                    self.source.seek(key, offset)
                    log.info("partition %s:%d assigned; resuming at offset %d from state",
                             *key, offset)
        if partitions:
            self._ready.set()

    def _recreated(self, topic: str) -> bool:
        """True (and the topic's offsets forgotten) when the broker's topic is a new one."""
        known, current = self._topic_ids.get(topic), self.source.topic_id(topic)
        if known is None or current is None or known == current:
            return False
        log.warning("topic %s was deleted and recreated (id %s, was %s): its saved offsets no "
                    "longer apply; reading it from the group's committed offset or %s",
                    topic, current, known, self.config.kafka.auto_offset_reset)
        for key in [k for k in self._offsets if k[0] == topic]:
            del self._offsets[key]
            self._committed.pop(key, None)
        self._topic_ids[topic] = current
        self._dirty = True
        return True

    def _remember_topic_id(self, topic: str) -> None:
        topic_id = self.source.topic_id(topic)
        if topic_id is not None:
            self._topic_ids[topic] = topic_id

    def _on_revoked(self, partitions: set[TopicPartitionKey]) -> None:
        # Whoever takes these partitions over reads from the committed offsets; save now so
        # this agent's own state never runs behind what it has read.
        if partitions and self._dirty:
            with self._lock:
                try:
                    self.store.save(self.pipeline.snapshot(), dict(self._offsets),
                                    self._topic_ids)
                    self.metrics.state_saves.inc()
                except StateError:
                    log.exception("saving state on partition revocation")


class _RepeatFilter(logging.Filter):
    """Lets one kafka-python message through per ``window_s``: in an outage it repeats the
    same warning many times a second, while canarywatch logs the outage once."""

    def __init__(self, window_s: float = 60.0) -> None:
        super().__init__()
        self._window_s = window_s
        self._last: dict[tuple[str, int, object], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        key = (record.name, record.levelno, record.msg)
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._window_s:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True


def _quiet_kafka_client() -> Callable[[], None]:
    """Below DEBUG, show kafka-python's warnings and errors only, each once a minute at most,
    while the daemon runs; returns the undo."""
    root = logging.getLogger()
    kafka_logger = logging.getLogger("kafka")
    previous = kafka_logger.level
    if root.getEffectiveLevel() <= logging.DEBUG:
        return lambda: None
    kafka_logger.setLevel(logging.WARNING)
    only = _KafkaOnly(_RepeatFilter())
    handlers = list(root.handlers)
    for handler in handlers:
        handler.addFilter(only)

    def undo() -> None:
        kafka_logger.setLevel(previous)
        for handler in handlers:
            handler.removeFilter(only)

    return undo


class _KafkaOnly(logging.Filter):
    def __init__(self, inner: logging.Filter) -> None:
        super().__init__()
        self._inner = inner

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "kafka" or record.name.startswith("kafka."):
            return bool(self._inner.filter(record))
        return True


def _install_signals(daemon: Daemon, grace_s: float = STOP_GRACE_S,
                     early: Sequence[int] = ()) -> None:
    """SIGTERM/SIGINT ask the loop to stop (finish the record, save, commit, exit 0). If it
    has not exited ``grace_s`` later, or on a second signal, the process exits at once with
    code 1: what the saved state lacks is read again from Kafka on the next start.
    ``early``: signals caught during start-up, before the daemon existed; the first is acted
    on now (a stop requested while importing must exit 0, not die of the signal: 143)."""

    def force_exit(why: str) -> None:
        log.error("%s: exiting without saving state", why)
        logging.shutdown()
        os._exit(1)

    def watchdog() -> None:
        if not daemon.stopped.wait(grace_s):
            force_exit(f"still running {grace_s:.0f}s after the stop request")

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if daemon.stopping:
            force_exit(f"second {name}")
        log.info("%s received: finishing the batch, saving state, exiting", name)
        daemon.request_stop()
        threading.Thread(target=watchdog, name="stop-watchdog", daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if early:
        log.info("%s received during start-up", signal.Signals(early[0]).name)
        handler(early[0], None)


def tune_gc_for_streaming() -> None:
    """Prepare the process's garbage collector for the consume loop (call once, after state
    is restored): what exists now (modules, config, restored state) moves to the permanent
    generation so no collection walks it again, and young collections become rarer. Objects
    still die by reference counting as before; only cyclic garbage waits longer."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def run_daemon(config: Config, registry: CollectorRegistry | None = None,
               install_signals: bool = True, insecure_no_auth: bool = False,
               early_signals: Sequence[int] = ()) -> int:
    """``canarywatch run``: serve HTTP, consume until SIGTERM/SIGINT, exit 0.

    ``early_signals``: SIGTERM/SIGINT the command caught before calling this (see
    ``canarywatch.cli.cmd_run``); the daemon starts, finds the stop and exits 0.

    ConfigError before anything starts when ``server.listen`` is off loopback without a
    token (unless ``insecure_no_auth``); see :mod:`canarywatch.server.auth`.
    """
    from canarywatch.actions.webhooks import WebhookDispatcher  # noqa: PLC0415
    from canarywatch.report.timeline import TimelineRecorder  # noqa: PLC0415
    from canarywatch.server import VerdictBoard, load_bearer_token  # noqa: PLC0415
    from canarywatch.server.auth import check_listen  # noqa: PLC0415
    from canarywatch.server.http import bind  # noqa: PLC0415
    from canarywatch.server.page import ReportPage  # noqa: PLC0415
    from canarywatch.server.process import ApiProcess  # noqa: PLC0415
    from canarywatch.server.revisions import FILE_NAME, FlaggerRevisions  # noqa: PLC0415
    from canarywatch.statedir import prepare_state_dir  # noqa: PLC0415

    token = load_bearer_token(config.server)
    check_listen(config.server, token, insecure_no_auth)
    prepare_state_dir(Path(config.state_dir))
    # Opened here once so a bad file stops the start (exit 2); the API process keeps it.
    FlaggerRevisions(Path(config.state_dir) / FILE_NAME).close()
    registry = registry if registry is not None else CollectorRegistry()
    metrics = create_metrics(registry)
    metrics.broker_connected.set(0)
    board = VerdictBoard()
    dispatcher = WebhookDispatcher(config.actions, Path(config.state_dir), metrics)

    def show_restored(pipeline: Pipeline) -> None:
        for verdict in pipeline.verdicts():
            board.send(verdict)

    # GET /: the last hour (at the default bucket_s) of every judged version, drawn on demand.
    recorder = TimelineRecorder(max_points=PAGE_BUCKETS, keep="recent")
    daemon = Daemon(config, metrics, sinks=(board, dispatcher), restored=show_restored,
                    observer=recorder)
    if install_signals:
        _install_signals(daemon, early=early_signals)
    unquiet = _quiet_kafka_client()
    page = ReportPage(recorder, board)
    host, _, port = config.server.listen.rpartition(":")
    try:
        sock = bind(host.strip("[]"), int(port))
    except OSError as exc:
        dispatcher.close()
        raise ConfigError("server.listen",
                          f"cannot listen on {config.server.listen}: {exc.strerror}") from None
    # The HTTP API runs in a process of its own (see canarywatch.server.process).
    server = ApiProcess(sock, config.server, board, registry, ready=daemon.ready,
                        live=daemon.live, state_dir=Path(config.state_dir), page=page.render,
                        stale_s=config.kafka.stall_timeout_s, models=daemon.history_json,
                        # A new Flagger revision is the service's next release: release
                        # what receivers latch for it.
                        on_new_revision=lambda service: dispatcher.release(
                            service, why="new Flagger revision"))
    server.start()
    log.info("serving /healthz /readyz /metrics /v1/verdicts /v1/models on port %d",
             server.port)
    try:
        daemon.restore()
        tune_gc_for_streaming()
        if daemon.connect():
            daemon.run()
        else:
            daemon.store.close()
            daemon.stopped.set()
    finally:
        dispatcher.close()
        server.stop()
        page.close()
        unquiet()
    log.info("stopped cleanly")
    return 0

