"""Webhook delivery that loses nothing and never blocks consumption.

:meth:`WebhookDispatcher.send` runs on the pipeline's thread: it renders each interested
webhook's request and commits them to the outbox (SQLite in the state directory) before any
attempt, then wakes that webhook's delivery thread and returns. One thread per webhook
delivers in decision order, retrying with exponential backoff, jitter and ``Retry-After``
(see :mod:`canarywatch.actions.delivery`), so a slow or dead receiver holds up only itself.
Requests left pending at shutdown are sent after the next start, with the same id.

Decision id: ``cwd-`` + 32 hex digits of SHA-256 over what was decided: service, baseline
version, canary version (the release) and action, never the event time of the look that
decided it, so a restart that re-derives the decision at another event time (after a crash,
with a long ``kafka.commit_interval_s``) makes the same id, and the outbox (keyed by webhook
and id) sends it once. The same for every webhook, so one decision can be traced across
receivers. A re-sent verdict with an unchanged action is not a new decision, and a new
decision supersedes an older one still pending (see :mod:`canarywatch.actions.outbox`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from canarywatch.actions.credentials import Credentials, load_credentials
from canarywatch.actions.delivery import attempt, backoff_s
from canarywatch.actions.outbox import Outbox
from canarywatch.actions.presets import PRESETS
from canarywatch.actions.spec import WebhookSpec, decision_id, release_id
from canarywatch.actions.templating import TemplateError
from canarywatch.config import ActionsConfig, RetryConfig, WebhookConfig
from canarywatch.errors import ConfigError
from canarywatch.events import Action, Verdict
from canarywatch.metrics import Metrics

__all__ = ["PRESETS", "WebhookDispatcher", "webhooks_from_flags"]

logger = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.sqlite3"
_ERROR_PAUSE_S = 1.0


def webhooks_from_flags(urls: Sequence[str],
                        secret_file: Path | None) -> tuple[WebhookConfig, ...]:
    """Generic-preset webhooks for ``--webhook URL`` (repeatable), fired on every change."""
    if secret_file is not None and not secret_file.is_file():
        raise ConfigError("--webhook-secret-file", f"{secret_file} does not exist")
    out: list[WebhookConfig] = []
    for index, url in enumerate(urls, start=1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("--webhook", f"not an http:// or https:// URL: {url}")
        out.append(WebhookConfig(
            name=f"flag-webhook-{index}", url=url, preset="generic", on=("change",),
            secret_file=str(secret_file) if secret_file is not None else None))
    return tuple(out)


class _Worker:
    """Delivers one webhook's pending requests, oldest first, on its own thread."""

    def __init__(self, spec: WebhookSpec, credentials: Credentials,
                 dispatcher: WebhookDispatcher) -> None:
        self.spec = spec
        self.credentials = credentials
        self._d = dispatcher
        self._cond = threading.Condition()
        self._woken = False
        self._stopping = False
        self._due: dict[int, float] = {}
        self.thread = threading.Thread(target=self._run, name=f"webhook-{spec.name}",
                                       daemon=True)

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def _wait(self, timeout_s: float | None) -> None:
        with self._cond:
            if not self._woken and not self._stopping:
                self._cond.wait(timeout_s)
            self._woken = False

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._step()
            except Exception:  # keep delivering: a state error must not end the thread silently
                if self._stopping:  # the outbox was closed under an attempt in flight
                    return
                logger.exception("webhook %s: delivery loop error", self.spec.name)
                self._wait(_ERROR_PAUSE_S)

    def _step(self) -> None:
        """Attempt the oldest pending request that is due; one in retry backoff never holds
        back a younger one (another canary's decision: a canary has one pending at most)."""
        d = self._d
        items = d.outbox.pending(self.spec.name)
        if not items:
            self._wait(None)
            return
        if len(self._due) > len(items):  # forget the backoff of superseded requests
            seqs = {i.seq for i in items}
            self._due = {seq: at for seq, at in self._due.items() if seq in seqs}
        now = d.clock()
        due = [i for i in items if self._due.get(i.seq, 0.0) <= now]
        if not due:
            self._wait(min(self._due.get(i.seq, 0.0) for i in items) - now)
            return
        item = due[0]
        name = self.spec.name
        outcome = attempt(item.request, self.credentials, self.spec.config.timeout_s,
                          d.wall_clock())
        d.metrics.webhook_attempts.labels(name).inc()
        attempts = item.attempts + 1
        if outcome.ok:
            d.outbox.mark(item.seq, "delivered", attempts, None)
            d.metrics.webhook_successes.labels(name).inc()
            self._due.pop(item.seq, None)
            logger.info("webhook %s: delivered decision %s (HTTP %s, attempt %d)",
                        name, item.request.decision_id, outcome.status, attempts)
        else:
            d.metrics.webhook_failures.labels(name, outcome.reason).inc()
            if outcome.permanent or attempts >= d.retry.max_attempts:
                d.outbox.mark(item.seq, "failed", attempts, outcome.reason)
                d.changed(gave_up=True)
                self._due.pop(item.seq, None)
                logger.error("webhook %s: gave up on decision %s after %d attempts (%s)",
                             name, item.request.decision_id, attempts, outcome.reason)
            else:
                delay_s = backoff_s(attempts, d.retry, d.rng, outcome.retry_after_s)
                d.outbox.mark(item.seq, "pending", attempts, outcome.reason)
                self._due[item.seq] = d.clock() + delay_s
                logger.warning("webhook %s: attempt %d for decision %s failed (%s); "
                               "retrying in %.2fs", name, attempts,
                               item.request.decision_id, outcome.reason, delay_s)
        d.changed()


