"""Webhook send cost on the consuming thread, with healthy, slow and dead receivers.

    python benchmarks/webhook_send.py [--decisions 200] [--slow-ms 20]

``WebhookDispatcher.send`` is what the pipeline pays per verdict change: render the requests
and commit them to the SQLite outbox (WAL, synchronous=FULL) before returning; delivery runs
on other threads. Each row sends N distinct decisions to two webhooks and reports the time
send() took (p50 / p99 / max), then how long the deliveries took to drain. The "slow" row's
receiver holds every request for --slow-ms; the "down" row's port is closed (deliveries stay
in the outbox). Prints one table.
"""

from __future__ import annotations

import argparse
import logging
import math
import socket
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from canarywatch.actions.testing import Reply, WebhookReceiver
from canarywatch.actions.webhooks import WebhookDispatcher
from canarywatch.config import ActionsConfig, RetryConfig, WebhookConfig
from canarywatch.events import Action, Reason, Signal, Verdict
from canarywatch.metrics import create_metrics


def _verdict(i: int) -> Verdict:
    reason = Reason(signal=Signal.LOG_SIGNATURE, summary=f"new ERROR template {i}", failed=True)
    action = Action.ROLLBACK if i % 2 else Action.CONTINUE
    return Verdict(service=f"svc-{i % 7}", baseline_version="1", canary_version=f"2.{i}",
                   action=action, at_unix_nano=1_795_000_000_000_000_000 + i, score=0.1,
                   reasons=(reason,))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(label: str, url: str, decisions: int) -> tuple[str, float, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        hooks = (WebhookConfig(name="a", url=url, on=("change",), timeout_s=30),
                 WebhookConfig(name="b", url=url, preset="chat", on=("change",), timeout_s=30))
        config = ActionsConfig(webhooks=hooks, retry=RetryConfig(base_delay_s=0.5))
        d = WebhookDispatcher(config, Path(tmp), create_metrics(CollectorRegistry()))
        took_us = []
        started = time.perf_counter()
        for i in range(decisions):
            t0 = time.perf_counter()
            d.send(_verdict(i))
            took_us.append((time.perf_counter() - t0) * 1e6)
        drained = d.flush(120.0) if label != "down" else False
        drain_s = time.perf_counter() - started if drained else float("nan")
        d.close()
    took_us.sort()
    p99 = took_us[min(len(took_us) - 1, int(len(took_us) * 0.99))]
    return label, statistics.median(took_us), p99, took_us[-1], drain_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--slow-ms", type=float, default=20.0)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the "down" row's retry warnings are expected
    rows = []
    with WebhookReceiver() as fast:
        rows.append(run("healthy", fast.url, args.decisions))
    slow_replies = [Reply(200, delay_s=args.slow_ms / 1000) for _ in range(2 * args.decisions)]
    with WebhookReceiver(slow_replies) as slow:
        rows.append(run("slow", slow.url, args.decisions))
    rows.append(run("down", f"http://127.0.0.1:{_closed_port()}/", args.decisions))
    print(f"{'receiver':<10}{'decisions':>10}{'send p50 us':>13}{'send p99 us':>13}"
          f"{'send max us':>13}{'drained in s':>14}")
    for label, p50, p99, worst, drain in rows:
        drained = "pending" if math.isnan(drain) else f"{drain:.2f}"
        print(f"{label:<10}{args.decisions:>10}{p50:>13.0f}{p99:>13.0f}{worst:>13.0f}"
              f"{drained:>14}")


if __name__ == "__main__":
    main()