class WebhookDispatcher:
    """The webhook :class:`~canarywatch.actions.base.VerdictSink`: outbox + delivery threads.

    Raises ConfigError (bad webhook, missing secret) or StateError (outbox unusable) at start.
    ``clock`` (monotonic seconds) and ``rng`` drive the retry schedule; ``wall_clock`` (Unix
    seconds) only reads HTTP-date ``Retry-After`` values.
    """

    def __init__(self, config: ActionsConfig, state_dir: Path, metrics: Metrics, *,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 wall_clock: Callable[[], float] = time.time,
                 environ: Mapping[str, str] | None = None) -> None:
        self.metrics = metrics
        self.retry: RetryConfig = config.retry
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng if rng is not None else random.Random()
        self._specs: list[WebhookSpec] = []
        creds: list[Credentials] = []
        for index, webhook in enumerate(config.webhooks):
            key = f"actions.webhooks.{index}"
            if any(s.name == webhook.name for s in self._specs):
                raise ConfigError(f"{key}.name", f"duplicate webhook name '{webhook.name}'")
            spec = WebhookSpec(webhook, key)
            creds.append(load_credentials(webhook, key, spec.preset, environ))
            self._specs.append(spec)
        self.outbox = Outbox(state_dir / OUTBOX_FILE)
        for spec, cred in zip(self._specs, creds, strict=True):
            if cred.secret_url is not None:
                self.outbox.hide_url(spec.name, cred.secret_url)
        self._names = [s.name for s in self._specs]
        for orphan in self.outbox.orphans(self._names):
            logger.warning("outbox holds undelivered decisions for webhook %s, which is no "
                           "longer configured; they stay in the outbox", orphan)
        self._changed = threading.Condition()
        self._closed = False
        self.gave_up = 0  # requests marked failed since this dispatcher started
        self._workers = {s.name: _Worker(s, c, self) for s, c in zip(self._specs, creds,
                                                                       strict=True)}
        # Per service, canary versions whose rollback a receiver latches (see release()).
        self._latched = self.outbox.latched()
        self._latch_lock = threading.Lock()  # send() and release() come from two threads
        self._update_depth()
        for worker in self._workers.values():
            worker.thread.start()

    def send(self, verdict: Verdict) -> None:
        """Commit this decision's requests to the outbox and wake the delivery threads.

        A verdict for a canary version other than one whose rollback a receiver latches
        means the service's next release has started: the latch is released first.
        """
        with self._latch_lock:
            latched = set(self._latched.get(verdict.service, ()))
        if latched - {verdict.canary_version}:
            self.release(verdict.service, keep_version=verdict.canary_version,
                         why=f"canary version {verdict.canary_version}")
        decision = decision_id(verdict)
        requests = []
        latches = []
        for spec in self._specs:
            if not spec.wants(verdict.action):
                continue
            try:
                requests.append(spec.render(verdict, decision))
                if spec.latches and verdict.action is Action.ROLLBACK:
                    latches.append(spec.release_request(
                        verdict, release_id(verdict.service, verdict.canary_version)))
            except TemplateError as exc:
                logger.error("webhook %s: cannot render decision %s: %s", spec.name,
                             decision, exc)
        is_new = self.outbox.record(verdict.service, verdict.canary_version,
                                    verdict.action.value, decision, requests, latches=latches)
        if is_new and latches:
            with self._latch_lock:
                self._latched.setdefault(verdict.service, set()).add(verdict.canary_version)
        if not is_new:
            logger.debug("verdict %s/%s %s is the decision already recorded", verdict.service,
                         verdict.canary_version, verdict.action.value)
            return
        self._update_depth()
        for request in requests:
            self._workers[request.webhook].wake()

    def release(self, service: str, keep_version: str | None = None, why: str = "") -> int:
        """Release the rollbacks receivers latch for ``service`` (all but ``keep_version``'s):
        its next release started (``why``: a new canary version, a new Flagger revision).
        Thread-safe; returns the number of release requests queued."""
        with self._latch_lock:
            requests = self.outbox.release(service, keep_version)
            kept = {v for v in self._latched.pop(service, set()) if v == keep_version}
            if kept:
                self._latched[service] = kept
        for request in requests:
            logger.info("webhook %s: releasing the latched rollback of %s (%s): decision %s",
                        request.webhook, service, why or "next release", request.decision_id)
            self._workers[request.webhook].wake()
        if requests:
            self._update_depth()
        return len(requests)

    def pending(self) -> int:
        """Requests not yet delivered (nor given up) for the configured webhooks."""
        return self.outbox.count("pending", self._names)

    def changed(self, gave_up: bool = False) -> None:
        """Called by delivery threads after each attempt (and when one gives up)."""
        self._update_depth()
        with self._changed:
            if gave_up:
                self.gave_up += 1
            self._changed.notify_all()

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` (real time) until nothing is pending.

        True when everything was delivered: False on timeout, and also when a request was
        given up (permanent rejection or ``retry.max_attempts``) since this dispatcher started.
        """
        if self._closed:
            return False
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                if self.pending() == 0:
                    return self.gave_up == 0
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))

    def close(self) -> None:
        """Stop the delivery threads (an attempt in flight may take up to its timeout)."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers.values():
            worker.stop()
        for worker in self._workers.values():
            worker.thread.join(worker.spec.config.timeout_s + 1.0)
        self.outbox.close()

    def _update_depth(self) -> None:
        self.metrics.outbox_depth.set(self.pending())
